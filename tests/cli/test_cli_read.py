"""Reading commands: devices list/show/export, labels, operators, countries, profiles."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from cli_support import Invoke, SimThread

from epmm_async.enums import ComplianceReason, DeviceStatus


def test_labels_json_and_table(cli: Invoke, shared: SimThread) -> None:
    r = cli("labels", "--output", "json")
    assert r.exit_code == 0, r.output
    labels = json.loads(r.stdout)
    names = {lb["name"] for lb in labels}
    assert "All-Smartphones" in names
    assert all("device_count" in lb for lb in labels)
    r = cli("labels", "--output", "table")
    assert r.exit_code == 0
    assert "Labels" in r.stdout and "All-Smartphones" in r.stdout


def test_operators_jsonl_and_countries_csv(cli: Invoke) -> None:
    r = cli("operators", "--output", "jsonl")
    assert r.exit_code == 0
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows and "carrier_short_name" in rows[0]
    r = cli("countries", "--output", "csv")
    assert r.exit_code == 0
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert table and "country_name" in table[0]


def test_devices_list_by_status_default_jsonl(cli: Invoke, shared: SimThread) -> None:
    r = cli("devices", "list", "--status", "lost")  # not a terminal: JSON lines
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    expected = {d.uuid for d in shared.sim.fleet.devices.values() if d.status == DeviceStatus.LOST}
    assert {row["uuid"] for row in rows} == expected
    assert all(row["status"] == "LOST" for row in rows)


def test_devices_list_filters(cli: Invoke, shared: SimThread) -> None:
    fleet = shared.sim.fleet
    device = next(d for d in fleet.devices.values()
                  if d.status == DeviceStatus.ACTIVE and d.phone_number)
    r = cli("devices", "list", "--user", device.user.principal, "--output", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert device.uuid in {row["uuid"] for row in rows}
    r = cli("devices", "list", "--mac", device.wifi_mac, "--output", "jsonl")
    assert [json.loads(x)["uuid"] for x in r.stdout.splitlines()] == [device.uuid]
    r = cli("devices", "list", "--phone", device.phone_number, "--output", "jsonl")
    assert device.uuid in r.stdout
    r = cli("devices", "list", "--label", "iOS", "--output", "jsonl")
    assert r.exit_code == 0
    assert all(json.loads(x)["platform"].startswith("iOS") for x in r.stdout.splitlines())
    r = cli("devices", "list", "--output", "table")
    assert r.exit_code == 0 and "Devices" in r.stdout


def test_devices_show(cli: Invoke, shared: SimThread) -> None:
    device = next(d for d in shared.sim.fleet.devices.values() if d.compliance_flags)
    r = cli("devices", "show", device.uuid, "--output", "json")
    assert r.exit_code == 0, r.output
    record = json.loads(r.stdout)
    assert record["uuid"] == device.uuid
    assert record["compliance_reasons"] == ComplianceReason(device.compliance_flags).describe()
    assert isinstance(record["details"], dict) and record["details"]
    r = cli("devices", "show", device.uuid, "--output", "table")
    assert r.exit_code == 0
    assert ComplianceReason(device.compliance_flags).describe()[0] in r.stdout
    assert "Details" in r.stdout


def test_devices_show_unknown_and_malformed(cli: Invoke) -> None:
    r = cli("devices", "show", "00000000-0000-0000-0000-000000000001")
    assert r.exit_code == 1
    assert "error" in r.output
    r = cli("devices", "show", "not-a-uuid")
    assert r.exit_code == 2
    assert "malformed" in r.output


def test_devices_export(cli: Invoke, shared: SimThread, tmp_path: Path) -> None:
    target = tmp_path / "devices.csv"
    r = cli("devices", "export", "--to", str(target))
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == len(shared.sim.fleet.devices)
    assert "Device UUID" in rows[0]
    r = cli("devices", "export")
    assert r.exit_code == 0
    assert len(r.stdout.splitlines()) == len(shared.sim.fleet.devices) + 1


def test_profiles(cli: Invoke, shared: SimThread) -> None:
    device = next(d for d in shared.sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE)
    r = cli("profiles", device.uuid, "--output", "json")
    assert r.exit_code == 0, r.output
    assert isinstance(json.loads(r.stdout), list)


def test_xml_format(cli: Invoke) -> None:
    r = cli("--format", "xml", "labels", "--output", "jsonl")
    assert r.exit_code == 0, r.output
    assert "All-Smartphones" in r.stdout


def test_unknown_status_is_usage_error(cli: Invoke) -> None:
    r = cli("devices", "list", "--status", "FROZEN")
    assert r.exit_code == 2
    assert "unknown device status 'FROZEN'" in r.output


def test_missing_password(cli: Invoke) -> None:
    r = cli("labels", unset=("EPMM_PASSWORD",))
    assert r.exit_code == 2
    assert "no password" in r.output and "EPMM_PASSWORD" in r.output


def test_password_file(cli: Invoke, shared: SimThread, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(shared.sim.password + "\n")
    r = cli("--password-file", str(secret), "labels", "-o", "jsonl", unset=("EPMM_PASSWORD",))
    assert r.exit_code == 0, r.output
    empty = tmp_path / "empty"
    empty.write_text("")
    r = cli("--password-file", str(empty), "labels")
    assert r.exit_code == 2 and "empty" in r.output


def test_wrong_password_and_refused_connection(cli: Invoke) -> None:
    r = cli("labels", env={"EPMM_PASSWORD": "wrong"})
    assert r.exit_code == 3
    assert "authentication failed" in r.output
    r = cli("--url", "http://127.0.0.1:9", "--timeout", "5", "labels")
    assert r.exit_code == 3
    assert "cannot connect" in r.output


def test_insecure_warns(cli: Invoke) -> None:
    r = cli("--insecure", "labels", "-o", "jsonl")
    assert r.exit_code == 0
    assert "WARNING" in r.stderr and "--insecure" in r.stderr


def test_python_dash_m(shared: SimThread) -> None:
    env = {**os.environ, **shared.env()}
    proc = subprocess.run(
        [sys.executable, "-m", "epmm_async", "countries", "--output", "jsonl"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "epmm_async", "--help"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "devices" in proc.stdout


def test_a_reader_that_goes_away_stops_the_listing_quietly(shared: SimThread) -> None:
    # `epmm devices list | head -1`: the pipe closes after one line.
    env = {**os.environ, **shared.env()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "epmm_async", "devices", "list", "--status", "ACTIVE",
         "-o", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert first.startswith(b"{")
    assert code in (0, 141)  # 0 when everything fit in the pipe before it closed
    assert "error" not in stderr and "Traceback" not in stderr and "Exception" not in stderr
