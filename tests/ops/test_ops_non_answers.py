"""A 2xx that is not the API's answer is never read as SUCCEEDED (a login page's JSON)."""

from __future__ import annotations

import pytest
from aiohttp import web
from loopback import serve

from epmm_async import EpmmClient
from epmm_async.ops import OutcomeStatus

DEVICES = [f"00000000-0000-4000-8000-{i:012d}" for i in range(3)]


@pytest.mark.parametrize("body", [b"{}", b'{"error": "session expired, please log in"}'])
async def test_a_wipe_answered_with_a_non_answer_is_unknown_and_not_resent(body: bytes) -> None:
    received: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with serve(app) as url, EpmmClient(url, username="u", password="p") as epmm:
        report = await epmm.ops.fan_out("wipe", DEVICES)
    assert report.counts == {"unknown": 3}, report.counts
    assert all(o.status is OutcomeStatus.UNKNOWN for o in report.outcomes)
    assert len(received) == 3  # one request per device, none resent
