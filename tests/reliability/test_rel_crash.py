"""Wipe jobs killed with SIGKILL at random moments mid-job and resumed from their journal:
every device ends wiped exactly once, or reported UNKNOWN and never resent.

Reuses the subprocess runner of the ops tests (tests/ops/crash_job.py, by path). Unlike the
time-based kills there, each kill here waits until the run has reported a random number of
outcomes, so it always lands mid-job (requests in flight, journal half written).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from epmm_async.ops import Journal, Outcome, OutcomeStatus
from epmm_async.simulator import Faults, Simulator

RUNNER = Path(__file__).parents[1] / "ops" / "crash_job.py"
RUNS: list[dict[str, object]] = []


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


async def run_once(
    sim: Simulator, args: list[str], report: Path, kill_at: int | None, rng: random.Random,
    concurrency: int,
) -> int:
    """Run the job; with ``kill_at``, SIGKILL it once ``report`` holds that many outcomes."""
    env = {**os.environ, "EPMM_URL": sim.url, "EPMM_USERNAME": sim.username,
           "EPMM_PASSWORD": sim.password, "JOB_CONCURRENCY": str(concurrency)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(RUNNER), *args, str(report), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        if kill_at is not None:
            deadline = time.monotonic() + 120
            while proc.returncode is None and time.monotonic() < deadline:
                if _lines(report) >= kill_at:
                    await asyncio.sleep(rng.uniform(0, 0.05))  # somewhere inside a request
                    if proc.returncode is None:
                        proc.send_signal(signal.SIGKILL)
                    break
                await asyncio.sleep(0.005)
        return await asyncio.wait_for(proc.wait(), 300)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def crash_and_resume(
    tmp: Path, *, devices: int, targets: int, mode: str, kills: int, seed: int,
    concurrency: int, latency: float,
) -> None:
    rng = random.Random(seed)
    async with Simulator(devices=devices, seed=seed, faults=Faults(latency=latency)) as sim:
        uuids = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"][:targets]
        assert len(uuids) == targets
        uuid_file = tmp / "uuids.txt"
        uuid_file.write_text("\n".join(uuids))
        journal = tmp / "job.journal"
        action = "WIPE" if mode == "bulk" else "wipe"
        args = [action, mode, str(journal), str(uuid_file)]
        killed = 0
        done_before = 0
        for k in range(kills):
            report = tmp / f"run{k}.jsonl"
            # Kill somewhere in the next part of the job (the carried-over outcomes come first).
            remaining = targets - done_before
            kill_at = done_before + rng.randint(1, max(2, remaining // (kills - k + 1)))
            code = await run_once(sim, args, report, kill_at, rng, concurrency)
            assert code == -signal.SIGKILL, f"run {k} was not killed mid-job (exit {code})"
            killed += 1
            done_before = _lines(report)
            assert done_before < targets
        final = tmp / "final.jsonl"
        assert await run_once(sim, args, final, None, rng, concurrency) == 0
        wipes = sim.ledger.actions("WIPE")
        # Counted from what the server RECEIVED (refused requests included): no device got a
        # second wipe after one that may have applied.
        assert sim.received.violations() == []
        received = sim.received.destructive_counts("WIPE")
    decoder = msgspec.json.Decoder(Outcome)
    outcomes = [decoder.decode(line) for line in final.read_bytes().splitlines()]
    by = {o.device: o for o in outcomes}
    assert len(outcomes) == len(by) == targets and set(by) == set(uuids)
    assert set(wipes) <= set(uuids)
    assert max(wipes.values()) == 1, "a device was wiped twice"
    assert set(received) <= set(uuids)
    # No faults here, so nothing is refused: every device received at most one wipe request.
    assert max(received.values()) == 1, "a device received two wipe requests"
    counts: Counter[str] = Counter()
    for uuid in uuids:
        o = by[uuid]
        counts[o.status.value] += 1
        if o.status is OutcomeStatus.SUCCEEDED:
            assert wipes[uuid] == 1
        else:
            # Only a request that may have reached the server is left unknown, never resent.
            assert o.status is OutcomeStatus.UNKNOWN, o
            assert o.from_journal, o
            assert wipes[uuid] <= 1
    carried = sum(o.from_journal for o in outcomes)
    assert carried > 0  # the killed runs' work was kept, not redone
    # No pending mark is lost: the journal still says pending for exactly the unknown ones.
    # One job, whichever mode runs it: its identity is the action and its parameters.
    snapshot = Journal.read(journal)
    assert dict(snapshot.identity) == {"action": "wipe", "reason": ""}
    assert snapshot.counts.get("pending", 0) == counts[OutcomeStatus.UNKNOWN.value]
    RUNS.append({"mode": mode, "devices": targets, "kills": killed, "counts": dict(counts),
                 "wiped": sum(wipes.values()), "from_journal": carried})
    print("\nCRASH RUN", RUNS[-1])


async def test_bulk_wipe_killed_several_times(tmp_path: Path) -> None:
    await crash_and_resume(tmp_path, devices=5000, targets=3000, mode="bulk", kills=3, seed=31,
                           concurrency=2, latency=0.15)


async def test_fan_out_wipe_killed_mid_job(tmp_path: Path) -> None:
    await crash_and_resume(tmp_path, devices=2000, targets=1500, mode="fan_out", kills=3,
                           seed=32, concurrency=8, latency=0.01)


@pytest.mark.slow
async def test_fan_out_wipe_10000_killed_and_resumed(tmp_path: Path) -> None:
    await crash_and_resume(tmp_path, devices=13_000, targets=10_000, mode="fan_out", kills=5,
                           seed=33, concurrency=16, latency=0.01)


@pytest.mark.slow
async def test_bulk_wipe_10000_killed_and_resumed(tmp_path: Path) -> None:
    await crash_and_resume(tmp_path, devices=13_000, targets=10_000, mode="bulk", kills=5,
                           seed=34, concurrency=2, latency=0.15)
