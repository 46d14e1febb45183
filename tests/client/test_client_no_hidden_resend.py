"""A destructive request whose connection drops is sent once, by aiohttp too."""

from __future__ import annotations

from aiohttp import web
from loopback import serve

from epmm_async import ClientConfig, EpmmClient, RetryPolicy, TransportError

UUID = "8d711cdc-e93c-49b1-88d6-222f54132445"


async def test_a_dropped_wipe_on_a_reused_connection_is_not_resent() -> None:
    seen: list[str] = []

    async def get_labels(request: web.Request) -> web.Response:
        return web.json_response({"labels": {"label": []}})

    async def wipe(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        # Applied, then the connection dies before any answer.
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_get("/api/v1/dm/labels", get_labels)
    app.router.add_put("/api/v1/dm/devices/wipe/{uuid}", wipe)
    async with serve(app) as url, EpmmClient(
        url,
        username="u",
        password="p",
        config=ClientConfig(retry=RetryPolicy(initial_delay=0.001)),
    ) as epmm:
        await epmm.labels.list()  # a pooled keep-alive connection the wipe will reuse
        try:
            await epmm.devices.wipe(UUID)
        except TransportError as exc:
            assert exc.sent
        else:
            raise AssertionError("the dropped wipe should raise")
    assert len(seen) == 1
