"""3. Per-request client CPU: ``epmm.devices.lock(uuid, reason=...)`` against a bare aiohttp
loop doing the same HTTP exchange.

The server is ``benchmarks._lock_server`` in a child process (a raw asyncio protocol that
answers pre-built bytes at once), so its CPU is not counted and it answers in microseconds:
the client's own cost is not diluted by waiting for a slow server. CPU is
``time.process_time()`` of this process (user + system, all threads).

The bare side is what an application would write with aiohttp alone, sending **the same
bytes**: one ``ClientSession`` with the library's session settings (the default
:class:`~epmm_async.Timeouts`: aiohttp's timers are paid by both sides), ``session.put(url)``
with the query already encoded (``Reason=benchmark%20lock``), one prebuilt header dict
(``Authorization`` Basic, ``Accept``, ``User-Agent``), ``allow_redirects=False``, ``read()``, a
status check and a typed ``msgspec`` decode of the answer. Before measuring, one request of
each side goes to an in-process capture server and the two request heads are compared: the
benchmark refuses to run if they differ in anything but header order (the result's notes say
whether they were identical byte for byte).

Measurement: each round interleaves ``BLOCKS`` blocks of ``BLOCK`` requests per side
(alternating which side goes first), garbage collected before the round and left on during
it (the garbage a side makes is its cost); the round's ratio is ours CPU / bare CPU summed
over its blocks. Fine interleaving is what keeps the ratio steady on a shared 2-core
machine, where the absolute figures move by half between rounds. Reported: the median of
the rounds' ratios and their min-max. Sequential (one request at a time) is the headline;
the same with ``CONCURRENT`` requests in flight (one task each, one shared client or
session) is a second figure.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import time
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec

from epmm_async import EpmmClient, Timeouts, __version__

from .harness import Result, child_process, free_port, load_average, spread

NAME = "overhead"
ROUNDS = 7
BLOCK = 50
BLOCKS = 20
CONCURRENT = 16
CONCURRENT_PER_TASK = 8  # a block: 16 tasks x 8 locks = 128 requests
CONCURRENT_BLOCKS = 8
TARGET = 1.2
UUID = "727afb16-327f-40cf-bf34-fd2fee389193"
REASON = "benchmark lock"
USER, PASSWORD = "admin", "pw"
QUERY = "Reason=benchmark%20lock"  # as the library encodes it: space as %20, never '+'


class BareLock(msgspec.Struct):
    """The lock answer, as a bare msgspec user would type it."""

    messages: dict[str, str | list[str]] | None = None
    deviceUuid: str | None = None


_DECODER = msgspec.json.Decoder(BareLock)


def run() -> list[Result]:
    port = free_port()
    with child_process(["-m", "benchmarks._lock_server", str(port)], port):
        return asyncio.run(_run(f"http://127.0.0.1:{port}"))


def bare_session(connection_limit: int = 100) -> aiohttp.ClientSession:
    """A session with the library's settings: default timeouts, pool size."""
    t = Timeouts()
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connection_limit),
        timeout=aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read),
    )


def bare_headers() -> dict[str, str]:
    """The headers the library sends with a lock (pre-emptive Basic auth), built once."""
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}", "Accept": "application/json",
            "User-Agent": f"epmm-async/{__version__}"}


def bare_target(url: str, uuid: str = UUID) -> str:
    return f"{url}/api/v1/dm/devices/lock/{uuid}?{QUERY}"


async def bare_lock(session: aiohttp.ClientSession, target: str, headers: dict[str, str]
                    ) -> BareLock:
    """One bare lock: send, read, check, decode."""
    async with session.put(target, headers=headers, allow_redirects=False) as resp:
        body = await resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"bare lock answered {resp.status}")
    return _DECODER.decode(body)


def _head_lines(head: bytes) -> tuple[bytes, list[bytes]]:
    line, *headers = head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    return line, sorted(h.lower() for h in headers)


async def same_bytes_check() -> tuple[bytes, bool]:
    """Send one lock from each side to a capture server in this process; return the request
    head ours sent and whether the two were identical byte for byte. Raise if they differ in
    more than header order (a benchmark of different exchanges would measure nothing)."""
    from ._lock_server import ANSWER

    heads: list[bytes] = []

    class Capture(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            heads.append(data)
            self.transport.write(ANSWER)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Capture, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        async with EpmmClient(url, username=USER, password=PASSWORD) as epmm:
            await epmm.devices.lock(UUID, reason=REASON)
        async with bare_session() as session:
            await bare_lock(session, bare_target(url), bare_headers())
    finally:
        server.close()
        await server.wait_closed()
    if len(heads) != 2 or _head_lines(heads[0]) != _head_lines(heads[1]):
        raise RuntimeError(f"the two sides send different requests:\nours: {heads[:1]!r}\n"
                           f"bare: {heads[1:]!r}")
    return heads[0], heads[0] == heads[1]


async def _interleaved(
    rounds: int, blocks: int, ours: Callable[[], Awaitable[None]],
    bare: Callable[[], Awaitable[None]],
) -> tuple[list[float], list[float], list[float]]:
    """Per round: ours CPU, bare CPU (seconds, summed over the blocks) and their ratio."""
    a: list[float] = []
    b: list[float] = []
    ratios: list[float] = []
    for r in range(rounds):
        gc.collect()
        cpu = {ours: 0.0, bare: 0.0}
        for k in range(blocks):
            for side in (ours, bare) if (r + k) % 2 == 0 else (bare, ours):
                t0 = time.process_time()
                await side()
                cpu[side] += time.process_time() - t0
        a.append(cpu[ours])
        b.append(cpu[bare])
        ratios.append(cpu[ours] / cpu[bare])
    return a, b, ratios


async def _run(url: str) -> list[Result]:
    head, identical = await same_bytes_check()
    out: list[Result] = []
    async with EpmmClient(url, username=USER, password=PASSWORD) as epmm, \
            bare_session() as session:
        target = bare_target(url)
        headers = bare_headers()

        async def ours_one(n: int) -> None:
            for _ in range(n):
                await epmm.devices.lock(UUID, reason=REASON)

        async def bare_one(n: int) -> None:
            for _ in range(n):
                await bare_lock(session, target, headers)

        for width in (1, CONCURRENT):
            per_task = BLOCK if width == 1 else CONCURRENT_PER_TASK
            size = per_task * width
            blocks = BLOCKS if width == 1 else CONCURRENT_BLOCKS

            async def ours(w: int = width, n: int = per_task) -> None:
                if w == 1:
                    await ours_one(n)
                else:
                    await asyncio.gather(*(ours_one(n) for _ in range(w)))

            async def bare(w: int = width, n: int = per_task) -> None:
                if w == 1:
                    await bare_one(n)
                else:
                    await asyncio.gather(*(bare_one(n) for _ in range(w)))

            # Warm both: connections opened (as many as tasks), caches filled.
            await ours()
            await bare()
            a, b, ratios = await _interleaved(ROUNDS, blocks, ours, bare)
            n = size * blocks
            r = spread(ratios)
            headline = width == 1
            out.append(Result(
                name=NAME if headline else f"{NAME}_c{width}",
                title=("Per-request client CPU (lock), sequential" if headline else
                       f"Per-request client CPU (lock), {width} in flight"),
                ratio=r,
                ratio_meaning="ours CPU per lock / bare aiohttp CPU per lock, same bytes "
                              "(lower is better)",
                target=f"<= {TARGET}x" if headline else None,
                met=r.median <= TARGET if headline else None,
                figures={
                    "ours_us_per_request": round(spread(a).median / n * 1e6, 1),
                    "bare_us_per_request": round(spread(b).median / n * 1e6, 1),
                    "ours_minus_bare_us": round(
                        spread([x - y for x, y in zip(a, b, strict=True)]).median / n * 1e6, 1
                    ),
                    "requests_per_side_per_round": n,
                    "load_avg_1m": load_average(),
                },
                rounds=ROUNDS,
                notes=(f"request heads checked equal ({len(head)} bytes"
                       f"{', byte for byte' if identical else ', header order aside'})"),
            ))
    return out
