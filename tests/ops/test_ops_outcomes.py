"""How a failed request maps to an outcome: FAILED only when certainly not applied."""

from __future__ import annotations

import pytest
from aiohttp import web
from loopback import serve

from epmm_async import (
    BadRequestError,
    ClientConfig,
    ConnectError,
    DecodeError,
    DeviceNotFound,
    EpmmClient,
    EpmmError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TimeoutError,
    TransportError,
)
from epmm_async.errors import RedirectError
from epmm_async.ops import OutcomeStatus
from epmm_async.ops.outcomes import classify_error


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (DeviceNotFound(404, method="PUT", path="/x"), OutcomeStatus.INVALID, "not_found"),
        (
            ConnectError("refused", method="PUT", path="/x", sent=False),
            OutcomeStatus.FAILED,
            "connect_error",
        ),
        (TimeoutError("slow", method="PUT", path="/x", sent=True), OutcomeStatus.UNKNOWN, None),
        (TransportError("cut", method="PUT", path="/x", sent=True), OutcomeStatus.UNKNOWN, None),
        (ServerError(500), OutcomeStatus.UNKNOWN, "server_error"),
        # A gateway error says nothing about whether the backend acted.
        (ServerError(502), OutcomeStatus.UNKNOWN, "server_error"),
        (ServerError(504), OutcomeStatus.UNKNOWN, "server_error"),
        (ServerError(503), OutcomeStatus.UNKNOWN, "server_error"),
        # 503 with Retry-After: the server shed the load, it did not act.
        (ServerError(503, retry_after=5.0), OutcomeStatus.FAILED, "server_error"),
        (RateLimitedError(429), OutcomeStatus.FAILED, "rate_limited"),
        (BadRequestError(400), OutcomeStatus.FAILED, None),
        (RedirectError(302, location="https://h/login"), OutcomeStatus.FAILED, "redirected"),
        (DecodeError("garbled"), OutcomeStatus.UNKNOWN, None),
    ],
)
def test_classify(error: EpmmError, status: OutcomeStatus, reason: str | None) -> None:
    got_status, got_reason = classify_error(error)
    assert got_status is status
    if reason is not None:
        assert got_reason == reason


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Device 8d711cdc-e93c-49b1-88d6-222f54132445 is wiped", "wiped"),
        ("Device 8d711cdc-e93c-49b1-88d6-222f54132445 is retired", "retired"),
        ("Action not allowed for this device", "refused"),
    ],
)
def test_a_per_device_refusal_is_invalid_with_the_servers_reason(
    message: str, reason: str
) -> None:
    error = BadRequestError(400, (message,), method="PUT", path="/x")
    assert classify_error(error, per_device=True) == (OutcomeStatus.INVALID, reason)
    # The same 400 about a whole request (bulk) is not about one device's state.
    assert classify_error(error)[0] is OutcomeStatus.FAILED


def test_an_earlier_attempt_that_may_have_applied_makes_it_unknown() -> None:
    error = ServerError(503, retry_after=5.0)
    assert classify_error(error)[0] is OutcomeStatus.FAILED
    error.earlier_attempt_may_have_applied = True
    assert classify_error(error)[0] is OutcomeStatus.UNKNOWN
    refusal = BadRequestError(400, ("Device is wiped",))
    refusal.earlier_attempt_may_have_applied = True
    assert classify_error(refusal, per_device=True)[0] is OutcomeStatus.UNKNOWN


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
        url,
        username="u",
        password="p",
        config=ClientConfig(retry=retry),
    ) as epmm:
        report = await epmm.ops.fan_out(
            "lock", ["8d711cdc-e93c-49b1-88d6-222f54132445"], reason="r"
        )
    assert calls == 3
    (outcome,) = report.outcomes
    assert outcome.http_status == 503
    assert outcome.status is OutcomeStatus.UNKNOWN
