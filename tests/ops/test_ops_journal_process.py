"""The journal across processes: another process's run is refused at once, a run killed
with SIGKILL frees its journal, and a copy of the journal file alone taken after the kill
keeps every pending mark (the journal is one file: nothing lives in a side file)."""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
from pathlib import Path

import anyio
import pytest

from epmm_async.errors import JournalError
from epmm_async.ops.journal import Journal, JournalEntry, resume_decision
from epmm_async.ops.outcomes import OutcomeStatus

IDENT = {"action": "wipe", "reason": ""}

# Holds the journal (one device marked pending) until a line arrives on stdin.
HOLDER = """
import sys, anyio
from epmm_async.ops.journal import Journal

async def main():
    journal = await Journal.open(sys.argv[1], {"action": "wipe", "reason": ""})
    await journal.mark_pending(["held"])
    print("ready", flush=True)
    await anyio.to_thread.run_sync(sys.stdin.readline)
    await journal.close()

anyio.run(main)
"""

# Forks a job per request (so each trial skips the imports), and kills it on request.
# The job marks batches pending and says so only once each mark is durable ("about to
# send" is where a request would leave), with outcomes of other devices written in between.
FORKER = """
import os, random, signal, sys, anyio
from epmm_async.ops.journal import Journal
from epmm_async.ops.outcomes import Outcome, OutcomeStatus

async def job(path, seed, report):
    journal = await Journal.open(path, {"action": "wipe", "reason": ""})
    rng = random.Random(seed)
    for i in range(10**9):
        batch = [f"d{i}-{k}" for k in range(rng.randint(1, 60))]
        await journal.mark_pending(batch)
        os.write(report, ("about to send " + " ".join(batch) + "\\n").encode())
        done = [f"r{i}-{k}" for k in range(rng.randint(0, 40))]
        await journal.record(
            [Outcome(device=d, action="wipe", status=OutcomeStatus.SUCCEEDED) for d in done]
        )
        os.write(report, ("recorded " + " ".join(done) + "\\n").encode())

print("ready", flush=True)
for command in sys.stdin:
    verb, *args = command.split()
    if verb == "run":
        pid = os.fork()
        if pid == 0:
            report = os.open(args[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            try:
                anyio.run(job, args[0], int(args[1]), report)
            finally:
                os._exit(0)
        print(pid, flush=True)
    elif verb == "kill":
        os.kill(int(args[0]), signal.SIGKILL)
        _, status = os.waitpid(int(args[0]), 0)
        print(status, flush=True)
"""


async def start(script: str, *args: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line == b"ready\n"
    return proc


async def test_another_process_is_refused_at_once_and_a_killed_holder_frees_the_journal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.journal"
    holder = await start(HOLDER, str(path))
    try:
        with anyio.fail_after(5):  # at once: a second run never waits for the first
            with pytest.raises(JournalError, match=rf"in use by another run \(pid {holder.pid}\)"):
                await Journal.open(path, IDENT)
        assert Journal.read(path).entries["held"].status == "pending"  # reading is allowed
        holder.kill()
        await holder.wait()
        # The operating system dropped the lock with its holder: the resume can start.
        with anyio.fail_after(5):
            journal = await Journal.open(path, IDENT)
        entry = journal.entries["held"]
        decision = resume_decision(entry, destructive=True, resend_unknown=False)
        assert decision is not None and decision.status is OutcomeStatus.UNKNOWN
        await journal.close()
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()


async def test_a_holder_that_closes_frees_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    holder = await start(HOLDER, str(path))
    assert holder.stdin is not None
    holder.stdin.write(b"\n")
    await holder.stdin.drain()
    assert await asyncio.wait_for(holder.wait(), 30) == 0
    async with await Journal.open(path, IDENT) as journal:
        assert journal.entries["held"].status == "pending"


async def check_copies(tmp_path: Path, trials: int) -> None:
    rng = random.Random(20)
    forker = await start(FORKER)
    assert forker.stdin is not None and forker.stdout is not None
    marked = 0

    async def ask(command: str) -> bytes:
        assert forker.stdin is not None and forker.stdout is not None
        forker.stdin.write(command.encode() + b"\n")
        await forker.stdin.drain()
        return await asyncio.wait_for(forker.stdout.readline(), 60)

    try:
        for trial in range(trials):
            path = tmp_path / f"job{trial}.journal"
            report = tmp_path / f"job{trial}.report"
            copy = tmp_path / f"copy{trial}" / "job.journal"
            pid = int(await ask(f"run {path} {rng.randrange(10**6)} {report}"))
            await asyncio.sleep(rng.uniform(0.0, 0.2))
            assert int(await ask(f"kill {pid}")) != 0  # killed (and reaped), not ended
            if not path.exists():
                continue  # killed before it created the journal
            copy.parent.mkdir()
            shutil.copyfile(path, copy)  # the journal file alone, as a user would copy it
            # Only whole lines: a line being written at the kill says nothing.
            output = report.read_bytes() if report.exists() else b""
            lines = [line.split() for line in output.split(b"\n")[:-1]]
            sent = [d.decode() for words in lines if words[:3] == [b"about", b"to", b"send"]
                    for d in words[3:]]
            recorded = [d.decode() for words in lines if words[:1] == [b"recorded"]
                        for d in words[1:]]
            marked += len(sent)
            if not sent:
                # Killed before its first mark, perhaps before its header was whole: the
                # copy holds nothing that matters, and a run can start on it.
                assert not recorded
                await _open_entries(copy)
                continue
            for entries in (Journal.read(copy).entries, await _open_entries(copy)):
                for device in sent:
                    entry = entries[device]
                    assert entry.status == "pending", (trial, device)
                    decision = resume_decision(entry, destructive=True, resend_unknown=False)
                    assert decision is not None and decision.status is OutcomeStatus.UNKNOWN
                for device in recorded:  # a kill loses nothing written
                    assert entries[device].status == "succeeded", (trial, device)
    finally:
        forker.kill()
        await forker.wait()
    assert marked > 0  # the kills did land after some marks


async def _open_entries(path: Path) -> dict[str, JournalEntry]:
    async with await Journal.open(path, IDENT) as journal:  # the resume's own view
        return dict(journal.entries)


async def test_a_copy_of_the_file_alone_after_a_kill_keeps_every_pending_mark(
    tmp_path: Path,
) -> None:
    await check_copies(tmp_path, trials=20)


@pytest.mark.slow
async def test_a_copy_after_a_kill_keeps_every_pending_mark_many_trials(tmp_path: Path) -> None:
    await check_copies(tmp_path, trials=200)
