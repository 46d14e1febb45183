"""3. Per-request overhead: client CPU per ``epmm.devices.lock(uuid, reason=...)`` against a
server (child process) that answers at once, vs a bare aiohttp loop doing the same HTTP
exchange (one reused session, same method/URL/headers, body read). CPU is
``time.process_time()`` of this process only: the server's CPU is not counted."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from epmm_async import EpmmClient

from .harness import Result, child_process, free_port, run_rounds_async, spread

NAME = "overhead"
ROUNDS = 5
N = 2000
TARGET = 1.5
UUID = "727afb16-327f-40cf-bf34-fd2fee389193"
REASON = "benchmark lock"


def run() -> Result:
    port = free_port()
    with child_process(["-m", "benchmarks._lock_server", str(port)], port):
        return asyncio.run(_run(f"http://127.0.0.1:{port}"))


async def _run(url: str) -> Result:
    async with EpmmClient(url, username="admin", password="pw") as epmm:
        auth = epmm.transport.credentials.header()
        async with aiohttp.ClientSession(headers={"User-Agent": "bench"}) as session:
            target = f"{url}/api/v1/dm/devices/lock/{UUID}"
            headers = {"Authorization": auth, "Accept": "application/json"}

            async def ours() -> float:
                t0 = time.process_time()
                for _ in range(N):
                    await epmm.devices.lock(UUID, reason=REASON)
                return time.process_time() - t0

            async def bare() -> float:
                t0 = time.process_time()
                for _ in range(N):
                    async with session.put(target, params={"Reason": REASON},
                                           headers=headers) as resp:
                        await resp.read()
                return time.process_time() - t0

            await ours()  # warm both connections and caches
            await bare()
            a, b = await run_rounds_async(ROUNDS, ours, bare)
    ratios = spread([x / y for x, y in zip(a, b, strict=True)])
    return Result(
        name=NAME,
        title="Per-request client CPU (lock)",
        ratio=ratios,
        ratio_meaning="ours CPU per request / bare aiohttp CPU per request (lower is better)",
        target=f"<= {TARGET}x",
        met=ratios.median <= TARGET,
        figures={
            "ours_us_per_request": round(spread(a).median / N * 1e6, 1),
            "bare_us_per_request": round(spread(b).median / N * 1e6, 1),
        },
        rounds=ROUNDS,
    )
