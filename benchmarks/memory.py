"""7. Memory at scale: tracemalloc peak in this (client) process while iterating a
100,000-device fleet page by page (``epmm.devices.iter(page_size=500)``) against a
10,000-device one. Both simulators run in child processes, so only the client's
allocations are traced."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

from epmm_async import EpmmClient

from .harness import Result, sim_process, spread

NAME = "memory"
ROUNDS = 3
SMALL, LARGE = 10_000, 100_000
TARGET = 1.2


async def _peak(url: str, user: str, pw: str) -> tuple[int, int]:
    async with EpmmClient(url, username=user, password=pw) as epmm:
        gc.collect()
        tracemalloc.start()
        count = 0
        async for _device in epmm.devices.iter(page_size=500):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, count


def run() -> Result:
    with sim_process(SMALL) as small, sim_process(LARGE, timeout=120) as large:
        ratios: list[float] = []
        peaks_s: list[float] = []
        peaks_l: list[float] = []
        counts = (0, 0)
        for i in range(ROUNDS):
            order = (small, large) if i % 2 == 0 else (large, small)
            got = {id(sim): asyncio.run(_peak(*sim)) for sim in order}
            (ps, cs), (pl, cl) = got[id(small)], got[id(large)]
            counts = (cs, cl)
            peaks_s.append(ps)
            peaks_l.append(pl)
            ratios.append(pl / ps)
    r = spread(ratios)
    return Result(
        name=NAME,
        title="Peak memory, iterate 100k vs 10k fleet",
        ratio=r,
        ratio_meaning="tracemalloc peak at 100k devices / at 10k (1.0 = flat)",
        target=f"<= {TARGET}x",
        met=r.median <= TARGET,
        figures={
            "peak_10k_mib": round(spread(peaks_s).median / 2**20, 2),
            "peak_100k_mib": round(spread(peaks_l).median / 2**20, 2),
            "devices_iterated": {"small": counts[0], "large": counts[1]},
        },
        rounds=ROUNDS,
    )
