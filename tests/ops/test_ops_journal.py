"""The job journal: the fold that never downgrades a record, one run at a time, a file that
survives kills and torn writes, and typed errors. Then resumable jobs: a job killed with
SIGKILL resumes from its journal without acting twice."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import anyio
import msgspec
import pytest

from epmm_async import EpmmClient
from epmm_async.errors import JournalError
from epmm_async.ops import JobSettings, Outcome, OutcomeStatus
from epmm_async.ops import journal as journal_module
from epmm_async.ops.journal import Journal, JournalEntry, resume_decision
from epmm_async.simulator import Faults, Simulator

MakeClient = Callable[..., EpmmClient]
RUNNER = Path(__file__).with_name("crash_job.py")
IDENT = {"action": "wipe", "reason": ""}

STATUSES = [s.value for s in OutcomeStatus]
NEW = ["pending", *STATUSES]
EARLIER = "pending-earlier"  # a pending mark left by an earlier run: it may have been applied


def _row(default: str | None, **changes: str) -> dict[str, str]:
    """A row of the fold table: what each new record leaves (``default``: the new one)."""
    return {new: changes.get(new, new if default is None else default) for new in NEW}


# old state -> new record -> the state left. Every pair, spelled out: the tests' oracle.
FOLD: dict[str | None, dict[str, str]] = {
    None: _row(None),
    "pending": _row(None, cancelled="pending", skipped="pending"),
    EARLIER: _row(EARLIER, succeeded="succeeded", invalid="invalid"),
    "unknown": _row("unknown", succeeded="succeeded", invalid="invalid"),
    "succeeded": _row("succeeded"),
    "invalid": _row("invalid"),
    "failed": _row(None),
    "cancelled": _row(None),
    "skipped": _row(None),
}
PAIRS = [(old, new) for old in FOLD for new in NEW]


def shown(state: str | None) -> str | None:
    """The status a state is loaded as: an earlier run's pending mark is still "pending"."""
    return "pending" if state == EARLIER else state


def outcome(device: str, status: str) -> Outcome:
    return Outcome(device=device, action="wipe", status=OutcomeStatus(status), attempts=1)


async def journal_in_state(path: Path, device: str, old: str | None) -> Journal:
    """A journal open for a run in which ``device`` is in state ``old``."""
    journal = await Journal.open(path, IDENT)
    if old is None:
        return journal
    if old == "pending":
        await journal.mark_pending([device])
        return journal
    if old == EARLIER:
        await journal.mark_pending([device])
    else:
        await journal.record([outcome(device, old)])
    await journal.close()
    return await Journal.open(path, IDENT)


async def apply(journal: Journal, device: str, new: str) -> None:
    if new == "pending":
        await journal.mark_pending([device])
    else:
        await journal.record([outcome(device, new)])


def statuses(path: Path) -> dict[str, str]:
    return {d: e.status for d, e in Journal.read(path).entries.items()}


# Hand-written journal lines, to test what a load keeps whatever a writer wrote.


def header_line(identity: dict[str, str] = IDENT, version: int = 2) -> bytes:
    return msgspec.json.encode(
        {"journal": "epmm-async", "version": version, "identity": identity, "created": 1.0}
    )


def run_line(run: str, pid: int = 4242) -> bytes:
    return msgspec.json.encode({"run": run, "pid": pid, "at": 1.0})


def pending_line(device: str, run: str) -> bytes:
    return msgspec.json.encode({"d": device, "s": "pending", "run": run, "at": 1.0})


def outcome_line(device: str, status: str) -> bytes:
    return msgspec.json.encode(
        {"d": device, "s": status, "o": outcome(device, status), "at": 1.0}
    )


def write_lines(path: Path, *lines: bytes) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


class FakeOs:
    """The ``os`` module as the journal sees it, with some functions replaced."""

    def __init__(self, **overrides: object) -> None:
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)


# -- the fold -----------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), PAIRS)
async def test_fold_when_writing(tmp_path: Path, old: str | None, new: str) -> None:
    path = tmp_path / "job.journal"
    journal = await journal_in_state(path, "d", old)
    await apply(journal, "d", new)
    expected = shown(FOLD[old][new])
    assert journal.counts() == {expected: 1}
    assert statuses(path) == {"d": expected}  # what the file says, read by another reader
    await journal.close()
    entry = Journal.read(path).entries["d"]
    if expected == "pending":
        assert entry.outcome is None
    else:
        assert entry.outcome is not None and entry.outcome.status.value == expected


@pytest.mark.parametrize(("old", "new"), PAIRS)
async def test_fold_when_loading(tmp_path: Path, old: str | None, new: str) -> None:
    """The load applies the same fold to whatever is in the file, in file order."""
    path = tmp_path / "job.journal"
    lines = [header_line(), run_line("A")]
    if old == EARLIER:
        lines.append(pending_line("d", "A"))
    elif old is not None and old != "pending":
        lines.append(outcome_line("d", old))
    lines.append(run_line("B"))
    if old == "pending":
        lines.append(pending_line("d", "B"))
    lines.append(pending_line("d", "B") if new == "pending" else outcome_line("d", new))
    write_lines(path, *lines)
    expected = shown(FOLD[old][new])
    assert statuses(path) == {"d": expected}
    journal = await Journal.open(path, IDENT)
    assert journal.entries["d"].status == expected
    assert journal.counts() == {expected: 1}
    await journal.close()


REFUSED = [
    ("pending", "cancelled"),
    ("pending", "skipped"),
    ("pending", "pending"),
    (EARLIER, "failed"),
    (EARLIER, "cancelled"),
    (EARLIER, "unknown"),
    (EARLIER, "pending"),
    ("unknown", "failed"),
    ("unknown", "cancelled"),
    ("unknown", "unknown"),
    ("unknown", "pending"),
    ("succeeded", "failed"),
    ("succeeded", "pending"),
    ("invalid", "cancelled"),
]


@pytest.mark.parametrize(("old", "new"), REFUSED)
async def test_a_refused_record_is_not_written(tmp_path: Path, old: str, new: str) -> None:
    path = tmp_path / "job.journal"
    journal = await journal_in_state(path, "d", old)
    before = path.read_bytes()
    await apply(journal, "d", new)
    assert path.read_bytes() == before
    await journal.close()


async def test_a_failure_after_an_earlier_runs_pending_mark_stays_unknown(
    tmp_path: Path,
) -> None:
    """The earlier run may have wiped the device: a FAILED resend says nothing about it."""
    path = tmp_path / "job.journal"
    first = await Journal.open(path, IDENT)
    await first.mark_pending(["a", "b"])
    await first.close()  # ended (or was killed) before the answers
    second = await Journal.open(path, IDENT)
    await second.mark_pending(["a", "b"])  # resent (resend_unknown)
    await second.record([outcome("a", "failed"), outcome("b", "succeeded")])
    await second.close()
    entries = Journal.read(path).entries
    assert entries["a"].status == "pending"
    assert entries["b"].status == "succeeded"
    decision = resume_decision(entries["a"], destructive=True, resend_unknown=False)
    assert decision is not None and decision.status is OutcomeStatus.UNKNOWN
    # And a file where such a FAILED was written anyway loads the same.
    write_lines(path, header_line(), run_line("A"), pending_line("a", "A"), run_line("B"),
                outcome_line("a", "failed"), outcome_line("a", "cancelled"))
    assert statuses(path) == {"a": "pending"}


async def test_a_batch_is_folded_in_order(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    journal = await Journal.open(path, IDENT)
    await journal.mark_pending(["a", "a", "b"])
    await journal.record([outcome("a", "succeeded"), outcome("a", "failed"),
                          outcome("b", "failed"), outcome("b", "succeeded")])
    assert journal.counts() == {"succeeded": 2}
    await journal.close()
    assert statuses(path) == {"a": "succeeded", "b": "succeeded"}
    lines = path.read_bytes().splitlines()
    assert sum(b'"s":"pending"' in line for line in lines) == 2  # "a" marked once
    assert sum(b'"s":"failed"' in line for line in lines) == 1  # b's, before its success


async def test_the_fold_never_downgrades_over_random_runs(tmp_path: Path) -> None:
    rng = random.Random(10)
    devices = ["a", "b", "c"]
    for trial in range(30):
        path = tmp_path / f"j{trial}.journal"
        model: dict[str, str | None] = dict.fromkeys(devices)
        journal = await Journal.open(path, IDENT)
        for _ in range(12):
            before = dict(model)
            if rng.random() < 0.2:  # this run ends (or is killed); a new one opens
                await journal.close()
                journal = await Journal.open(path, IDENT)
                model = {d: EARLIER if s == "pending" else s for d, s in model.items()}
                expected = {d: shown(s) for d, s in model.items() if s is not None}
                assert {d: e.status for d, e in journal.entries.items()} == expected
                continue
            batch = [rng.choice(devices) for _ in range(rng.randint(1, 4))]
            if rng.random() < 0.4:
                await journal.mark_pending(batch)
                changes = [(d, "pending") for d in batch]
            else:
                changes = [(d, rng.choice(STATUSES)) for d in batch]
                await journal.record([outcome(d, s) for d, s in changes])
            for device, new in changes:
                was = model[device]
                model[device] = now = FOLD[was][new]
                # Never downgraded (a check of the table itself).
                if was in ("succeeded", "invalid"):
                    assert now == was
                if was in ("unknown", EARLIER):
                    assert now in (was, "succeeded", "invalid")
                if was == "pending":
                    assert now not in ("cancelled", "skipped")
            for device in devices:
                if before[device] in ("succeeded", "invalid", "unknown", EARLIER):
                    assert model[device] in (before[device], "succeeded", "invalid")
            expected = {d: shown(s) for d, s in model.items() if s is not None}
            assert statuses(path) == expected
            assert journal.counts() == dict(Counter(expected.values()))
        await journal.close()


# -- one run at a time ----------------------------------------------------------------------


async def test_a_second_open_from_another_task_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    first = await Journal.open(path, IDENT)
    await first.mark_pending(["a"])
    errors: list[JournalError] = []

    async def second_run() -> None:
        with pytest.raises(JournalError) as caught:
            await Journal.open(path, IDENT)
        errors.append(caught.value)

    with anyio.fail_after(5):  # fails at once: never waits for the holder
        async with anyio.create_task_group() as tg:
            tg.start_soon(second_run)
    assert f"in use by another run (pid {os.getpid()}, this process)" in str(errors[0])
    assert errors[0].path == str(path)
    await first.record([outcome("a", "succeeded")])  # the holder is unaffected
    await first.close()
    again = await Journal.open(path, IDENT)  # released by close()
    assert again.entries["a"].status == "succeeded"
    await again.close()


async def test_the_lock_is_on_the_file_not_its_name(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    link = tmp_path / "link.journal"
    journal = await Journal.open(path, IDENT)
    link.symlink_to(path)
    with pytest.raises(JournalError, match="in use by another run"):
        await Journal.open(link, IDENT)
    await journal.close()


async def test_read_takes_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    journal = await Journal.open(path, {"action": "lock", "reason": "x"})
    await journal.mark_pending(["a"])
    await journal.record([outcome("b", "succeeded")])
    snapshot = Journal.read(path)
    assert dict(snapshot.identity) == {"action": "lock", "reason": "x"}
    assert snapshot.counts == {"pending": 1, "succeeded": 1}
    assert snapshot.created == journal.created
    assert snapshot.entries["b"].outcome == outcome("b", "succeeded")
    await journal.record([outcome("a", "succeeded")])  # still the holder's
    await journal.close()


async def test_close_is_idempotent_runs_when_cancelled_and_ends_writing(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    journal = await Journal.open(path, IDENT)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await journal.close()  # closes even in a cancelled scope: the lock is released
    async with await Journal.open(path, IDENT) as again:
        await again.record([outcome("a", "failed")])
    await journal.close()
    with pytest.raises(JournalError, match="is closed"):
        await journal.mark_pending(["a"])
    with pytest.raises(JournalError, match="is closed"):
        await journal.record([outcome("a", "failed")])
    assert statuses(path) == {"a": "failed"}


# -- the file -------------------------------------------------------------------------------


async def test_a_new_journal_is_one_file_with_a_header(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    journal = await Journal.open(path, IDENT)
    await journal.mark_pending(["a"])
    await journal.record([outcome("b", "invalid")])
    await journal.close()
    assert os.listdir(tmp_path) == ["job.journal"]  # no side files (no WAL)
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert lines[0]["journal"] == "epmm-async" and lines[0]["version"] == 2
    assert lines[0]["identity"] == IDENT
    assert lines[1]["pid"] == os.getpid()
    assert lines[2] == {"d": "a", "s": "pending", "run": lines[1]["run"], "at": lines[2]["at"]}
    assert lines[3]["d"] == "b" and lines[3]["s"] == "invalid" and lines[3]["o"]["attempts"] == 1


TORN_TAILS = [
    b'{"d":"c","s":"pen',  # killed mid-write
    b'{"d":"c","s":"pending","run":"B","at":1.0}',  # all but its newline
    b"\x00" * 40,  # a power cut's zeros
    b"\x00" * 40 + b"\n",
    b'{"d":"c","s":"pend\n',
]


@pytest.mark.parametrize("tail", TORN_TAILS)
async def test_a_torn_last_line_is_ignored_and_cut_off(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "job.journal"
    write_lines(path, header_line(), run_line("A"), pending_line("a", "A"),
                outcome_line("b", "succeeded"))
    path.write_bytes(path.read_bytes() + tail)
    before = path.read_bytes()
    assert statuses(path) == {"a": "pending", "b": "succeeded"}
    assert path.read_bytes() == before  # a reader changes nothing
    journal = await Journal.open(path, IDENT)
    assert set(journal.entries) == {"a", "b"}
    await journal.record([outcome("c", "failed")])
    await journal.close()
    # The next line was not glued to the torn one: the file loads whole.
    assert statuses(path) == {"a": "pending", "b": "succeeded", "c": "failed"}
    assert tail not in path.read_bytes()


CORRUPT = [
    b"not json",
    b"",
    b'{"d":"a","s":"bogus","at":1.0}',
    b'{"d":"a","s":"succeeded","at":1.0}',  # no outcome
    b'{"d":"a","s":"pending","at":1.0}',  # no run
    b'{"x":1}',
    b'{"d":"a","s":"succeeded","o":{"device":"a"},"at":1.0}',  # not an outcome
    b'{"d":"a","s":"failed","o":{"device":"z","action":"wipe","status":"failed"},"at":1.0}',
    b'[1,2]',
]


@pytest.mark.parametrize("bad", CORRUPT)
async def test_corruption_before_the_last_line_is_an_error(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "job.journal"
    write_lines(path, header_line(), run_line("A"), pending_line("b", "A"), bad,
                run_line("B"))
    before = path.read_bytes()
    with pytest.raises(JournalError, match="corrupt at line 4"):
        Journal.read(path)
    with pytest.raises(JournalError, match="corrupt at line 4"):
        await Journal.open(path, IDENT)
    assert path.read_bytes() == before
    await (await Journal.open(tmp_path / "other.journal", IDENT)).close()  # nothing leaked


async def test_a_sqlite_journal_of_version_0_1_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE outcomes (job TEXT, device TEXT, status TEXT)")
    db.execute("INSERT INTO outcomes VALUES ('wipe', 'a', 'pending')")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match=r"epmm-async 0\.1 \(SQLite\)") as caught:
        await Journal.open(path, IDENT)
    assert caught.value.path == str(path)
    with pytest.raises(JournalError, match=r"0\.1 \(SQLite\)"):
        Journal.read(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello\nworld\n", "not an epmm-async journal"),
        (b"hello world", "not an epmm-async journal"),
        (b'{"journal":"other","version":2}\n', "not an epmm-async journal"),
        (header_line(version=3) + b"\n", "format version 3"),
        (b'{"journal":"epmm-async","version":2,"identity":[]}\n', "corrupt at line 1"),
    ],
)
async def test_a_file_that_is_not_a_journal_is_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(JournalError, match=message):
        await Journal.open(path, IDENT)
    with pytest.raises(JournalError, match=message):
        Journal.read(path)
    assert path.read_bytes() == content


async def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot open it for writing"):
        await Journal.open(tmp_path, IDENT)
    with pytest.raises(JournalError, match="cannot read it"):
        Journal.read(tmp_path)
    with pytest.raises(JournalError, match="cannot read it"):
        Journal.read(tmp_path / "missing.journal")


@pytest.mark.parametrize("content", [b"", b'{"journal":"epmm-as', b'{"journal":"epmm-async",'])
async def test_an_empty_file_or_a_torn_header_starts_a_new_job(
    tmp_path: Path, content: bytes
) -> None:
    """A creator killed before its header was whole recorded nothing: open() makes the
    header durable before it returns."""
    path = tmp_path / "job.journal"
    path.write_bytes(content)
    if content == b"":
        with pytest.raises(JournalError, match="holds no job yet"):
            Journal.read(path)
    journal = await Journal.open(path, IDENT)
    await journal.mark_pending(["a"])
    await journal.close()
    assert dict(Journal.read(path).identity) == IDENT
    assert statuses(path) == {"a": "pending"}


async def test_another_job_is_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    journal = await Journal.open(path, {"action": "lock", "reason": "x"})
    await journal.record([outcome("a", "succeeded")])
    await journal.close()
    before = path.read_bytes()
    with pytest.raises(JournalError) as caught:
        await Journal.open(path, {"action": "unlock", "reason": ""})
    message = str(caught.value)
    assert "holds a 'lock' job (reason='x'), not a 'unlock' job (reason='')" in message
    assert "use another journal file" in message
    with pytest.raises(JournalError, match="holds a 'lock' job"):
        await Journal.open(path, {"action": "lock", "reason": "y"})  # other parameters
    with pytest.raises(JournalError, match="holds a 'lock' job"):
        await Journal.open(path, {"action": "lock"})
    assert path.read_bytes() == before
    async with await Journal.open(path, {"action": "lock", "reason": "x"}) as same:
        assert same.entries["a"].status == "succeeded"


async def test_text_that_cannot_be_encoded_is_a_journal_error(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    with pytest.raises(JournalError, match="identity"):
        await Journal.open(path, {"action": "wipe", "reason": "\udcff"})
    assert not path.exists()
    journal = await Journal.open(path, IDENT)
    with pytest.raises(JournalError, match="cannot encode"):
        await journal.mark_pending(["a", "\udcff"])
    assert journal.counts() == {}
    await journal.mark_pending(["a"])  # the journal is still usable
    await journal.close()
    assert statuses(path) == {"a": "pending"}


# -- errors of the operating system ---------------------------------------------------------


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
async def test_a_read_only_directory_or_file_is_a_journal_error(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(JournalError, match="cannot open it for writing: Permission denied"):
            await Journal.open(directory / "job.journal", IDENT)
    finally:
        directory.chmod(0o700)
    path = tmp_path / "job.journal"
    await (await Journal.open(path, IDENT)).close()
    path.chmod(0o400)
    with pytest.raises(JournalError, match="cannot open it for writing: Permission denied"):
        await Journal.open(path, IDENT)
    assert dict(Journal.read(path).identity) == IDENT  # reading needs no write access


@pytest.mark.parametrize(
    ("code", "text"),
    [(errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission denied")],
)
async def test_a_file_that_cannot_be_opened_is_a_journal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, text: str
) -> None:
    def refuse(path: object, mode: str) -> object:
        raise OSError(code, os.strerror(code))

    class FakeIo:
        FileIO = staticmethod(refuse)

    monkeypatch.setattr(journal_module, "io", FakeIo)
    with pytest.raises(JournalError, match=f"cannot open it for writing: {text}"):
        await Journal.open(tmp_path / "job.journal", IDENT)


async def test_a_full_disk_is_a_journal_error_and_ends_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "job.journal"
    journal = await Journal.open(path, IDENT)
    await journal.record([outcome("a", "succeeded")])
    before = path.read_bytes()
    calls = 0

    def write(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:  # a short write, then the disk is full
            return os.write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal_module, "os", FakeOs(write=write))
    with pytest.raises(JournalError, match="No space left on device") as caught:
        await journal.mark_pending(["b", "c"])
    assert caught.value.path == str(path)
    assert path.read_bytes() == before  # the partial line was cut off
    assert journal.counts() == {"succeeded": 1}  # and not counted
    monkeypatch.undo()
    with pytest.raises(JournalError, match="a write failed"):
        await journal.record([outcome("d", "failed")])  # the run writes no more
    await journal.close()
    assert statuses(path) == {"a": "succeeded"}


async def test_a_short_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "job.journal"
    journal = await Journal.open(path, IDENT)

    def write(fd: int, data: bytes) -> int:
        return os.write(fd, bytes(data[: max(1, len(data) // 3)]))

    monkeypatch.setattr(journal_module, "os", FakeOs(write=write))
    await journal.mark_pending([f"d{i}" for i in range(50)])
    await journal.close()
    assert Journal.read(path).counts == {"pending": 50}


async def test_a_failed_fsync_is_a_journal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = await Journal.open(tmp_path / "job.journal", IDENT)

    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(journal_module, "os", FakeOs(fsync=fsync))
    with pytest.raises(JournalError, match="cannot make a pending mark durable"):
        await journal.mark_pending(["a"])
    with pytest.raises(JournalError, match="an fsync failed"):
        await journal.mark_pending(["b"])
    await journal.close()


# -- durability and the event loop ----------------------------------------------------------


async def test_a_batch_of_pending_marks_is_one_write_and_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = await Journal.open(tmp_path / "job.journal", IDENT)
    calls: Counter[str] = Counter()

    def write(fd: int, data: bytes) -> int:
        calls["write"] += 1
        return os.write(fd, data)

    def fsync(fd: int) -> None:
        calls["fsync"] += 1
        os.fsync(fd)

    monkeypatch.setattr(journal_module, "os", FakeOs(write=write, fsync=fsync))
    await journal.mark_pending([f"d{i}" for i in range(2000)])
    assert calls == {"write": 1, "fsync": 1}  # durable when it returned
    await journal.record([outcome(f"d{i}", "succeeded") for i in range(2000)])
    assert calls == {"write": 2, "fsync": 1}  # outcomes are written, not fsynced
    await journal.record([outcome("x", "succeeded")])
    carried = msgspec.structs.replace(outcome("y", "succeeded"), from_journal=True)
    await journal.record([carried])  # carried over from the journal: not written again
    await journal.mark_pending([])
    assert calls == {"write": 3, "fsync": 1}
    await journal.close()


async def test_journal_io_runs_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = await Journal.open(tmp_path / "job.journal", IDENT)
    entered, release = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []

    def slow_fsync(fd: int) -> None:
        threads.append(threading.current_thread())
        entered.set()
        # Released by a task of the event loop: only if the loop runs during the fsync.
        if not release.wait(10):
            raise AssertionError("the event loop was blocked during the fsync")
        os.fsync(fd)

    async def releaser() -> None:
        while not entered.is_set():  # noqa: ASYNC110 - set by a thread, not a task
            await anyio.sleep(0.001)
        release.set()

    monkeypatch.setattr(journal_module, "os", FakeOs(fsync=slow_fsync))
    async with anyio.create_task_group() as tg:
        tg.start_soon(releaser)
        await journal.mark_pending(["a"])
        tg.cancel_scope.cancel()
    assert threads, "mark_pending returned without an fsync"
    assert threads[0] is not threading.main_thread()
    await journal.close()


async def test_a_large_journal_loads_fast(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    devices = [f"{i:08x}-1b2c-4d5e-8f90-a1b2c3d4e5f6" for i in range(30_000)]
    journal = await Journal.open(path, IDENT)
    await journal.mark_pending(devices)
    await journal.record([outcome(d, "succeeded") for d in devices[:15_000]])
    await journal.record([outcome(d, "unknown") for d in devices[15_000:]])
    await journal.close()
    started = time.monotonic()
    journal = await Journal.open(path, IDENT)
    opened = time.monotonic() - started
    assert journal.counts() == {"succeeded": 15_000, "unknown": 15_000}
    assert len(journal.entries) == 30_000
    await journal.close()
    started = time.monotonic()
    assert Journal.read(path).counts == {"succeeded": 15_000, "unknown": 15_000}
    read = time.monotonic() - started
    assert opened < 5 and read < 5  # generous: about a tenth of a second here


async def test_repr_shows_the_path_and_the_identity_only(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    async with await Journal.open(path, {"action": "message", "text": "hi"}) as journal:
        await journal.mark_pending(["secret-device"])
        assert repr(journal) == (
            f"Journal({str(path)!r}, identity={{'action': 'message', 'text': 'hi'}})"
        )


# -- resuming -------------------------------------------------------------------------------


async def test_pending_destructive_devices_resume_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / "job.journal"
    journal = await Journal.open(path, IDENT)
    await journal.mark_pending(["a", "b"])
    await journal.record([outcome("b", "succeeded")])
    await journal.close()
    known = (await Journal.open(path, IDENT)).entries
    a = resume_decision(known["a"], destructive=True, resend_unknown=False)
    assert a is not None and a.status is OutcomeStatus.UNKNOWN and a.from_journal
    assert resume_decision(known["a"], destructive=True, resend_unknown=True) is None
    assert resume_decision(known["a"], destructive=False, resend_unknown=False) is None
    b = resume_decision(known["b"], destructive=True, resend_unknown=False)
    assert b is not None and b.status is OutcomeStatus.SUCCEEDED and b.from_journal


@pytest.mark.parametrize(
    ("status", "destructive", "resend_unknown", "carried"),
    [
        ("succeeded", False, False, True),
        ("invalid", True, True, True),
        ("unknown", True, False, True),
        ("unknown", True, True, False),
        ("unknown", False, False, False),
        ("failed", True, False, False),
        ("cancelled", True, False, False),
        ("skipped", True, False, False),
    ],
)
def test_resume_decision(
    status: str, destructive: bool, resend_unknown: bool, carried: bool
) -> None:
    entry = JournalEntry("d", status, outcome("d", status))
    decision = resume_decision(entry, destructive=destructive, resend_unknown=resend_unknown)
    if carried:
        assert decision is not None and decision.from_journal
        assert decision.status.value == status
    else:
        assert decision is None


# -- resumable jobs, end to end -------------------------------------------------------------


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
    journal = tmp / "job.journal"
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
    journal = str(tmp_path / "j.journal")
    async with make_client(sim) as epmm:
        first = await epmm.ops.fan_out("lock", targets[:20], reason="r",
                                       settings=JobSettings(journal=journal))
        second = await epmm.ops.fan_out("lock", targets, reason="r",
                                        settings=JobSettings(journal=journal))
    assert first.count(OutcomeStatus.SUCCEEDED) == 20
    assert second.total == 30
    assert sum(o.from_journal for o in second.outcomes) == 20
    assert set(sim.ledger.actions("LOCK").values()) == {1}
    assert Journal.read(journal).counts == {"succeeded": 30}
