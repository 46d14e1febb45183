"""Resumable jobs: a job killed with SIGKILL resumes from its journal without acting twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from epmm_async import EpmmClient, ValidationError
from epmm_async.ops import JobSettings, Journal, Outcome, OutcomeStatus
from epmm_async.simulator import Faults, Simulator

MakeClient = Callable[..., EpmmClient]
RUNNER = Path(__file__).with_name("crash_job.py")


async def run_killed(
    sim: Simulator, args: list[str], kill_after: float | None, cwd: Path
) -> int | None:
    env = {
        **os.environ,
        "EPMM_URL": sim.url,
        "EPMM_USERNAME": sim.username,
        "EPMM_PASSWORD": sim.password,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(RUNNER), *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        if kill_after is not None:
            try:
                await asyncio.wait_for(proc.wait(), kill_after)
            except TimeoutError:
                proc.send_signal(signal.SIGKILL)
        return await asyncio.wait_for(proc.wait(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()


async def crash_and_resume(
    sim: Simulator, tmp: Path, action: str, mode: str, uuids: list[str], kills: list[float]
) -> list[Outcome]:
    uuid_file = tmp / "uuids.txt"
    uuid_file.write_text("\n".join(uuids))
    journal = tmp / "job.sqlite"
    report = tmp / "report.jsonl"
    args = [action, mode, str(journal), str(uuid_file), str(report)]
    for delay in kills:
        await run_killed(sim, args, delay, tmp)
    report.write_bytes(b"")  # the final run's report is the job's full account
    code = await run_killed(sim, args, None, tmp)
    assert code == 0
    decoder = msgspec.json.Decoder(Outcome)
    return [decoder.decode(line) for line in report.read_bytes().splitlines()]


async def test_wipe_killed_and_resumed_wipes_each_device_at_most_once(tmp_path: Path) -> None:
    async with Simulator(devices=1500, seed=9, faults=Faults(latency=0.01)) as sim:
        uuids = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"][:800]
        rng = random.Random(4)
        kills = [rng.uniform(0.8, 2.0) for _ in range(3)]
        outcomes = await crash_and_resume(sim, tmp_path, "wipe", "fan_out", uuids, kills)
        wipes = sim.ledger.actions("WIPE")
    assert sorted(o.device for o in outcomes) == sorted(uuids)  # one outcome per device
    assert max(wipes.values()) == 1  # no device wiped twice
    by = {o.device: o for o in outcomes}
    for uuid in uuids:
        if by[uuid].status is OutcomeStatus.SUCCEEDED:
            assert wipes[uuid] == 1
        else:
            # Only a request that may have reached the server is left unknown, and not resent.
            assert by[uuid].status is OutcomeStatus.UNKNOWN
    assert sum(1 for o in outcomes if o.from_journal) > 0  # earlier runs' work was kept


async def test_bulk_wipe_killed_and_resumed(tmp_path: Path) -> None:
    async with Simulator(devices=6000, seed=13, faults=Faults(latency=0.05)) as sim:
        uuids = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"][:4000]
        outcomes = await crash_and_resume(sim, tmp_path, "WIPE", "bulk", uuids, [1.2])
        wipes = sim.ledger.actions("WIPE")
    assert sorted(o.device for o in outcomes) == sorted(uuids)
    assert max(wipes.values()) == 1
    for o in outcomes:
        assert o.status in (OutcomeStatus.SUCCEEDED, OutcomeStatus.UNKNOWN)
        if o.status is OutcomeStatus.SUCCEEDED:
            assert wipes[o.device] == 1


async def test_second_run_skips_done_devices(
    sim: Simulator, make_client: MakeClient, tmp_path: Path
) -> None:
    targets = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"][:30]
    journal = str(tmp_path / "j.sqlite")
    async with make_client(sim) as epmm:
        first = await epmm.ops.fan_out("lock", targets[:20], reason="r",
                                       settings=JobSettings(journal=journal))
        second = await epmm.ops.fan_out("lock", targets, reason="r",
                                        settings=JobSettings(journal=journal))
    assert first.count(OutcomeStatus.SUCCEEDED) == 20
    assert second.total == 30
    assert sum(o.from_journal for o in second.outcomes) == 20
    assert set(sim.ledger.actions("LOCK").values()) == {1}


def test_journal_refuses_another_jobs_parameters(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path, "wipe", action="wipe", params={"reason": "lost"}).close()
    with pytest.raises(ValidationError, match="other parameters"):
        Journal(path, "wipe", action="wipe", params={"reason": "stolen"})


def test_pending_destructive_devices_resume_as_unknown(tmp_path: Path) -> None:
    from epmm_async.ops.journal import resume_decision

    journal = Journal(tmp_path / "j.sqlite", "wipe", action="wipe")
    journal.mark_pending(["a", "b"])
    journal.record([Outcome(device="b", action="wipe", status=OutcomeStatus.SUCCEEDED)])
    known = journal.load()
    a = resume_decision(known["a"], destructive=True, resend_unknown=False)
    assert a is not None and a.status is OutcomeStatus.UNKNOWN
    assert resume_decision(known["a"], destructive=True, resend_unknown=True) is None
    assert resume_decision(known["a"], destructive=False, resend_unknown=False) is None
    b = resume_decision(known["b"], destructive=True, resend_unknown=False)
    assert b is not None and b.status is OutcomeStatus.SUCCEEDED and b.from_journal
