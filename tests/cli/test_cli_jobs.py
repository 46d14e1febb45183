"""``epmm jobs list|show``: what a journal holds, read-only, even while a run holds it."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Invoke, SimThread

from epmm_async.cli import jobs_cmds
from epmm_async.enums import DeviceStatus

# Takes the journal over as a run of the same job would (the lock included), marks devices
# pending as a run does before a destructive request leaves, records some unknown, and
# holds the journal until it is killed: a job killed between sending and recording.
HOLDER = """
import sys, anyio
from epmm_async.ops.journal import Journal
from epmm_async.ops.outcomes import Outcome, OutcomeStatus

async def main():
    path, pending, unknown = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
    journal = await Journal.open(path, {"action": "wipe", "reason": "lost"})
    await journal.mark_pending(pending + unknown)
    await journal.record([Outcome(device=d, action="wipe", status=OutcomeStatus.UNKNOWN,
                                  error="timeout") for d in unknown])
    print("ready", flush=True)
    await anyio.to_thread.run_sync(sys.stdin.readline)

anyio.run(main)
"""


def _active(st: SimThread, n: int) -> list[str]:
    found = [d.uuid for d in st.sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE]
    assert len(found) >= n
    return found[:n]


def _uuid_args(uuids: list[str]) -> list[str]:
    return [arg for u in uuids for arg in ("--uuid", u)]


def _wipe(cli: Invoke, uuids: list[str], journal: Path) -> None:
    r = cli("wipe", *_uuid_args(uuids), "--reason", "lost", "--journal", str(journal),
            "--yes", "-o", "jsonl")
    assert r.exit_code == 0, r.output


@pytest.fixture
def killed(fresh: SimThread, tmp_path: Path) -> Iterator[tuple[Path, list[str], list[str],
                                                               subprocess.Popen[str]]]:
    """A journal whose job ran through ``epmm wipe`` (3 devices succeeded), then a run that
    marked 25 devices pending and recorded 2 unknown, holding the lock until the test
    kills it with SIGKILL (``proc.send_signal``)."""
    from cli_support import make_invoke

    journal = tmp_path / "wipe.journal"
    uuids = _active(fresh, 30)
    _wipe(make_invoke(fresh), uuids[:3], journal)
    pending, unknown = uuids[3:28], uuids[28:30]
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(journal), ",".join(pending), ",".join(unknown)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield journal, pending, unknown, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_list_a_finished_job_in_each_format(fresh_cli: Invoke, fresh: SimThread,
                                            tmp_path: Path) -> None:
    journal = tmp_path / "wipe.journal"
    _wipe(fresh_cli, _active(fresh, 4), journal)
    before = journal.read_bytes()

    r = fresh_cli("jobs", "list", "--journal", str(journal), "-o", "jsonl")
    assert r.exit_code == 0 and r.stderr == ""
    (rec,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert rec["job"] == 1 and rec["action"] == "wipe"
    assert rec["parameters"] == {"reason": "lost"}
    assert rec["devices"] == rec["done"] == rec["succeeded"] == 4
    assert rec["pending"] == rec["unknown"] == rec["failed"] == 0
    assert rec["created"].endswith("+00:00") and rec["last_written"]
    assert rec["journal"] == str(journal)

    r = fresh_cli("jobs", "list", "--journal", str(journal), "-o", "json")
    assert r.exit_code == 0 and json.loads(r.stdout) == [rec]

    r = fresh_cli("jobs", "list", "--journal", str(journal), "-o", "csv")
    assert r.exit_code == 0
    (row,) = list(csv.DictReader(io.StringIO(r.stdout)))
    assert row["action"] == "wipe" and row["succeeded"] == "4" and row["pending"] == "0"
    assert json.loads(row["parameters"]) == {"reason": "lost"}

    r = fresh_cli("jobs", "list", "--journal", str(journal), "-o", "table")
    assert r.exit_code == 0
    assert "wipe" in r.stdout and "reason='lost'" in r.stdout and str(journal) in r.stdout

    r = fresh_cli("jobs", "show", "--journal", str(journal), "-o", "table")
    assert r.exit_code == 0
    assert "4 recorded, 4 done" in r.stdout and "pending devices" in r.stdout
    assert r.stderr == ""  # nothing left pending: no warning

    for job in ("1", "wipe"):
        r = fresh_cli("jobs", "show", "--journal", str(journal), job, "-o", "json")
        assert r.exit_code == 0
        assert json.loads(r.stdout)["pending_devices"] == []
    assert journal.read_bytes() == before  # read-only


def test_show_works_while_another_process_holds_the_lock(
    fresh_cli: Invoke, killed: tuple[Path, list[str], list[str], subprocess.Popen[str]]
) -> None:
    journal, pending, unknown, proc = killed
    # The holder really holds the job: a run of it is refused.
    r = fresh_cli("wipe", "--uuid", pending[0], "--reason", "lost", "--journal", str(journal),
                  "--yes")
    assert r.exit_code == 2 and "in use by another run" in r.stderr
    before = journal.read_bytes()

    r = fresh_cli("jobs", "show", "--journal", str(journal), "-o", "json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert rec["pending_devices"] == sorted(pending)
    assert rec["unknown_devices"] == sorted(unknown)
    assert (rec["succeeded"], rec["pending"], rec["unknown"], rec["done"]) == (3, 25, 2, 3)
    r = fresh_cli("jobs", "list", "--journal", str(journal), "-o", "jsonl")
    assert r.exit_code == 0 and json.loads(r.stdout)["pending"] == 25
    assert proc.poll() is None  # the holder was not disturbed
    assert journal.read_bytes() == before

    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_show_after_a_kill_lists_the_pending_devices_and_resume_agrees(
    fresh_cli: Invoke, fresh: SimThread,
    killed: tuple[Path, list[str], list[str], subprocess.Popen[str]],
) -> None:
    journal, pending, unknown, proc = killed
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    # In a pipe, without -o: JSON lines, as the read commands.
    r = fresh_cli("jobs", "show", "--journal", str(journal))
    assert r.exit_code == 0 and len(json.loads(r.stdout)["pending_devices"]) == 25

    # A table: the first ids, and how many more.
    r = fresh_cli("jobs", "show", "--journal", str(journal), "-o", "table")
    assert r.exit_code == 0, r.output
    shown = [u for u in pending if u in r.stdout]
    assert len(shown) == jobs_cmds.SHOW_LIMIT == 20
    assert "and 5 more" in r.stdout
    assert all(u in r.stdout for u in unknown)
    assert "27 device(s) pending or unknown" in r.stderr

    r = fresh_cli("jobs", "show", "--journal", str(journal), "-o", "table", "-q")
    assert r.exit_code == 0 and r.stderr == ""

    # CSV and JSON lines: every id.
    r = fresh_cli("jobs", "show", "--journal", str(journal), "-o", "csv")
    assert r.exit_code == 0 and r.stderr == ""
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {(row["device"], row["status"]) for row in rows} == (
        {(u, "pending") for u in pending} | {(u, "unknown") for u in unknown})
    assert {row["action"] for row in rows} == {"wipe"}
    r = fresh_cli("jobs", "show", "--journal", str(journal), "1", "-o", "jsonl")
    assert r.exit_code == 0
    assert len(json.loads(r.stdout)["pending_devices"]) == 25

    # What show called pending, a resume reports unknown and does not send again.
    r = fresh_cli("wipe", *_uuid_args(pending), "--reason", "lost", "--journal",
                  str(journal), "--yes", "-o", "jsonl")
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert {rec["status"] for rec in records} == {"unknown"}
    assert all(fresh.sim.ledger.count(u, "WIPE") == 0 for u in pending)


def test_a_missing_file_or_not_a_journal_is_exit_2(cli: Invoke, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\nworld\n")
    sqlite = tmp_path / "old.journal"
    sqlite.write_bytes(b"SQLite format 3\x00" + bytes(200))
    empty = tmp_path / "empty.journal"
    empty.write_bytes(b"")
    cases = {
        tmp_path / "missing.journal": "No such file",
        text: "is not an epmm-async journal",
        sqlite: "SQLite",
        empty: "holds no job yet",
        tmp_path: "cannot read it",
    }
    for path, said in cases.items():
        for command in ("list", "show"):
            r = cli("jobs", command, "--journal", str(path), "-o", "json")
            assert r.exit_code == 2, (path, r.output)
            assert r.stdout == ""
            assert "error:" in r.stderr and said in r.stderr and str(path) in r.stderr
            assert "internal error" not in r.stderr
    assert text.read_text() == "hello\nworld\n"


def test_show_an_unknown_job_is_exit_2(fresh_cli: Invoke, fresh: SimThread,
                                       tmp_path: Path) -> None:
    journal = tmp_path / "wipe.journal"
    _wipe(fresh_cli, _active(fresh, 1), journal)
    r = fresh_cli("jobs", "show", "--journal", str(journal), "2")
    assert r.exit_code == 2 and r.stdout == ""
    assert "holds no job '2'" in r.stderr and "1 (wipe)" in r.stderr
    r = fresh_cli("jobs", "list")
    assert r.exit_code == 2 and "--journal" in r.output
