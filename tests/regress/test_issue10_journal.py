"""Regression tests of the journal's promises (issue items 1, 2, 5 and 14).

Every count is what the server RECEIVED (refused requests included), not what it applied.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from regress_support import (
    FakeEpmm,
    Hit,
    ThreadServer,
    client,
    error_type,
    invoke,
    serving,
    squeeze,
    uuids,
)

from epmm_async import EpmmClient
from epmm_async.ops import JobSettings, OutcomeStatus

RUNNER = Path(__file__).with_name("regress_job.py")
SUCCEEDED = OutcomeStatus.SUCCEEDED
UNKNOWN = OutcomeStatus.UNKNOWN


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


async def _start_job(url: str, action: str, mode: str, journal: Path, devices: list[str],
                     report: Path, concurrency: int = 1) -> asyncio.subprocess.Process:
    uuid_file = report.with_suffix(".uuids")
    uuid_file.write_text("\n".join(devices))
    return await asyncio.create_subprocess_exec(
        sys.executable, str(RUNNER), url, action, mode, str(journal), str(uuid_file),
        str(report), str(concurrency),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )


# -- item 1 --------------------------------------------------------------------------------------


async def test_item01_second_run_in_another_task_fails_fast_and_sends_nothing(
    tmp_path: Path,
) -> None:
    """Item 1: "One run at a time per job: a second run (another process or task) fails fast
    with a clear error and sends nothing. A terminal record is never downgraded (SUCCEEDED/
    INVALID/UNKNOWN are never overwritten by a later FAILED or CANCELLED)". Seeded trials
    start the second run at a random point of the first."""
    journal_error = error_type("JournalError")
    for seed in range(4):
        rng = random.Random(seed)
        fake = FakeEpmm(delay=rng.uniform(0.01, 0.03))
        devices = uuids(20)
        journal = str(tmp_path / f"wipe-{seed}.journal")
        async with serving(fake) as url, client(url) as first, \
                client(url, user_agent="second-run") as second:
            run1 = asyncio.create_task(first.ops.fan_out(
                "wipe", devices, settings=JobSettings(journal=journal), concurrency=2))
            start_after = rng.randint(1, 8)
            await fake.wait_for(lambda f=fake, n=start_after: len(f.of("wipe")) >= n)
            try:
                started = time.monotonic()
                with pytest.raises(journal_error):
                    await second.ops.fan_out(
                        "wipe", devices, settings=JobSettings(journal=journal), concurrency=2)
                assert time.monotonic() - started < 5, "the second run did not fail fast"
            finally:
                report = await run1
            from_second = [h for h in fake.hits if h.headers.get("User-Agent") == "second-run"]
            assert from_second == [], f"seed {seed}: the second run sent {len(from_second)}"
            assert [o.status for o in report.outcomes] == [SUCCEEDED] * len(devices)
            assert max(fake.destructive_received().values()) == 1, "a device got two wipes"
            # The first run's records stand: the documented resume sends nothing.
            sent = len(fake.hits)
            again = await first.ops.fan_out("wipe", devices,
                                            settings=JobSettings(journal=journal))
            assert len(fake.hits) == sent, f"seed {seed}: the resume wiped again"
            assert all(o.status is SUCCEEDED and o.from_journal for o in again.outcomes)


async def test_item01_second_run_in_another_process_fails_fast_and_sends_nothing(
    tmp_path: Path,
) -> None:
    """Item 1: "Two runs of one job on one journal (two processes...) both act"; the fix:
    "a second run (another process or task) fails fast with a clear error and sends
    nothing"."""
    journal_error = error_type("JournalError")

    async def slow_subprocess(hit: Hit) -> None:
        if hit.headers.get("User-Agent") == "regress-subprocess":
            await asyncio.sleep(0.05)

    fake = FakeEpmm(answer=slow_subprocess)
    devices = uuids(30)
    journal = tmp_path / "wipe.journal"
    async with serving(fake) as url:
        proc = await _start_job(url, "wipe", "fan_out", journal, devices,
                                tmp_path / "first.jsonl")
        try:
            await fake.wait_for(lambda: len(fake.of("wipe")) >= 1, within=30)
            async with client(url, user_agent="second-run") as second:
                started = time.monotonic()
                with pytest.raises(journal_error):
                    await second.ops.fan_out(
                        "wipe", devices, settings=JobSettings(journal=str(journal)))
                assert time.monotonic() - started < 5, "the second run did not fail fast"
        finally:
            code = await asyncio.wait_for(proc.wait(), 60)
        assert code == 0, (await proc.stderr.read()).decode() if proc.stderr else code
        from_second = [h for h in fake.hits if h.headers.get("User-Agent") == "second-run"]
        assert from_second == [], f"the second run sent {len(from_second)} request(s)"
        received = fake.destructive_received()
        assert set(received) == set(devices) and max(received.values()) == 1


# -- item 2 --------------------------------------------------------------------------------------


async def test_item02_error_after_the_request_left_leaves_it_unknown_not_cancelled(
    tmp_path: Path,
) -> None:
    """Item 2: a failure after the request left (here the per-device call raising a
    non-EpmmError, the caller's own timeout) must not turn the pending mark into CANCELLED:
    "a unit whose request may have left is never recorded CANCELLED"; the resume does not
    wipe it again. Seeded trials vary the device that fails and the concurrency."""
    for seed in range(5):
        rng = random.Random(seed)
        fake = FakeEpmm(delay=rng.choice([0.0, 0.01]))
        devices = uuids(5)
        failing = rng.choice(devices)
        concurrency = rng.choice([1, 2, 3])
        journal = str(tmp_path / f"wipe-{seed}.journal")
        async with serving(fake) as url, client(url) as epmm:

            async def wipe_then_time_out(device: object, epmm: EpmmClient = epmm,
                                         failing: str = failing) -> object:
                result = await epmm.devices.wipe(device)  # type: ignore[arg-type]
                if str(device) == failing:
                    raise TimeoutError("the caller's own timeout, after the request left")
                return result

            try:
                async for _ in epmm.ops.stream_each(
                    "wipe", devices, wipe_then_time_out, destructive=True,
                    job_params={"reason": ""}, settings=JobSettings(journal=journal),
                    concurrency=concurrency,
                ):
                    pass
            except Exception:  # the error may end the stream; what matters is the journal
                pass
            assert fake.destructive_received()[failing] == 1

            resumed = await epmm.ops.each(
                "wipe", devices, epmm.devices.wipe, destructive=True,
                job_params={"reason": ""}, settings=JobSettings(journal=journal),
                concurrency=concurrency,
            )
        received = fake.destructive_received()
        assert received[failing] == 1, f"seed {seed}: the resume wiped {failing} again"
        assert max(received.values()) == 1, f"seed {seed}: {received}"
        by_device = {o.device: o for o in resumed.outcomes}
        assert sorted(by_device) == devices
        assert by_device[failing].status is UNKNOWN, by_device[failing]


# -- item 5 --------------------------------------------------------------------------------------


async def test_item05_fan_out_and_bulk_are_one_job_on_one_journal(tmp_path: Path) -> None:
    """Item 5: "The job's identity is the device action and its parameters, the same in bulk
    and per-device mode": a wipe job resumed in bulk mode (or the other way) resends
    nothing."""
    fake = FakeEpmm()
    devices = uuids(12)
    async with serving(fake) as url, client(url) as epmm:
        journal = str(tmp_path / "fan-out-first.journal")
        first = await epmm.ops.fan_out("wipe", devices, settings=JobSettings(journal=journal))
        assert first.count(SUCCEEDED) == len(devices)
        resumed = await epmm.ops.bulk("WIPE", devices, settings=JobSettings(journal=journal))
        assert fake.of("bulk:WIPE") == [], "the bulk resume resent the wipes"
        assert all(o.status is SUCCEEDED and o.from_journal for o in resumed.outcomes)

        others = uuids(12, start=100)
        journal = str(tmp_path / "bulk-first.journal")
        await epmm.ops.bulk("WIPE", others, settings=JobSettings(journal=journal))
        resumed = await epmm.ops.fan_out("wipe", others, settings=JobSettings(journal=journal))
        assert [d for d in others if fake.devices_received("wipe")[d]] == [], (
            "the per-device resume resent the wipes")
        assert all(o.status is SUCCEEDED and o.from_journal for o in resumed.outcomes)
        assert max(fake.destructive_received().values()) == 1


async def test_item05_a_lock_journal_refuses_an_unlock_job(tmp_path: Path) -> None:
    """Item 5: "a journal refuses another action": opening a lock job's journal for an
    unlock job is a JournalError before anything is sent (per device and bulk)."""
    journal_error = error_type("JournalError")
    fake = FakeEpmm()
    devices = uuids(5)
    async with serving(fake) as url, client(url) as epmm:
        journal = str(tmp_path / "lock.journal")
        await epmm.ops.fan_out("lock", devices, reason="audit",
                               settings=JobSettings(journal=journal))
        with pytest.raises(journal_error):
            await epmm.ops.fan_out("unlock", devices, reason="audit",
                                   settings=JobSettings(journal=journal))
        assert fake.of("unlock") == []

        journal = str(tmp_path / "bulk-lock.journal")
        await epmm.ops.bulk("LOCK", devices, settings=JobSettings(journal=journal))
        with pytest.raises(journal_error):
            await epmm.ops.bulk("UNLOCK", devices, settings=JobSettings(journal=journal))
        assert fake.of("bulk:UNLOCK") == []


def test_item05_cli_unlock_on_a_lock_journal_exits_2_and_sends_nothing(tmp_path: Path) -> None:
    """Item 5: "`epmm unlock ... --journal lock.journal` ran 20,000 unlocks on a lock job's
    journal"; the CLI must enforce the journal's job: exit 2, nothing sent."""
    server = ThreadServer()
    try:
        journal = str(tmp_path / "lock.journal")
        args = [a for u in uuids(3) for a in ("--uuid", u)]
        locked = invoke("lock", *args, "--journal", journal, env=server.env())
        assert locked.exit_code == 0, locked.output
        assert len(server.fake.of("bulk:LOCK")) + len(server.fake.of("lock")) >= 1
        unlocked = invoke("unlock", *args, "--journal", journal, env=server.env())
        assert unlocked.exit_code == 2, unlocked.output
        assert server.fake.of("bulk:UNLOCK") == [] and server.fake.of("unlock") == []
    finally:
        server.close()


# -- item 14 -------------------------------------------------------------------------------------


async def _kill_copy_resume(tmp_path: Path, rng: random.Random) -> None:
    answered = rng.randint(1, 12)
    concurrency = rng.choice([1, 3])
    release = asyncio.Event()
    ok: list[str] = []

    async def hold_after_answered(hit: Hit) -> None:
        if hit.kind != "wipe" or hit.headers.get("User-Agent") != "regress-subprocess":
            return
        if len(ok) < answered:
            ok.append(hit.target)
        else:
            await release.wait()  # on the wire when the run is killed, never answered

    fake = FakeEpmm(answer=hold_after_answered)
    devices = uuids(24)
    journal = tmp_path / "run" / "wipe.journal"
    journal.parent.mkdir()
    report = tmp_path / "killed.jsonl"
    async with serving(fake) as url:
        proc = await _start_job(url, "wipe", "fan_out", journal, devices, report, concurrency)
        try:
            await fake.wait_for(
                lambda: _lines(report) >= answered and len(fake.of("wipe")) > answered,
                within=30)
            await asyncio.sleep(rng.uniform(0, 0.05))
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert proc.returncode == -signal.SIGKILL
        copy = tmp_path / "copy" / "wipe.journal"
        copy.parent.mkdir()
        shutil.copyfile(journal, copy)  # the file alone: nothing beside it
        release.set()
        on_the_wire = set(fake.destructive_received()) - set(ok)
        assert on_the_wire, "the kill found no wipe on the wire"

        async with client(url) as epmm:
            resumed = await epmm.ops.fan_out("wipe", devices, settings=JobSettings(
                journal=str(copy)))
    received = fake.destructive_received()
    twice = sorted(d for d, n in received.items() if n > 1)
    assert twice == [], f"{len(twice)} device(s) wiped again after the resume"
    assert sorted(o.device for o in resumed.outcomes) == devices
    by_device = {o.device: o for o in resumed.outcomes}
    for device in ok:
        assert by_device[device].status is SUCCEEDED and by_device[device].from_journal
    for device in on_the_wire:
        assert by_device[device].status is UNKNOWN  # sent, never answered: not resent
    assert set(received) == set(devices)


async def test_item14_copy_of_the_journal_file_alone_after_sigkill_resumes_safely(
    tmp_path: Path,
) -> None:
    """Item 14: "The journal is one file to the user: a copy of that file alone, taken after
    a kill, resumes safely": no wipe the killed run sent is sent again. Seeded trials vary the
    kill point and the concurrency."""
    for seed in range(3):
        trial = tmp_path / f"trial-{seed}"
        trial.mkdir()
        await _kill_copy_resume(trial, random.Random(seed))


@pytest.mark.parametrize("damage", ["corrupt", "directory"])
async def test_item14_unusable_journal_is_a_journal_error_before_sending(
    tmp_path: Path, damage: str
) -> None:
    """Item 14: "SQLite errors (corrupt, read-only, locked) are untyped"; the fix: journal
    failures are "a typed JournalError ... with the file named", and nothing is sent."""
    journal_error = error_type("JournalError")
    journal = tmp_path / "wipe.journal"
    if damage == "corrupt":
        journal.write_bytes(b"this is not a journal, just text\n" * 400)
    else:
        journal.mkdir()
    fake = FakeEpmm()
    async with serving(fake) as url, client(url) as epmm:
        with pytest.raises(journal_error) as raised:
            await epmm.ops.fan_out("wipe", uuids(3), settings=JobSettings(journal=str(journal)))
        assert str(journal) in str(raised.value)
    assert fake.hits == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
async def test_item14_read_only_journal_is_a_journal_error(tmp_path: Path) -> None:
    """Item 14: a read-only journal is a typed JournalError naming the file, not a SQLite
    error, and nothing is sent."""
    journal_error = error_type("JournalError")
    fake = FakeEpmm()
    journal = tmp_path / "ro" / "wipe.journal"
    journal.parent.mkdir()
    async with serving(fake) as url, client(url) as epmm:
        await epmm.ops.fan_out("wipe", uuids(2), settings=JobSettings(journal=str(journal)))
        sent = len(fake.hits)
        for path in journal.parent.iterdir():
            path.chmod(0o444)
        journal.parent.chmod(0o555)
        try:
            with pytest.raises(journal_error) as raised:
                await epmm.ops.fan_out("wipe", uuids(4), settings=JobSettings(
                    journal=str(journal)))
            assert str(journal) in str(raised.value)
        finally:
            journal.parent.chmod(0o755)
    assert len(fake.hits) == sent


def test_item14_cli_corrupt_journal_exits_2_naming_the_file(tmp_path: Path) -> None:
    """Item 14: "SQLite errors ... the CLI calls them 'internal error'"; the fix: "exit 2 in
    the CLI, with the file named", nothing sent."""
    server = ThreadServer()
    try:
        journal = tmp_path / "corrupt.journal"
        journal.write_bytes(b"this is not a journal, just text\n" * 400)
        result = invoke("wipe", "--uuid", uuids(1)[0], "--journal", str(journal), "--yes",
                        env=server.env())
        assert result.exit_code == 2, result.output
        assert "internal error" not in result.output
        assert squeeze(str(journal)) in squeeze(result.output), result.output
        assert server.fake.hits == []
    finally:
        server.close()
