"""Action commands: modes, dry-run, confirmation, journal, report, exit codes, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_support import Invoke, SimThread

from epmm_async.cli import jobs
from epmm_async.enums import DeviceStatus


def _active(st: SimThread, n: int, *, ios: bool | None = None) -> list[str]:
    out = []
    for d in st.sim.fleet.devices.values():
        if d.status != DeviceStatus.ACTIVE:
            continue
        if ios is not None and d.platform.startswith("iOS") != ios:
            continue
        out.append(d.uuid)
        if len(out) == n:
            break
    return out


def _uuid_args(uuids: list[str]) -> list[str]:
    return [arg for u in uuids for arg in ("--uuid", u)]


def test_lock_many_uuids_goes_bulk(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _active(fresh, 30)
    r = fresh_cli("lock", *_uuid_args(uuids))
    assert r.exit_code == 0, r.output
    assert "bulk LOCK" in r.stderr
    entries = [e for e in fresh.sim.ledger.entries if e.action == "LOCK"]
    assert {e.uuid for e in entries} == set(uuids)
    assert {e.via for e in entries} == {"bulk"}
    assert "30 device(s), 1 request(s)" in r.stderr


def test_lock_with_reason_goes_per_device(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _active(fresh, 3)
    r = fresh_cli("lock", *_uuid_args(uuids), "--reason", "lost on a train")
    assert r.exit_code == 0, r.output
    assert {e.via for e in fresh.sim.ledger.entries if e.action == "LOCK"} == {"single"}
    r = fresh_cli("lock", *_uuid_args(uuids), "--reason", "x", "--mode", "bulk")
    assert r.exit_code == 2 and "takes no reason" in r.output


def test_mac_targets_force_per_device(fresh_cli: Invoke, fresh: SimThread) -> None:
    device = next(d for d in fresh.sim.fleet.devices.values()
                  if d.status == DeviceStatus.ACTIVE)
    r = fresh_cli("lock", "--mac", device.wifi_mac)
    assert r.exit_code == 2 and "requires --reason" in r.output
    r = fresh_cli("lock", "--mac", device.wifi_mac, "--reason", "stolen")
    assert r.exit_code == 0, r.output
    assert fresh.sim.ledger.count(device.uuid, "LOCK") == 1


def test_unlock_wakeup_locate_per_device_table(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _active(fresh, 2, ios=False)
    r = fresh_cli("unlock", *_uuid_args(uuids), "--reason", "found")
    assert r.exit_code == 0, r.output
    assert "passcode" in r.stdout or "succeeded" in r.stdout
    r = fresh_cli("wakeup", *_uuid_args(uuids))
    assert r.exit_code == 0, r.output
    r = fresh_cli("locate", *_uuid_args(uuids))
    assert r.exit_code == 0, r.output
    assert "locate summary" in r.stderr


def test_locate_now(fresh_cli: Invoke, fresh: SimThread, tmp_path: Path) -> None:
    uuids = _active(fresh, 4, ios=False) + _active(fresh, 2, ios=True)
    report = tmp_path / "loc.jsonl"
    r = fresh_cli("locate", "--now", "--deadline", "3", "--interval", "0.2",
                  *_uuid_args(uuids), "--report", str(report))
    assert r.exit_code == 0, r.output
    assert "succeeded 6: " in r.stderr and " fresh" in r.stderr
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(rows) == 6
    assert {row["freshness"] for row in rows} <= {"fresh", "stale", "unsupported"}
    assert sum(row["freshness"] == "unsupported" for row in rows) == 2


def test_message_roaming_repush_register(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _active(fresh, 3)
    r = fresh_cli("message", "--text", "Please update", "--via", "pns", *_uuid_args(uuids))
    assert r.exit_code == 0, r.output
    assert "send-message" in r.stderr
    ios = _active(fresh, 1, ios=True)
    r = fresh_cli("roaming", "--no-voice", "--no-data", *_uuid_args(ios))
    assert r.exit_code == 0, r.output
    r = fresh_cli("repush", *_uuid_args(uuids[:1]))
    assert r.exit_code == 0, r.output
    assert fresh.sim.ledger.count(uuids[0], "REPUSH") == 1
    r = fresh_cli("register", "--user-id", "jdoe", "--platform", "android",
                  "--country-code", "1", "--phone", "+15551234567", "--first-name", "Jane",
                  "--last-name", "Doe", "--email", "jdoe@example.com", "--output", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["passcode"]


def test_selection_and_some_invalid_exit_1(fresh_cli: Invoke, fresh: SimThread,
                                           tmp_path: Path) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    uuids = [*_active(fresh, 11), unknown]
    report = tmp_path / "r.csv"
    r = fresh_cli("wakeup", *_uuid_args(uuids), "--report", str(report))
    assert r.exit_code == 1, r.output
    rows = list(csv.DictReader(report.open()))
    assert len(rows) == 12
    assert {row["status"] for row in rows if row["device"] == unknown} == {"invalid"}
    r = fresh_cli("wakeup", "--status", "LOST", "--dry-run")
    assert r.exit_code == 0, r.output
    lost = sum(d.status == DeviceStatus.LOST for d in fresh.sim.fleet.devices.values())
    assert f"devices:       {lost}" in r.stdout


def test_dry_run_sends_nothing(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _active(fresh, 200)
    r = fresh_cli("wipe", *_uuid_args(uuids), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "DRY RUN" in r.stdout and "nothing was sent" in r.stdout
    assert "devices:       200" in r.stdout
    assert "2 bulk requests" in r.stdout  # ~160 uuids fit an 8190-byte request line
    assert "POST /api/v1/dm/bulk/devices/WIPE?deviceUuids=" in r.stdout
    r = fresh_cli("lock", "--label", "iOS", "--dry-run")
    assert r.exit_code == 0
    assert len(fresh.sim.ledger) == 0


def test_wipe_needs_confirmation(fresh_cli: Invoke, fresh: SimThread,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    uuids = _active(fresh, 3)
    r = fresh_cli("wipe", *_uuid_args(uuids))
    assert r.exit_code == 2
    assert "refusing to wipe 3 device(s)" in r.output and "--yes" in r.output
    assert len(fresh.sim.ledger) == 0
    monkeypatch.setattr(jobs, "stdin_is_terminal", lambda: True)
    r = fresh_cli("retire", *_uuid_args(uuids), input="2\n")
    assert r.exit_code == 2 and "not confirmed" in r.output
    assert len(fresh.sim.ledger) == 0
    r = fresh_cli("wipe", *_uuid_args(uuids), input="3\n")
    assert r.exit_code == 0, r.output
    assert sorted(fresh.sim.ledger.actions("WIPE")) == sorted(uuids)


def test_wipe_resumes_from_journal(fresh_cli: Invoke, fresh: SimThread, tmp_path: Path) -> None:
    uuids = _active(fresh, 12)
    journal = tmp_path / "wipe.journal"
    args = ["wipe", *_uuid_args(uuids), "--journal", str(journal), "--yes",
            "--reason", "lost"]
    first = fresh_cli(
        "wipe", *_uuid_args(uuids[:5]), "--journal", str(journal), "--yes", "--reason", "lost")
    assert first.exit_code == 0, first.output
    second = fresh_cli(*args)
    assert second.exit_code == 0, second.output
    assert "5 carried over from the journal" in second.stderr
    wiped = fresh.sim.ledger.actions("WIPE")
    assert sorted(wiped) == sorted(uuids)
    assert set(wiped.values()) == {1}
    third = fresh_cli(*args)
    assert third.exit_code == 0 and "12 carried over" in third.stderr
    assert set(fresh.sim.ledger.actions("WIPE").values()) == {1}
    other = fresh_cli("wipe", *_uuid_args(uuids), "--journal", str(journal), "--yes",
                      "--reason", "another reason")
    assert other.exit_code == 2 and "holds a 'wipe' job (reason='lost')" in other.output
    assert str(journal) in other.output


def test_a_journal_refuses_another_action_and_sends_nothing(
    fresh_cli: Invoke, fresh: SimThread, tmp_path: Path
) -> None:
    uuids = _active(fresh, 6)
    journal = tmp_path / "lock.journal"
    locked = fresh_cli("lock", *_uuid_args(uuids), "--journal", str(journal),
                       "--reason", "lost")
    assert locked.exit_code == 0, locked.output
    before = fresh.sim.stats.requests_total
    unlock = fresh_cli("unlock", *_uuid_args(uuids), "--journal", str(journal),
                       "--reason", "lost")
    assert unlock.exit_code == 2, unlock.output
    assert "holds a 'lock' job" in unlock.output and str(journal) in unlock.output
    assert "internal error" not in unlock.output
    assert fresh.sim.stats.requests_total == before
    assert fresh.sim.ledger.actions("UNLOCK") == {}


def test_a_wipe_resumed_in_the_other_mode_resends_nothing(
    fresh_cli: Invoke, fresh: SimThread, tmp_path: Path
) -> None:
    uuids = _active(fresh, 12)
    journal = tmp_path / "wipe.journal"
    first = fresh_cli("wipe", *_uuid_args(uuids), "--journal", str(journal), "--yes",
                      "--mode", "per-device")
    assert first.exit_code == 0, first.output
    again = fresh_cli("wipe", *_uuid_args(uuids), "--journal", str(journal), "--yes",
                      "--mode", "bulk")
    assert again.exit_code == 0, again.output
    assert "12 carried over" in again.stderr
    assert fresh.sim.stats.by_path["/api/v1/dm/bulk/devices/{action}"] == 0
    assert set(fresh.sim.ledger.actions("WIPE").values()) == {1}


def test_a_corrupt_journal_is_a_usage_error_naming_the_file(
    fresh_cli: Invoke, fresh: SimThread, tmp_path: Path
) -> None:
    uuids = _active(fresh, 2)
    journal = tmp_path / "broken.journal"
    journal.write_bytes(b"SQLite format 3\x00" + bytes(200))
    before = fresh.sim.stats.requests_total
    result = fresh_cli("wipe", *_uuid_args(uuids), "--journal", str(journal), "--yes")
    assert result.exit_code == 2, result.output
    assert str(journal) in result.output and "internal error" not in result.output
    assert fresh.sim.stats.requests_total == before


def test_from_file_formats_and_errors(fresh_cli: Invoke, fresh: SimThread,
                                      tmp_path: Path) -> None:
    uuids = _active(fresh, 2)
    mac = next(d.wifi_mac for d in fresh.sim.fleet.devices.values()
               if d.status == DeviceStatus.ACTIVE and d.uuid not in uuids)
    plain = tmp_path / "devices.txt"
    plain.write_text(f"# lost devices\n\n{uuids[0]}\n  {uuids[1]}  \n{mac.lower()}\n")
    r = fresh_cli("wakeup", "--from-file", str(plain))
    assert r.exit_code == 0, r.output
    assert "3 device(s)" in r.stderr
    table = tmp_path / "devices.csv"
    table.write_text("name,uuid\nphone one," + uuids[0] + "\nphone two," + uuids[1] + "\n")
    r = fresh_cli("wakeup", "--from-file", str(table), "--dry-run")
    assert r.exit_code == 0 and "devices:       2" in r.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{uuids[0]}\n# fine\n12345678-zzzz-0000-0000-000000000000\n")
    r = fresh_cli("wakeup", "--from-file", str(bad))
    assert r.exit_code == 2
    assert "line 3" in r.output and "malformed" in r.output
    r = fresh_cli("wakeup", "--from-file", str(tmp_path / "missing.txt"))
    assert r.exit_code == 2


def test_usage_errors(fresh_cli: Invoke) -> None:
    r = fresh_cli("lock")
    assert r.exit_code == 2 and "no devices" in r.output
    r = fresh_cli("lock", "--status", "SLEEPY")
    assert r.exit_code == 2 and "unknown device status" in r.output
    r = fresh_cli("lock", "--uuid", "nope")
    assert r.exit_code == 2 and "--uuid" in r.output
    r = fresh_cli("wakeup", "--uuid", "00000000-0000-4000-8000-000000000000", "--reason", "x")
    assert r.exit_code == 2 and "takes no --reason" in r.output


def test_job_aborted_on_authentication_exit_3(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _active(fresh, 20)
    r = fresh_cli("wakeup", *_uuid_args(uuids), "--mode", "per-device",
                  env={"EPMM_PASSWORD": "wrong"})
    assert r.exit_code == 3, r.output
    assert "job aborted" in r.output
    assert len(fresh.sim.ledger) == 0
