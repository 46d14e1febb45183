"""Device filters (platform, OS version, last check-in, compliance, quarantine, block,
ownership, --all-labels) against the simulator's ground truth, their dry-run counts, and
follow-up jobs with --from-report."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import Invoke, SimThread
from typer.testing import Result

from epmm_async.cli.common import CliError
from epmm_async.cli.targets import DeviceFilter, parse_only, read_report_file
from epmm_async.enums import ComplianceReason, DeviceStatus
from epmm_async.simulator import Faults
from epmm_async.simulator.fleet import SimDevice

Pred = Callable[[SimDevice], bool]


def _version(platform: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in platform.split(" ", 1)[1].split("."))
    while len(parts) > 1 and parts[-1] == 0:
        parts = parts[:-1]
    return parts


def _truth(st: SimThread, pred: Pred,
           statuses: tuple[DeviceStatus, ...] = (DeviceStatus.ACTIVE,)) -> set[str]:
    return {d.uuid for d in st.sim.fleet.devices.values()
            if d.status in statuses and pred(d)}


def _listed(cli: Invoke, *args: str) -> set[str]:
    r = cli("devices", "list", "-o", "jsonl", *args)
    assert r.exit_code == 0, r.output
    return {json.loads(line)["uuid"] for line in r.stdout.splitlines() if line.strip()}


def _stamp(epoch: int) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _usage_error(r: Result, *needles: str) -> None:
    assert r.exit_code == 2, r.output
    for needle in needles:
        assert needle in r.stderr, r.stderr


def test_platform_filter(cli: Invoke, shared: SimThread) -> None:
    ios = _truth(shared, lambda d: d.kind == "ios")
    assert ios and _listed(cli, "--platform", "ios") == ios
    both = _truth(shared, lambda d: d.kind in ("ios", "macos"))
    assert _listed(cli, "--platform", "iOS", "--platform", "macos") == both
    lost_android = _truth(shared, lambda d: d.kind == "android", (DeviceStatus.LOST,))
    assert _listed(cli, "--platform", "android", "--status", "LOST") == lost_android


@pytest.mark.parametrize(("test", "pred"), [
    ("<17", lambda v: v < (17,)),
    (">=17.2", lambda v: v >= (17, 2)),
    ("=15.8", lambda v: v == (15, 8)),
    ("<=16.7.5", lambda v: v <= (16, 7, 5)),
])
def test_os_version_filter(cli: Invoke, shared: SimThread, test: str,
                           pred: Callable[[tuple[int, ...]], bool]) -> None:
    want = _truth(shared, lambda d: d.kind == "ios" and pred(_version(d.platform)))
    assert want and _listed(cli, "--platform", "ios", "--os-version", test) == want


def test_os_version_union_across_platforms(cli: Invoke, shared: SimThread) -> None:
    # Android 12 and iOS 12.x compare alike: the number, not the platform.
    want = _truth(shared, lambda d: _version(d.platform) < (13,) or _version(d.platform) > (14,))
    assert _listed(cli, "--os-version", "<13", "--os-version", ">14") == want


def test_last_seen_filters(fresh_cli: Invoke, fresh: SimThread) -> None:
    # The generated fleet's active devices all checked in at its fixed "now": spread them.
    base = 1_717_200_000
    for n, d in enumerate(sorted(fresh.sim.fleet.devices.values(), key=lambda d: d.uuid)):
        d.last_connected_at = base - (n % 60) * 86_400 - 3_600
    middle = base - 30 * 86_400
    before = _truth(fresh, lambda d: d.last_connected_at < middle)
    after = _truth(fresh, lambda d: d.last_connected_at >= middle)
    assert before and after
    assert _listed(fresh_cli, "--last-seen-before", _stamp(middle)) == before
    assert _listed(fresh_cli, "--last-seen-after", _stamp(middle)) == after
    day = _dt.datetime.fromtimestamp(middle, _dt.UTC).date().isoformat()  # midnight UTC
    midnight = int(_dt.datetime.fromisoformat(day).replace(tzinfo=_dt.UTC).timestamp())
    assert _listed(fresh_cli, "--last-seen-after", day) == _truth(
        fresh, lambda d: d.last_connected_at >= midnight)
    assert _listed(fresh_cli, "--last-seen-after", _stamp(middle),
                   "--last-seen-before", _stamp(middle)) == set()
    # Repeated: a union (before the later of the two).
    assert _listed(fresh_cli, "--last-seen-before", _stamp(middle),
                   "--last-seen-before", _stamp(base - 50 * 86_400)) == before
    # A duration counts back from the real clock: every one of these is older than 30 days.
    assert _listed(fresh_cli, "--last-seen-before", "30d") == before | after


def test_last_seen_durations_and_dates() -> None:
    now = _dt.datetime(2026, 12, 1, 12, tzinfo=_dt.UTC)
    f = DeviceFilter(last_seen_before=["30d", "2w"], last_seen_after=["2026-11-01"], now=now)
    assert f.seen_before == [now - _dt.timedelta(days=30), now - _dt.timedelta(days=14)]
    assert f.seen_after == [_dt.datetime(2026, 11, 1, tzinfo=_dt.UTC)]
    assert DeviceFilter(last_seen_after=["12h"], now=now).seen_after == [
        now - _dt.timedelta(hours=12)]
    with pytest.raises(CliError, match="neither a duration"):
        DeviceFilter(last_seen_before=["soon"])


@pytest.mark.parametrize(("value", "pred"), [
    ("any", lambda d: d.compliance != 0),
    ("none", lambda d: d.compliance == 0),
    ("compromised", lambda d: d.compliance & ComplianceReason.COMPROMISED.value),
    ("OS_VERSION_UNSUPPORTED",
     lambda d: d.compliance & ComplianceReason.OS_VERSION_UNSUPPORTED.value),
])
def test_compliance_filter(cli: Invoke, shared: SimThread, value: str, pred: Pred) -> None:
    want = _truth(shared, pred)
    assert want and _listed(cli, "--compliance", value) == want


def test_quarantined_blocked_and_ownership(cli: Invoke, shared: SimThread) -> None:
    every = (DeviceStatus.ACTIVE, DeviceStatus.LOST)
    quarantined = _truth(shared, lambda d: d.quarantined != 0, every)
    assert quarantined
    assert _listed(cli, "--quarantined", "--status", "ACTIVE", "--status", "LOST") == (
        quarantined)
    blocked = _truth(shared, lambda d: d.block_reason != 0)
    assert blocked and _listed(cli, "--blocked") == blocked
    employee = _truth(shared, lambda d: d.employee_owned)
    company = _truth(shared, lambda d: not d.employee_owned)
    assert employee and company
    assert _listed(cli, "--employee-owned") == employee
    assert _listed(cli, "--company-owned") == company
    assert _listed(cli, "--employee-owned", "--company-owned") == employee | company
    assert _listed(cli, "--company-owned", "--platform", "ios", "--compliance", "any") == (
        _truth(shared, lambda d: not d.employee_owned and d.kind == "ios" and d.compliance != 0))


def _label_members(st: SimThread, name: str) -> set[str]:
    label = st.sim.fleet.label_named(name)
    assert label is not None
    return {d.uuid for d in st.sim.fleet.devices.values()
            if label.matches(d) and d.status != DeviceStatus.RETIRED}


def test_all_labels_is_an_intersection(cli: Invoke, shared: SimThread) -> None:
    sizes = {}
    for label in shared.sim.fleet.labels:
        sizes[label.name] = _label_members(shared, label.name)
    names = sorted(sizes, key=lambda n: -len(sizes[n]))
    a, b = names[0], names[1]
    both = sizes[a] & sizes[b]
    assert both and both != sizes[a] | sizes[b]
    assert _listed(cli, "--label", a, "--label", b) == sizes[a] | sizes[b]
    assert _listed(cli, "--label", a, "--label", b, "--all-labels") == both
    ios = {u for u in both if shared.sim.fleet.devices[u].kind == "ios"}
    assert _listed(cli, "--label", a, "--label", b, "--all-labels", "--platform", "ios") == ios


def test_bad_filter_values_are_usage_errors(cli: Invoke) -> None:
    _usage_error(cli("devices", "list", "--platform", "symbian"), "unknown platform")
    _usage_error(cli("devices", "list", "--os-version", "~17"), "not a comparison")
    _usage_error(cli("devices", "list", "--compliance", "compromized"), "COMPROMISED")
    _usage_error(cli("lock", "--platform", "ios", "--last-seen-after", "yesterday"),
                 "--last-seen-after")


def test_action_with_filters_dry_run_counts(cli: Invoke, shared: SimThread) -> None:
    ios = _truth(shared, lambda d: d.kind == "ios")
    old = _truth(shared, lambda d: d.kind == "ios" and _version(d.platform) < (17,))
    active = _truth(shared, lambda d: True)
    r = cli("lock", "--platform", "ios", "--os-version", "<17", "--dry-run", "-o", "json",
            "--no-v2")
    assert r.exit_code == 0, r.output
    assert f"platform ios: kept {len(ios):,} of {len(active):,}" in r.stderr
    assert f"os-version <17: kept {len(old):,} of {len(ios):,}" in r.stderr
    plan = json.loads(r.stdout)
    assert set(plan["devices"]) == old
    # With v2 the platform runs on the server: its query's line, then the client's filter.
    r = cli("lock", "--platform", "ios", "--os-version", "<17", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert lines[0].startswith('API v2 query "common.status"="ACTIVE" AND ')
    assert lines[0].endswith(f": kept {len(ios):,} of {len(active):,}")
    assert lines[1] == f"os-version <17: kept {len(old):,} of {len(ios):,}"
    assert set(json.loads(r.stdout)["devices"]) == old


def test_action_sends_to_the_filtered_devices(fresh_cli: Invoke, fresh: SimThread,
                                              tmp_path: Path) -> None:
    want = _truth(fresh, lambda d: d.kind == "windows" and not d.employee_owned)
    report = tmp_path / "r.jsonl"
    r = fresh_cli("wakeup", "--platform", "windows", "--company-owned", "--report", str(report))
    assert r.exit_code == 0, r.output
    assert {json.loads(x)["device"] for x in report.read_text().splitlines()} == want


# -- --from-report ---------------------------------------------------------------------------


def _statuses(path: Path) -> dict[str, str]:
    if path.suffix == ".csv":
        import csv
        with path.open() as f:
            return {row["device"]: row["status"] for row in csv.DictReader(f)}
    return {json.loads(x)["device"]: json.loads(x)["status"]
            for x in path.read_text().splitlines() if x.strip()}


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_from_report_retries_what_did_not_succeed(fresh_cli: Invoke, fresh: SimThread,
                                                  tmp_path: Path, suffix: str) -> None:
    active = sorted(_truth(fresh, lambda d: True))[:40]
    retired = sorted(_truth(fresh, lambda d: True, (DeviceStatus.RETIRED,)))[:3]
    args = [a for u in active + retired for a in ("--uuid", u)]
    # An earlier run with failures: the server is down for five of the devices (503, each
    # retry too, nothing applied): FAILED.
    down = active[:5]
    fresh.sim.set_faults(Faults(error_rate=1.0, error_statuses=(503,), retry_after=0.01,
                                paths=tuple(f"/devices/lock/{u}" for u in down)))
    first = tmp_path / f"first{suffix}"
    r = fresh_cli("lock", "--reason", "r", *args, "--report", str(first))
    fresh.sim.set_faults(Faults())
    assert r.exit_code == 1, r.output
    outcomes = _statuses(first)
    failed = {u for u, s in outcomes.items() if s == "failed"}
    assert failed == set(down), sorted(outcomes.values())
    assert {"succeeded", "invalid"} <= set(outcomes.values())
    again = tmp_path / "again.jsonl"
    before = len(fresh.sim.received.requests)
    r = fresh_cli("lock", "--reason", "r", "--from-report", str(first), "--report", str(again))
    assert r.exit_code == 0, r.output
    assert set(_statuses(again)) == failed
    sent = {q.path.rsplit("/", 1)[-1] for q in fresh.sim.received.requests[before:]
            if "/lock" in q.path}
    assert sent == failed
    # Several statuses, comma-separated and repeated.
    r = fresh_cli("lock", "--from-report", str(first), "--only", "succeeded,invalid",
                  "--only", "failed", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.stdout)["devices"]) == set(outcomes)


def test_from_report_reads_devices_and_macs(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    uuid1, uuid2 = "05dad041-2235-4c81-9fb1-1dd3c15e0b30", "15dad041-2235-4c81-9fb1-1dd3c15e0b30"
    path.write_text("\n".join(json.dumps(x) for x in (
        {"device": uuid1, "status": "failed"},
        {"device": uuid2, "status": "succeeded"},
        {"device": "38AA3C62BFAD", "status": "unknown"},
        {"device": uuid1, "status": "failed"},
    )) + "\n")
    assert [str(t) for t in read_report_file(path, parse_only(None))] == [
        uuid1, "38AA3C62BFAD"]
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(f"device,action,status\n{uuid1},lock,cancelled\n{uuid2},lock,failed\n")
    assert read_report_file(csv_path, ["failed"]) == [uuid2]
    assert read_report_file(csv_path, parse_only(None)) == [uuid1, uuid2]


def test_from_report_errors(fresh_cli: Invoke, fresh: SimThread, tmp_path: Path) -> None:
    ok = tmp_path / "ok.jsonl"
    ok.write_text(json.dumps({"device": "05dad041-2235-4c81-9fb1-1dd3c15e0b30",
                              "status": "succeeded"}) + "\n")
    before = len(fresh.sim.received.requests)
    _usage_error(fresh_cli("lock", "--from-report", str(ok), "--only", "broken"),
                 "unknown outcome")
    _usage_error(fresh_cli("lock", "--from-report", str(ok)), "no devices matched")
    r = fresh_cli("lock", "--from-report", str(ok), "--allow-empty")
    assert r.exit_code == 0, r.output
    _usage_error(fresh_cli("lock", "--uuid", "05dad041-2235-4c81-9fb1-1dd3c15e0b30",
                           "--only", "failed"), "--only goes with --from-report")
    plain = tmp_path / "list.txt"
    plain.write_text("05dad041-2235-4c81-9fb1-1dd3c15e0b30\n")
    _usage_error(fresh_cli("lock", "--from-report", str(plain)), "not a report")
    assert len(fresh.sim.received.requests) == before


# -- pre-flight ------------------------------------------------------------------------------


def _sent_to(st: SimThread, since: int, action: str) -> str:
    return "".join(r.path + "?" + r.query for r in st.sim.received.requests[since:]
                   if f"/{action}" in r.path.lower())


def test_preflight_skips_wiped_devices_for_lock(fresh_cli: Invoke, fresh: SimThread,
                                                tmp_path: Path) -> None:
    wiped = _truth(fresh, lambda d: True, (DeviceStatus.WIPED,))
    active = _truth(fresh, lambda d: True)
    assert wiped
    report = tmp_path / "r.jsonl"
    before = len(fresh.sim.received.requests)
    r = fresh_cli("lock", "--status", "WIPED", "--status", "ACTIVE", "--report", str(report))
    assert r.exit_code == 1, r.output
    rows = [json.loads(x) for x in report.read_text().splitlines()]
    skipped = {x["device"] for x in rows if x["status"] == "skipped"}
    assert skipped == wiped and {x["reason"] for x in rows if x["status"] == "skipped"} == {
        "wiped"}
    assert {x["device"] for x in rows if x["status"] == "succeeded"} == active
    sent = _sent_to(fresh, before, "lock")
    assert sent and not any(u in sent for u in wiped)
    assert "skipped" in r.stderr


def test_preflight_skips_retired_devices_for_wipe(fresh_cli: Invoke, fresh: SimThread,
                                                  tmp_path: Path) -> None:
    retired = _truth(fresh, lambda d: True, (DeviceStatus.RETIRED,))
    assert retired
    r = fresh_cli("wipe", "--status", "RETIRED", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["devices"] == [] and plan["skipped"] == dict.fromkeys(retired, "retired")
    r = fresh_cli("wipe", "--status", "RETIRED", "--dry-run")
    assert r.exit_code == 0 and f"{len(retired):,} retired" in r.stdout, r.output
    report = tmp_path / "w.csv"
    before = len(fresh.sim.received.requests)
    r = fresh_cli("wipe", "--status", "RETIRED", "--yes", "--report", str(report))
    assert r.exit_code == 1, r.output
    assert _statuses(report) == dict.fromkeys(retired, "skipped")
    assert _sent_to(fresh, before, "wipe") == ""
    assert {d.status for d in fresh.sim.fleet.devices.values() if d.uuid in retired} == {
        DeviceStatus.RETIRED}


def test_no_preflight_sends_them(fresh_cli: Invoke, fresh: SimThread, tmp_path: Path) -> None:
    wiped = _truth(fresh, lambda d: True, (DeviceStatus.WIPED,))
    report = tmp_path / "r.jsonl"
    before = len(fresh.sim.received.requests)
    r = fresh_cli("lock", "--status", "WIPED", "--reason", "r", "--no-preflight",
                  "--report", str(report))
    assert r.exit_code == 1, r.output
    sent = _sent_to(fresh, before, "lock")
    assert all(u in sent for u in wiped)
    assert "skipped" not in set(_statuses(report).values())


def test_preflight_does_not_look_up_uuids(fresh_cli: Invoke, fresh: SimThread) -> None:
    # A device named only by uuid has no listed record: it is sent (the server refuses it).
    wiped = sorted(_truth(fresh, lambda d: True, (DeviceStatus.WIPED,)))[0]
    r = fresh_cli("lock", "--uuid", wiped, "--reason", "r", "-o", "jsonl")
    assert r.exit_code == 1, r.output
    row = json.loads(r.stdout)
    assert row["status"] == "invalid" and row["reason"] == "wiped"


def test_preflight_states_come_from_the_registry() -> None:
    from epmm_async.cli.targets import preflight_skips
    from epmm_async.core.actions import action_spec
    assert action_spec("retire").refused_states == {DeviceStatus.RETIRED}
    assert DeviceStatus.WIPED in action_spec("lock").refused_states
    assert preflight_skips(action_spec("message").refused_states, {}) == {}
