"""Halting at the edges a review found: a call of several requests, a connection held by an
export, and a client closed with several jobs running. Each counts what the server received."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import anyio
from aiohttp import web
from loopback import serve

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.ops import JobSettings, OutcomeStatus

API = "/api/v1/dm"


def _uuid(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-{i:012x}"


def _client(url: str, **options: object) -> EpmmClient:
    options.setdefault("retry", RetryPolicy(initial_delay=0.005, max_delay=0.05, deadline=5))
    return EpmmClient(url, username="admin", password="pw",
                      config=ClientConfig(**options))  # type: ignore[arg-type]


class _Log:
    def __init__(self) -> None:
        self.hits: list[tuple[float, str, str]] = []

    def add(self, request: web.Request) -> None:
        self.hits.append((time.monotonic(), request.method, request.path))


async def test_a_call_whose_wipe_went_through_is_never_resent_after_a_stop(
    tmp_path: Path,
) -> None:
    """The call wipes, then reads the device back; a stop lands while the read waits for
    the job's rate. The wipe went through, so the device is UNKNOWN (not CANCELLED or
    FAILED, which would be resent) and a second run sends no second wipe."""
    log = _Log()

    async def wipe(request: web.Request) -> web.Response:
        log.add(request)
        return web.json_response({"deviceUuid": request.match_info["u"]})

    async def get(request: web.Request) -> web.Response:
        log.add(request)
        return web.json_response({"device": {"uuid": request.match_info["u"]}})

    app = web.Application()
    app.router.add_put(API + "/devices/wipe/{u}", wipe)
    app.router.add_get(API + "/devices/{u}", get)
    journal = tmp_path / "wipe.journal"
    async with serve(app) as url, _client(url) as epmm:

        async def call(device: object) -> object:
            result = await epmm.devices.wipe(device)  # type: ignore[arg-type]
            await epmm.devices.get(str(device))  # paced by the job's rate: the stop lands here
            return result

        for _ in range(2):
            stop = anyio.Event()
            seen = []

            async def consume(stop: anyio.Event = stop, seen: list = seen) -> None:  # type: ignore[type-arg]
                async for outcome in epmm.ops.stream_each(
                        "wipe", [_uuid(1)], call,  # type: ignore[arg-type]
                        settings=JobSettings(stop=stop, journal=str(journal)), rate=1.0):
                    seen.append(outcome)

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.3)
            stop.set()
            await task
            assert [o.status for o in seen] == [OutcomeStatus.UNKNOWN], seen
    assert sum(1 for _, method, _p in log.hits if method == "PUT") == 1


async def test_no_request_leaves_after_a_stop_while_an_export_holds_the_connection() -> None:
    """With one pooled connection held by a slow export, a job's wipe waits for it where the
    stop can end the wait; it never leaves after the stop."""
    log = _Log()

    async def csv(request: web.Request) -> web.StreamResponse:
        log.add(request)
        response = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await response.prepare(request)
        await response.write(b'"Device UUID","Wi-Fi MAC"\n')
        for i in range(10):
            await asyncio.sleep(0.1)
            await response.write(f'"{_uuid(100 + i)}","02AABB0000{i:02X}"\n'.encode())
        await response.write_eof()
        return response

    async def wipe(request: web.Request) -> web.Response:
        log.add(request)
        return web.json_response({"deviceUuid": request.match_info["u"]})

    app = web.Application()
    app.router.add_get(API + "/devices.csv", csv)
    app.router.add_put(API + "/devices/wipe/{u}", wipe)
    async with serve(app) as url, _client(url, connection_limit=1) as epmm:

        async def export() -> None:
            async for _ in epmm.devices.export_csv():
                pass

        exporting = asyncio.create_task(export())
        await asyncio.sleep(0.05)
        stop = anyio.Event()
        seen = []

        async def consume() -> None:
            async for outcome in epmm.ops.stream_fan_out(
                    "wipe", [_uuid(1)], settings=JobSettings(stop=stop)):
                seen.append(outcome)

        job = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        stop.set()
        await job
        await exporting
    assert [m for _, m, _p in log.hits if m == "PUT"] == []
    assert [o.status for o in seen] == [OutcomeStatus.CANCELLED]


async def test_closing_the_client_halts_every_job_before_waiting_for_any() -> None:
    """Job A has a slow wipe on the wire; job B locks devices one by one. Closing the client
    must stop B at once, not after A's wipe has finished."""
    log = _Log()

    async def wipe(request: web.Request) -> web.Response:
        log.add(request)
        await asyncio.sleep(1.0)
        return web.json_response({"deviceUuid": request.match_info["u"]})

    async def lock(request: web.Request) -> web.Response:
        log.add(request)
        await asyncio.sleep(0.02)
        return web.json_response({"deviceUuid": request.match_info["u"]})

    app = web.Application()
    app.router.add_put(API + "/devices/wipe/{u}", wipe)
    app.router.add_put(API + "/devices/lock/{u}", lock)
    async with serve(app) as url:
        epmm = await _client(url).open()

        async def consume(stream: object) -> None:
            try:
                async for _ in stream:  # type: ignore[attr-defined]
                    pass
            except Exception:  # the close cuts the streams: not what is tested
                pass

        a = asyncio.create_task(consume(epmm.ops.stream_fan_out("wipe", [_uuid(1)])))
        await asyncio.sleep(0.1)
        b = asyncio.create_task(consume(epmm.ops.stream_fan_out(
            "lock", [_uuid(i) for i in range(10, 200)], reason="x", concurrency=1)))
        await asyncio.sleep(0.2)
        closing = time.monotonic()
        await epmm.close()
        await asyncio.gather(a, b)
    late = [p for at, _m, p in log.hits if "/lock/" in p and at > closing + 0.05]
    assert late == []
