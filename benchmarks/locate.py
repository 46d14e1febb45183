"""8. Locate-now: 1,000 devices (online, not iOS, ACTIVE) whose fixes arrive after
U[2 s, 60 s] x ``time_scale`` 0.1 = 0.2-6 s. Total time of ``epmm.ops.locate_now`` over the
slowest fix's arrival (the newest ``capturedAt`` minus the start), and requests per device
(1 locate-now request + polls, from the outcomes). Simulator in a child process."""

from __future__ import annotations

import asyncio
import time

from epmm_async import EpmmClient
from epmm_async.enums import DeviceStatus
from epmm_async.ops import Freshness
from epmm_async.simulator import SimDevice

from .fleetsel import pick
from .harness import Result, sim_process, spread

NAME = "locate"
ROUNDS = 3
N = 1000
FLEET = 2500
INTERVAL = 0.5
DEADLINE = 15.0
TARGET = 1.5


def _eligible(d: SimDevice) -> bool:
    return d.kind != "ios" and d.online and d.status == DeviceStatus.ACTIVE


async def _round(url: str, user: str, pw: str, uuids: list[str]) -> tuple[float, float, float]:
    async with EpmmClient(url, username=user, password=pw) as epmm:
        wall0 = time.time()
        t0 = time.perf_counter()
        report = await epmm.ops.locate_now(uuids, deadline=DEADLINE, interval=INTERVAL)
        total = time.perf_counter() - t0
    fresh = [o for o in report.outcomes if o.freshness is Freshness.FRESH]
    assert len(fresh) == N, report.counts
    newest = max(o.location.captured_at for o in fresh if o.location and o.location.captured_at)
    slowest = newest.timestamp() - wall0
    requests = sum(1 + o.polls for o in report.outcomes) / N
    return total, max(slowest, 1e-3), requests


def run() -> Result:
    uuids = pick(FLEET, N, _eligible)
    with sim_process(FLEET, "--time-scale", "0.1") as sim:
        rows = [asyncio.run(_round(*sim, uuids)) for _ in range(ROUNDS)]
    ratios = spread([t / s for t, s, _ in rows])
    return Result(
        name=NAME,
        title="Locate-now 1,000 devices (fixes in 0.2-6 s)",
        ratio=ratios,
        ratio_meaning="total time / slowest fix arrival (lower is better; 1.0 = no waste)",
        target=f"<= {TARGET}x",
        met=ratios.median <= TARGET,
        figures={
            "total_s": round(spread([t for t, _, _ in rows]).median, 2),
            "slowest_fix_s": round(spread([s for _, s, _ in rows]).median, 2),
            "requests_per_device": round(spread([r for _, _, r in rows]).median, 2),
            "interval_s": INTERVAL,
        },
        rounds=ROUNDS,
    )
