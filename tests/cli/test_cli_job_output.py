"""What action commands print, and where: one record per device on stdout (``-o``), progress,
summary and resume hints on stderr, ``-q``, the dry-run planned by the operations layer, the
confirmation naming the server and the selection."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from cli_support import Invoke, SimThread

from epmm_async.cli import jobs
from epmm_async.cli.jobs import RECORD_FIELDS, JobOptions, an, command_line
from epmm_async.enums import DeviceStatus
from epmm_async.simulator import Faults

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _devices(st: SimThread, n: int, status: DeviceStatus = DeviceStatus.ACTIVE,
             *, ios: bool | None = None) -> list[str]:
    found = []
    for d in st.sim.fleet.devices.values():
        if d.status != status or (ios is not None and d.platform.startswith("iOS") != ios):
            continue
        found.append(d.uuid)
        if len(found) == n:
            break
    assert len(found) == n
    return found


def _uuid_args(uuids: list[str]) -> list[str]:
    return [arg for u in uuids for arg in ("--uuid", u)]


def _jsonl(text: str) -> list[dict[str, object]]:
    """Every line of ``text`` is one JSON object (nothing else is on stdout)."""
    lines = text.splitlines()
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in records)
    return records


def test_jsonl_is_one_record_per_device_and_the_summary_is_on_stderr(
    fresh_cli: Invoke, fresh: SimThread
) -> None:
    uuids = _devices(fresh, 30)
    r = fresh_cli("lock", *_uuid_args([*uuids, UNKNOWN]), "-o", "jsonl")
    assert r.exit_code == 1, r.output  # one device invalid
    records = _jsonl(r.stdout)
    assert len(records) == 31
    assert {rec["device"] for rec in records} == {*uuids, UNKNOWN}
    assert all(tuple(rec) == RECORD_FIELDS for rec in records)
    # One spelling of the action (the registry's), real booleans and integers.
    assert {rec["action"] for rec in records} == {"lock"}
    assert {rec["from_journal"] for rec in records} == {False}
    assert all(isinstance(rec["attempts"], int) for rec in records)
    by_device = {rec["device"]: rec for rec in records}
    assert by_device[UNKNOWN]["status"] == "invalid"
    assert by_device[UNKNOWN]["reason"] == "invalid_device"
    # Progress and summary on stderr: the server, counts by status and by reason.
    assert f"lock summary (bulk LOCK) on {fresh.sim.url}" in r.stderr
    assert "succeeded 30" in r.stderr
    assert "invalid    1: listed invalid by the server" in r.stderr
    assert "31 device(s), 1 request(s)" in r.stderr
    assert "lock: 31/31 (100%)" in r.stderr
    # In a pipe (no -o) the records are JSON lines too, as for the read commands.
    again = fresh_cli("lock", *_uuid_args(uuids[:12]))
    assert again.exit_code == 0, again.output
    assert len(_jsonl(again.stdout)) == 12


def test_the_action_is_spelled_the_same_per_device(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _devices(fresh, 3)
    r = fresh_cli("lock", *_uuid_args(uuids), "--reason", "lost on a train", "-o", "jsonl")
    assert r.exit_code == 0, r.output
    records = _jsonl(r.stdout)
    assert [rec["action"] for rec in records] == ["lock"] * 3
    assert "lock summary (per device)" in r.stderr
    # Locate-now records carry the location's freshness and coordinates.
    now = fresh_cli("locate", "--now", "--deadline", "2", "--interval", "0.2",
                    *_uuid_args(_devices(fresh, 2, ios=True)), "-o", "jsonl")
    assert now.exit_code == 0, now.output
    located = _jsonl(now.stdout)
    assert {rec["action"] for rec in located} == {"locate_now"}
    assert {rec["freshness"] for rec in located} == {"unsupported"}
    assert "succeeded 2: 2 unsupported" in now.stderr


def test_csv_has_a_fixed_header_and_true_false(
    fresh_cli: Invoke, fresh: SimThread, tmp_path: Path
) -> None:
    uuids = _devices(fresh, 4)
    journal = tmp_path / "wake.journal"
    first = fresh_cli("wakeup", *_uuid_args(uuids[:2]), "--journal", str(journal), "-o", "csv")
    assert first.exit_code == 0, first.output
    report = tmp_path / "wake.csv"
    r = fresh_cli("wakeup", *_uuid_args(uuids), "--journal", str(journal), "-o", "csv",
                  "--report", str(report))
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert r.stdout.splitlines()[0] == ",".join(RECORD_FIELDS)
    assert len(rows) == 4
    assert Counter(row["from_journal"] for row in rows) == {"true": 2, "false": 2}
    assert {row["action"] for row in rows} == {"wakeup"}
    assert "2 carried over from the journal" in r.stderr
    # The --report CSV says it the same way, and has the reason and MAC columns.
    reported = list(csv.DictReader(report.open()))
    assert Counter(row["from_journal"] for row in reported) == {"true": 2, "false": 2}
    assert {"reason", "mac"} <= set(reported[0])


def test_json_is_one_array(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _devices(fresh, 5)
    r = fresh_cli("wakeup", *_uuid_args(uuids), "-o", "json")
    assert r.exit_code == 0, r.output
    records = json.loads(r.stdout)
    assert [rec["device"] for rec in records if rec["status"] == "succeeded"] != []
    assert sorted(rec["device"] for rec in records) == sorted(uuids)


def test_table_output_lists_every_device(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _devices(fresh, 25)
    r = fresh_cli("wakeup", *_uuid_args(uuids), "-o", "table")
    assert r.exit_code == 0, r.output
    assert all(u in r.stdout for u in uuids)  # uuids are never folded
    assert "summary" not in r.stdout and "wakeup summary" in r.stderr


def test_quiet_prints_records_and_errors_only(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _devices(fresh, 12)
    r = fresh_cli("-q", "lock", *_uuid_args(uuids), "-o", "jsonl")
    assert r.exit_code == 0, r.output
    assert len(_jsonl(r.stdout)) == 12
    assert r.stderr == ""
    # An abort is an error: it is printed, -q or not, with how to resume.
    bad = fresh_cli("-q", "--concurrency", "1", "wakeup", *_uuid_args(uuids), "--mode",
                    "per-device", "-o", "jsonl", env={"EPMM_PASSWORD": "wrong"})
    assert bad.exit_code == 3, bad.output
    assert Counter(rec["status"] for rec in _jsonl(bad.stdout)) == {"failed": 1, "skipped": 11}
    assert "job aborted: HTTP 401" in bad.stderr and "not resumable" in bad.stderr
    assert "summary" not in bad.stderr
    # Every device sent at once and refused: nothing was skipped, the error is still named.
    all_failed = fresh_cli("-q", "wakeup", *_uuid_args(uuids), "--mode", "per-device",
                           "-o", "jsonl", env={"EPMM_PASSWORD": "wrong"})
    assert all_failed.exit_code == 3, all_failed.output
    assert {rec["status"] for rec in _jsonl(all_failed.stdout)} == {"failed"}
    assert "every device failed: HTTP 401" in all_failed.stderr


def test_summary_counts_invalid_by_reason(fresh_cli: Invoke, fresh: SimThread) -> None:
    wiped = _devices(fresh, 2, DeviceStatus.WIPED)
    retired = _devices(fresh, 1, DeviceStatus.RETIRED)
    active = _devices(fresh, 2)
    r = fresh_cli("wipe", *_uuid_args([*wiped, *retired, *active]), "--mode", "per-device",
                  "--reason", "lost", "--yes", "-o", "jsonl")
    assert r.exit_code == 1, r.output
    reasons = {rec["device"]: rec["reason"] for rec in _jsonl(r.stdout)}
    assert {reasons[u] for u in wiped} == {"wiped"}
    assert {reasons[u] for u in retired} == {"retired"}
    assert "invalid   3: 2 wiped, 1 retired" in r.stderr
    assert "succeeded 2" in r.stderr


def test_an_abort_with_a_journal_names_the_command_to_resume(
    fresh_cli: Invoke, fresh: SimThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uuids = _devices(fresh, 15)
    journal = tmp_path / "wake up.journal"
    args = ["wakeup", *_uuid_args(uuids), "--mode", "per-device", "--journal", str(journal),
            "-o", "jsonl"]
    monkeypatch.setattr(sys, "argv", ["/usr/bin/epmm", *args])
    r = fresh_cli(*args, env={"EPMM_PASSWORD": "wrong"})
    assert r.exit_code == 3, r.output
    # All 15 were on the wire before the first 401 came back: every device failed, none
    # was left to skip.
    assert "job aborted" in r.stderr or "every device failed: HTTP 401" in r.stderr
    assert "to resume, run the same command" in r.stderr
    # The exact command, quoted for a shell.
    assert f"epmm wakeup --uuid {uuids[0]}" in r.stderr
    assert f"--journal '{journal}' -o jsonl" in r.stderr
    ok = fresh_cli(*args)
    assert ok.exit_code == 0, ok.output
    assert "to resume" not in ok.stderr


def test_the_resume_command_never_shows_credentials() -> None:
    line = command_line(JobOptions(command=[
        "--url=https://admin:s3cret@epmm.example.com", "wipe", "--url",
        "https://admin:s3cret@epmm.example.com/", "--label", "Lost Devices"]))
    assert "s3cret" not in line and "admin" not in line
    assert line.startswith("epmm --url=https://epmm.example.com wipe --url "
                           "https://epmm.example.com/ ")
    assert line.endswith("--label 'Lost Devices'")


def test_an_before_numbers() -> None:
    assert [an(n) for n in (8190, 11, 18_000, 4096, 110, 800, 1)] == [
        "an", "an", "an", "a", "a", "an", "a"]


def test_ctrl_c_with_a_journal_prints_records_and_the_resume_command(
    tmp_path: Path
) -> None:
    st = SimThread(devices=200, seed=3, faults=Faults(latency=0.05))
    try:
        uuids = _devices(st, 80)
        journal = tmp_path / "wake.journal"
        args = ["--concurrency", "2", "wakeup", *_uuid_args(uuids), "--mode", "per-device",
                "--journal", str(journal)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "epmm_async", *args],
            env={**os.environ, **st.env()}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 1, stdout + stderr
        assert "Traceback" not in stderr
        records = _jsonl(stdout)
        assert len(records) == 80
        assert "cancelled" in {rec["status"] for rec in records}
        assert "interrupted: devices not yet sent are reported cancelled" in stderr
        assert f"wakeup summary (per device) on {st.sim.url}" in stderr
        assert "to resume, run the same command" in stderr
        assert "epmm " + " ".join(args) in stderr
    finally:
        st.close()


def test_dry_run_is_the_plan_the_run_sends(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _devices(fresh, 200)
    plan = fresh_cli("lock", *_uuid_args(uuids), "--dry-run", "-o", "json")
    assert plan.exit_code == 0, plan.output
    shown = json.loads(plan.stdout)
    assert shown["dry_run"] is True and shown["server"] == fresh.sim.url
    assert shown["action"] == "lock" and shown["mode"] == "bulk"
    assert shown["device_count"] == 200 and shown["devices"] == uuids
    assert shown["requests"] == 2 and sum(shown["chunk_sizes"]) == 200
    assert shown["first_request"]["target"].startswith(
        "/api/v1/dm/bulk/devices/LOCK?deviceUuids=")
    assert fresh.sim.received.requests == [] or all(
        r.method == "GET" for r in fresh.sim.received.requests)
    assert len(fresh.sim.ledger) == 0
    text = fresh_cli("lock", *_uuid_args(uuids), "--dry-run")
    assert f"server:        {fresh.sim.url}" in text.stdout
    assert "selection:     200 uuids" in text.stdout
    assert "devices each:  " + ", ".join(str(n) for n in shown["chunk_sizes"]) in text.stdout
    assert "an 8,190-byte request line" in text.stdout
    rows = fresh_cli("lock", *_uuid_args(uuids), "--dry-run", "-o", "csv")
    assert len(list(csv.DictReader(io.StringIO(rows.stdout)))) == 2
    line = fresh_cli("lock", *_uuid_args(uuids), "--dry-run", "-o", "jsonl")
    assert len(line.stdout.splitlines()) == 1 and json.loads(line.stdout) == shown

    before = len(fresh.sim.received.requests)
    run = fresh_cli("lock", *_uuid_args(uuids), "-o", "jsonl")
    assert run.exit_code == 0, run.output
    sent = [r for r in fresh.sim.received.requests[before:] if r.method == "POST"]
    assert sorted(len(parse_qsl(r.query)) for r in sent) == sorted(shown["chunk_sizes"])
    assert [parse_qsl(r.query)[0][1] for r in sent if r.query.startswith(
        shown["first_request"]["target"].split("?", 1)[1][:60])] == [uuids[0]]


def test_confirmation_names_the_server_and_the_selection(
    fresh_cli: Invoke, fresh: SimThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    uuids = _devices(fresh, 3)
    r = fresh_cli("wipe", *_uuid_args(uuids))
    assert r.exit_code == 2
    assert f"refusing to wipe 3 device(s) on {fresh.sim.url} (3 uuids)" in r.stderr
    assert r.stdout == ""
    monkeypatch.setattr(jobs, "stdin_is_terminal", lambda: True)
    asked = fresh_cli("retire", *_uuid_args(uuids), input="2\n")
    assert asked.exit_code == 2 and "not confirmed: nothing was retired" in asked.stderr
    assert f"RETIRE 3 device(s) on {fresh.sim.url}" in asked.stderr
    assert "selection: 3 uuids" in asked.stderr
    # A selection is named in the command's own words (when the command gives them).
    by_label = fresh_cli("retire", "--label", "Sales", input="0\n")
    assert by_label.exit_code == 2, by_label.output
    assert "selection: label" in by_label.stderr and "Sales" in by_label.stderr, (
        "action_cmds.act() should pass TargetSpec.describe() as JobOptions.selection")
    assert len(fresh.sim.ledger) == 0
