"""The API v2 commands against the simulator's v2 subset: label add/remove (jobs like the
action commands), devices search/count/fields, --query as a target, and a v1 action on the
label v2 filled."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Invoke, SimThread, make_invoke

from epmm_async.enums import DeviceStatus
from epmm_async.simulator.wire import Quirks

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _uuids(st: SimThread, kind: str, status: DeviceStatus = DeviceStatus.ACTIVE) -> list[str]:
    return sorted(d.uuid for d in st.sim.fleet.devices.values()
                  if d.kind == kind and d.status is status)


def _members(st: SimThread, name: str) -> set[str]:
    label = st.sim.fleet.label_named(name)
    assert label is not None
    return {d.uuid for d in st.sim.fleet.devices.values() if label.matches(d)}


def _sent(st: SimThread, method: str, fragment: str) -> int:
    return sum(r.method == method and fragment in r.path for r in st.sim.received.requests)


def _jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _args(flag: str, values: list[str]) -> list[str]:
    return [x for v in values for x in (flag, v)]


# -- label add / remove --------------------------------------------------------------------


def test_label_add_dry_run_sends_nothing(fresh_cli: Invoke, fresh: SimThread) -> None:
    uuids = _uuids(fresh, "android")[:30]
    r = fresh_cli("label", "add", "Sales", *_args("--uuid", uuids), "--max-uuids", "7",
                  "--dry-run")
    assert r.exit_code == 0, r.output
    assert "DRY RUN" in r.stdout and "devices:       30" in r.stdout
    assert "5 membership requests (at most 7 uuids each)" in r.stdout
    assert "PUT /api/v2/devices/labels/Sales/add" in r.stdout
    r = fresh_cli("label", "add", "Sales", "--platform", "android", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["action"] == "label_add" and plan["device_count"] == len(_uuids(fresh, "android"))
    assert _sent(fresh, "PUT", "/labels/") == 0 and len(fresh.sim.ledger) == 0


def test_label_add_then_remove(fresh_cli: Invoke, fresh: SimThread, tmp_path: Path) -> None:
    before = _members(fresh, "Sales")
    windows = set(_uuids(fresh, "windows"))
    report = tmp_path / "add.csv"
    # Not destructive: no terminal and no --yes, and it runs.
    r = fresh_cli("label", "add", "Sales", "--platform", "windows", "--max-uuids", "5",
                  "-o", "jsonl", "--report", str(report))
    assert r.exit_code == 0, r.output
    records = _jsonl(r.stdout)
    assert {x["device"] for x in records} == windows
    assert {(x["action"], x["status"]) for x in records} == {("label_add", "succeeded")}
    assert {row["device"] for row in csv.DictReader(report.open())} == windows
    assert _members(fresh, "Sales") == before | windows
    assert _sent(fresh, "PUT", "/labels/Sales/add") == -(-len(windows) // 5)
    assert "label-add summary" in r.stderr
    r = fresh_cli("label", "remove", "Sales", *_args("--uuid", sorted(windows)), "-o", "jsonl")
    assert r.exit_code == 0, r.output
    assert {x["action"] for x in _jsonl(r.stdout)} == {"label_remove"}
    assert _members(fresh, "Sales") == before - windows


def test_label_add_refuses_before_sending(fresh_cli: Invoke, fresh: SimThread,
                                         tmp_path: Path) -> None:
    uuid = _uuids(fresh, "ios")[0]
    r = fresh_cli("label", "add", "No Such Label", "--uuid", uuid)
    assert r.exit_code == 2 and "no label is named 'No Such Label'" in r.stderr, r.output
    r = fresh_cli("label", "add", "iOS", "--uuid", uuid)  # the server's dynamic label
    assert r.exit_code == 2 and "dynamic" in r.stderr, r.output
    macs = tmp_path / "macs.txt"
    macs.write_text("38:aa:3c:62:bf:ad\n")
    r = fresh_cli("label", "add", "Sales", "--from-file", str(macs))
    assert r.exit_code == 2 and "takes device uuids, not MAC addresses" in r.stderr, r.output
    r = fresh_cli("label", "add", "Sales", "--mac", "38:aa:3c:62:bf:ad")
    assert r.exit_code == 2 and "No such option" in r.output
    r = fresh_cli("label", "add", "A,B", "--uuid", uuid)
    assert r.exit_code == 2 and "comma" in r.stderr
    r = fresh_cli("label", "add", "Sales", "--uuid", uuid, "--max-uuids", "0")
    assert r.exit_code == 2
    r = fresh_cli("label", "add", "Sales")
    assert r.exit_code == 2 and "no devices" in r.stderr
    assert _sent(fresh, "PUT", "/labels/") == 0


def test_label_add_exit_codes_and_journal(fresh_cli: Invoke, fresh: SimThread,
                                         tmp_path: Path) -> None:
    fresh.sim.set_quirks(Quirks(v2_success_records=True))  # the answer names every device
    good = _uuids(fresh, "macos")[:3]
    journal = tmp_path / "add.journal"
    r = fresh_cli("label", "add", "Field Engineers", *_args("--uuid", [*good, UNKNOWN]),
                  "--journal", str(journal), "-o", "jsonl")
    assert r.exit_code == 1, r.output  # the server refused one device
    status = {x["device"]: x["status"] for x in _jsonl(r.stdout)}
    assert status == {**dict.fromkeys(good, "succeeded"), UNKNOWN: "failed"}
    sent = _sent(fresh, "PUT", "/add")
    r = fresh_cli("label", "add", "Field Engineers", *_args("--uuid", [*good, UNKNOWN]),
                  "--journal", str(journal), "-o", "jsonl")
    assert r.exit_code == 1
    again = {x["device"]: x for x in _jsonl(r.stdout)}
    assert all(again[u]["from_journal"] for u in good)
    assert _sent(fresh, "PUT", "/add") == sent + 1  # only the failed device again


def test_label_membership_needs_v2(no_v2: SimThread) -> None:
    cli = make_invoke(no_v2)
    r = cli("label", "add", "Sales", "--uuid", UNKNOWN)
    assert r.exit_code == 1 and "label add needs API v2" in r.stderr, r.output


# -- v1 sees what v2 did -------------------------------------------------------------------


def test_a_v1_lock_of_the_label_locks_exactly_the_added_devices(
        fresh_cli: Invoke, fresh: SimThread) -> None:
    r = fresh_cli("label", "create", "Travellers")
    assert r.exit_code == 0, r.output
    added = {*_uuids(fresh, "ios")[:12], *_uuids(fresh, "android")[:9]}
    r = fresh_cli("label", "add", "Travellers", *_args("--uuid", sorted(added)))
    assert r.exit_code == 0, r.output
    r = fresh_cli("lock", "--label", "Travellers", "-o", "jsonl")
    assert r.exit_code == 0, r.output
    assert {x["device"] for x in _jsonl(r.stdout)} == added
    assert set(fresh.sim.ledger.actions("LOCK")) == added


# -- --query as a target -------------------------------------------------------------------


def test_query_target(fresh_cli: Invoke, fresh: SimThread) -> None:
    query = '"common.platform"="iOS" AND "common.compliant"=false'
    want = {d.uuid for d in fresh.sim.fleet.devices.values()
            if d.kind == "ios" and d.compliance != 0}  # any status: a query says which
    gone = {d.uuid: d.status.value.lower() for d in fresh.sim.fleet.devices.values()
            if d.uuid in want and d.status in (DeviceStatus.WIPED, DeviceStatus.RETIRED)}
    r = fresh_cli("lock", "--query", query, "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert set(plan["devices"]) | set(plan["skipped"]) == want
    assert plan["skipped"] == gone  # pre-flight reads the status the search gave
    assert plan["selection"] == f"query {query}"
    # Targets add up: a query and a uuid.
    extra = _uuids(fresh, "windows")[0]
    r = fresh_cli("wakeup", "--query", query, "--uuid", extra, "--dry-run", "-o", "json")
    assert set(json.loads(r.stdout)["devices"]) == (want - set(gone)) | {extra}
    assert len(fresh.sim.ledger) == 0


def test_query_target_refusals(fresh_cli: Invoke, fresh: SimThread, no_v2: SimThread) -> None:
    for args, needle in (
        (("--query", ""), 'selects every device'),
        (("--query", "x" * 256), "limit is 255"),
        (("--query", '"common.platform"="iOS"', "--no-v2"), "cannot go with --no-v2"),
        (("--query", '"common.platform"="iOS"', "--platform", "ios"), "would add devices"),
    ):
        r = fresh_cli("lock", *args, "--dry-run")
        assert r.exit_code == 2 and needle in r.stderr, (args, r.output)
    assert _sent(fresh, "GET", "/api/v2/devices") == 0
    r = fresh_cli("lock", "--query", '"common.platform"="Symbian"', "--dry-run")
    assert r.exit_code == 2 and "no devices matched query" in r.stderr
    r = make_invoke(no_v2)("lock", "--query", '"common.platform"="iOS"', "--dry-run")
    assert r.exit_code == 1 and "--query needs API v2" in r.stderr, r.output


# -- devices search / count / fields -------------------------------------------------------


def test_devices_search(cli: Invoke, shared: SimThread) -> None:
    query = '"common.platform"="Android" AND "common.compliant"=false'
    want = {d.uuid: d.user.principal for d in shared.sim.fleet.devices.values()
            if d.kind == "android" and d.compliance != 0}
    fields = "user.user_id,common.platform,ios.iPhone UDID"
    r = cli("devices", "search", "--query", query, "--fields", fields, "-o", "jsonl",
            "--page-size", "7")
    assert r.exit_code == 0, r.output
    rows = _jsonl(r.stdout)
    assert {str(x["common.uuid"]): x["user.user_id"] for x in rows} == want
    assert all(list(x) == ["common.uuid", "user.user_id", "common.platform",
                           "ios.iPhone UDID"] for x in rows)
    assert {x["ios.iPhone UDID"] for x in rows} == {None}  # a field the devices lack
    r = cli("devices", "search", "--query", query, "--fields", fields, "-o", "csv")
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(table[0]) == ["common.uuid", "user.user_id", "common.platform",
                              "ios.iPhone UDID"]
    assert {row["common.uuid"] for row in table} == set(want)
    r = cli("devices", "search", "--query", query, "--fields", "common.uuid", "-o", "json")
    assert {x["common.uuid"] for x in json.loads(r.stdout)} == set(want)
    r = cli("devices", "search", "--query", query, "-o", "table")
    assert r.exit_code == 0 and "common.uuid" in r.stdout


def test_devices_search_by_label(cli: Invoke, shared: SimThread) -> None:
    r = cli("devices", "search", "--label", "Sales", "--fields", "common.status", "-o", "jsonl")
    assert r.exit_code == 0, r.output
    assert {x["common.uuid"] for x in _jsonl(r.stdout)} == _members(shared, "Sales")
    r = cli("devices", "search", "--label", "Sales", "--query", '"common.compliant"=false')
    assert r.exit_code == 2 and "cannot go together" in r.stderr
    r = cli("devices", "search", "--label", "Slaes")
    assert r.exit_code == 2 and "did you mean 'Sales'" in r.stderr


def test_devices_search_bad_input_is_exit_2_before_any_request(
        cli: Invoke, shared: SimThread) -> None:
    before = len(shared.sim.received.requests)
    for args in (("--fields", "common.uuid,,user.user_id"), ("--fields", "uuid"),
                 ("--query", "q" * 300), ("--page-size", "0")):
        r = cli("devices", "search", *args)
        assert r.exit_code == 2, (args, r.output)
    assert len(shared.sim.received.requests) == before
    r = cli("devices", "search", "--query", '"no.such_field"=1')
    assert r.exit_code == 1, r.output  # the server refuses the query


def test_devices_count_and_fields(cli: Invoke, shared: SimThread) -> None:
    fleet = shared.sim.fleet.devices.values()
    r = cli("devices", "count", "--query", '"common.quarantined"=true')
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{sum(d.quarantined != 0 for d in fleet)}\n"
    r = cli("devices", "count", "-o", "json")
    assert json.loads(r.stdout) == {"query": "", "count": len(shared.sim.fleet.devices)}
    r = cli("devices", "fields")
    assert r.exit_code == 0 and "common.last_connected_at" in r.stdout.splitlines()


def test_v2_reads_need_v2(no_v2: SimThread) -> None:
    cli = make_invoke(no_v2)
    for args in (("devices", "search"), ("devices", "count"), ("label", "list")):
        r = cli(*args)
        assert r.exit_code == 1 and "needs API v2" in r.stderr, r.output


@pytest.fixture(scope="module")
def no_v2() -> Iterator[SimThread]:
    """A server without API v2: every /api/v2 path is the web server's HTML 404."""
    st = SimThread(devices=60, seed=3, time_scale=0.02, quirks=Quirks(v2_enabled=False))
    yield st
    st.close()
