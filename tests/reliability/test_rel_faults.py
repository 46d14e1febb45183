"""Jobs under injected faults: 503 + Retry-After, dropped connections, slow answers past the
read timeout, 429 bursts and a server restart mid-job. Every device ends with exactly one
terminal outcome and the simulator's ledger agrees with it."""

from __future__ import annotations

import time
from collections import Counter

import anyio
import pytest
from rel_support import active_uuids, check_against_ledger, client_for

from epmm_async import Timeouts
from epmm_async.ops import JobSettings, Outcome, OutcomeStatus, Progress
from epmm_async.simulator import Faults, Simulator

# The fault mix (the 429 rate is per request; each starts a burst of 4 more).
FAULTS = dict(
    error_rate=0.10,
    error_statuses=(503,),
    retry_after=0.01,
    rate_limit_rate=0.01,
    rate_limit_burst=4,
    drop_rate=0.05,
    slow_rate=0.02,
    slow_seconds=1.0,
)
READ_TIMEOUT = 0.5

RUNS: list[dict[str, object]] = []  # what each run saw, printed with -s for the docs table


async def run_faulted(
    *,
    devices: int,
    action: str,
    mode: str,
    targets: int | None,
    seed: int,
    restart: bool = True,
    concurrency: int = 16,
) -> tuple[list[Outcome], list[str], Counter[str], Counter[str], Simulator]:
    async with Simulator(devices=devices, seed=seed,
                         faults=Faults(seed=seed, **FAULTS)) as sim:  # type: ignore[arg-type]
        if mode == "bulk":
            uuids = list(sim.fleet.devices)[:targets] if targets else list(sim.fleet.devices)
        else:
            uuids = active_uuids(sim, targets)
        third = anyio.Event()
        restarted = anyio.Event()
        began = anyio.Event()

        def progress(p: Progress) -> None:
            if p.done >= p.total // 3:
                third.set()

        settings = JobSettings(concurrency=concurrency, max_consecutive_outages=100_000,
                               progress=progress)
        outcomes: list[Outcome] = []
        async with client_for(sim, timeouts=Timeouts(connect=2, read=READ_TIMEOUT, total=10),
                              connection_limit=concurrency) as epmm:

            async def restarter() -> None:
                await third.wait()
                began.set()
                await sim.restart(downtime=0.3)
                restarted.set()

            async def job() -> None:
                if mode == "bulk":
                    stream = epmm.ops.stream_bulk(action.upper(), uuids, settings=settings,
                                                  max_uuids=100)
                else:
                    stream = epmm.ops.stream_fan_out(
                        action, uuids, settings=settings,
                        reason="reliability" if action == "lock" else None)
                async for o in stream:
                    outcomes.append(o)

            async with anyio.create_task_group() as tg:
                if restart:
                    tg.start_soon(restarter)
                await job()
                if not began.is_set():
                    tg.cancel_scope.cancel()
            if restart:
                # The server went down while the job ran (a short job may end before it is
                # back: its last requests then failed to connect, which is what is tested).
                assert began.is_set() and restarted.is_set(), "no restart during the job"
        applied = sim.ledger.actions(action.upper())
        faults = Counter(sim.stats.faults)
        return outcomes, uuids, applied, faults, sim


@pytest.mark.parametrize(
    ("action", "mode", "devices", "targets"),
    [
        ("lock", "fan_out", 1400, 1000),
        ("wipe", "fan_out", 1400, 1000),
        ("lock", "bulk", 10_000, None),
        ("wipe", "bulk", 10_000, None),
    ],
)
async def test_job_under_faults(action: str, mode: str, devices: int, targets: int | None) -> None:
    await _check(action, mode, devices, targets, seed=21)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("action", "mode", "devices", "targets"),
    [
        ("lock", "fan_out", 7000, 5000),
        ("wipe", "fan_out", 7000, 5000),
        ("lock", "bulk", 50_000, None),
        ("wipe", "bulk", 50_000, None),
    ],
)
async def test_job_under_faults_full_size(
    action: str, mode: str, devices: int, targets: int | None
) -> None:
    await _check(action, mode, devices, targets, seed=22)


async def _check(action: str, mode: str, devices: int, targets: int | None, seed: int) -> None:
    started = time.monotonic()
    outcomes, uuids, applied, faults, sim = await run_faulted(
        devices=devices, action=action, mode=mode, targets=targets, seed=seed
    )
    destructive = action == "wipe"
    counts = check_against_ledger(outcomes, uuids, applied, destructive=destructive)
    # Every kind of fault really fired during the job.
    for kind in ("error", "rate_limit", "drop", "slow"):
        assert faults[kind] > 0, (kind, faults)
    # The retried (idempotent) jobs get nearly everything through despite the faults.
    ok = counts[OutcomeStatus.SUCCEEDED.value]
    if not destructive:
        eligible = len(uuids) - counts[OutcomeStatus.INVALID.value]
        assert ok >= 0.95 * eligible, counts
        assert counts[OutcomeStatus.UNKNOWN.value] <= 0.05 * len(uuids), counts
    else:
        # A wipe is resent only after an attempt that was certainly not applied (503 with
        # Retry-After, 429, connection refused): counted from what the server RECEIVED,
        # refused requests included, no device got a wipe after one that may have applied.
        assert sim.received.violations() == []
        received = sim.received.destructive_counts("WIPE")
        assert set(received) <= set(uuids)
        resent = {u for u, n in received.items() if n > 1}
        assert resent, "no wipe was refused and resent: the faults did not exercise retries"
        for u in resent:
            # Every earlier attempt was refused; the device still got one wipe at most.
            assert applied[u] <= 1
            assert all(
                e.certainly_refused for e in sim.received.destructive_for(u)[:-1]
            ), sim.received.destructive_for(u)
        # Drops and slow answers after sending leave UNKNOWN (never resent), and no FAILED
        # wipe is in the ledger (checked above): most wipes still get through.
        assert ok > 0.5 * len(uuids), counts
        assert counts[OutcomeStatus.UNKNOWN.value] > 0, counts
    RUNS.append({"action": action, "mode": mode, "devices": len(uuids), "counts": dict(counts),
                 "faults": dict(faults), "seconds": round(time.monotonic() - started, 1)})
    print("\nFAULT RUN", RUNS[-1])
