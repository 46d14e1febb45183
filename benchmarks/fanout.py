"""4. Fan-out efficiency and 5. against a sequential ``requests`` loop.

2,000 per-device locks (``epmm.ops.fan_out("lock", ...)``) against the simulator (child
process, 50 ms latency per request) at concurrency 16, 64 and 256: achieved throughput over
the ideal ``concurrency / latency``. Then the public clients' way: a ``requests.Session``
sending one PUT after another; 200 sequential locks are timed and extrapolated to 2,000.
"""

from __future__ import annotations

import asyncio
import time

import requests as http

from epmm_async import EpmmClient

from .fleetsel import lockable, pick
from .harness import Result, sim_process, spread

LATENCY = 0.05
N = 2000
SEQ_SAMPLE = 200
ROUNDS = 3
SEQ_ROUNDS = 3
LEVELS = (16, 64, 256)
COMPARE_AT = 64
REASON = "benchmark lock"


async def _fan_out(url: str, user: str, pw: str, uuids: list[str], c: int) -> float:
    async with EpmmClient(url, username=user, password=pw,
                          connection_limit=max(100, c)) as epmm:
        t0 = time.perf_counter()
        report = await epmm.ops.fan_out("lock", uuids, reason=REASON, concurrency=c)
        elapsed = time.perf_counter() - t0
    assert report.all_succeeded, report.counts
    return elapsed


def _sequential(url: str, user: str, pw: str, uuids: list[str]) -> float:
    with http.Session() as s:
        s.auth = (user, pw)
        s.headers["Accept"] = "application/json"
        t0 = time.perf_counter()
        for u in uuids:
            r = s.put(f"{url}/api/v1/dm/devices/lock/{u}", params={"Reason": REASON})
            r.raise_for_status()
            r.content  # noqa: B018
        return time.perf_counter() - t0


def run() -> list[Result]:
    uuids = pick(int(N * 1.4), N, lockable)
    out: list[Result] = []
    with sim_process(int(N * 1.4), "--latency", str(LATENCY)) as (url, user, pw):
        asyncio.run(_fan_out(url, user, pw, uuids[:100], 16))  # warm-up
        for c in LEVELS:
            ideal = c / LATENCY
            effs: list[float] = []
            rates: list[float] = []
            for _ in range(ROUNDS):
                rate = N / asyncio.run(_fan_out(url, user, pw, uuids, c))
                rates.append(rate)
                effs.append(rate / ideal)
            eff = spread(effs)
            out.append(Result(
                name=f"fanout_c{c}",
                title=f"Fan-out 2,000 locks, concurrency {c}",
                ratio=eff,
                ratio_meaning=f"achieved locks/s / ideal ({ideal:.0f}/s = {c} / {LATENCY}s)",
                target=">= 0.80" if c == COMPARE_AT else None,
                met=eff.median >= 0.8 if c == COMPARE_AT else None,
                figures={"locks_per_s": round(spread(rates).median), "ideal_per_s": ideal},
                rounds=ROUNDS,
            ))
        speedups: list[float] = []
        seq_rates: list[float] = []
        ours_rates: list[float] = []
        for i in range(SEQ_ROUNDS):
            sample = uuids[i * SEQ_SAMPLE : (i + 1) * SEQ_SAMPLE]
            seq = _sequential(url, user, pw, sample) * (N / SEQ_SAMPLE)
            ours = asyncio.run(_fan_out(url, user, pw, uuids, COMPARE_AT))
            speedups.append(seq / ours)
            seq_rates.append(N / seq)
            ours_rates.append(N / ours)
    sp = spread(speedups)
    out.append(Result(
        name="vs_sequential",
        title=f"2,000 locks: fan-out (c={COMPARE_AT}) vs sequential requests",
        ratio=sp,
        ratio_meaning="sequential requests time (200 timed, x10) / ours time (higher is better)",
        target=">= 20x",
        met=sp.median >= 20,
        figures={"sequential_locks_per_s": round(spread(seq_rates).median, 1),
                 "ours_locks_per_s": round(spread(ours_rates).median)},
        rounds=SEQ_ROUNDS,
        notes=f"sequential: {SEQ_SAMPLE} locks timed per round, extrapolated to {N}",
    ))
    return out
