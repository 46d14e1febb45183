"""How a failed request maps to an outcome: FAILED only when certainly not applied."""

from __future__ import annotations

import pytest
from aiohttp import web
from loopback import serve

from epmm_async import (
    ApiError,
    BadRequestError,
    ConnectError,
    DecodeError,
    DeviceNotFound,
    EpmmClient,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TimeoutError,
    TransportError,
)
from epmm_async.ops import OutcomeStatus
from epmm_async.ops.outcomes import classify_error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DeviceNotFound(404, method="PUT", path="/x"), OutcomeStatus.INVALID),
        (ConnectError("refused", method="PUT", path="/x", sent=False), OutcomeStatus.FAILED),
        (TimeoutError("slow", method="PUT", path="/x", sent=True), OutcomeStatus.UNKNOWN),
        (TransportError("cut", method="PUT", path="/x", sent=True), OutcomeStatus.UNKNOWN),
        (ServerError(500), OutcomeStatus.UNKNOWN),
        (ServerError(503), OutcomeStatus.FAILED),
        (RateLimitedError(429), OutcomeStatus.FAILED),
        (BadRequestError(400), OutcomeStatus.FAILED),
        (DecodeError("garbled"), OutcomeStatus.UNKNOWN),
    ],
)
def test_classify(error: ApiError, status: OutcomeStatus) -> None:
    assert classify_error(error) is status


def test_an_earlier_attempt_that_may_have_applied_makes_it_unknown() -> None:
    error = ServerError(503)
    error.earlier_attempt_may_have_applied = True
    assert classify_error(error) is OutcomeStatus.UNKNOWN


async def test_transport_marks_a_retried_request_whose_first_attempt_was_cut() -> None:
    calls = 0

    async def lock(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:  # applied, then the connection is cut mid-answer
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = 1000
            await response.prepare(request)
            await response.write(b'{"messages"')
            assert request.transport is not None
            request.transport.close()
            return response
        return web.json_response({"messages": {"message": "busy"}}, status=503)

    app = web.Application()
    app.router.add_put("/api/v1/dm/devices/lock/{uuid}", lock)
    retry = RetryPolicy(attempts=3, initial_delay=0.001, max_delay=0.002)
    async with serve(app) as url, EpmmClient(
        url, username="u", password="p", retry=retry
    ) as epmm:
        report = await epmm.ops.fan_out(
            "lock", ["8d711cdc-e93c-49b1-88d6-222f54132445"], reason="r"
        )
    assert calls == 3
    (outcome,) = report.outcomes
    assert outcome.http_status == 503
    assert outcome.status is OutcomeStatus.UNKNOWN
