"""Which devices an action command selects: unions of repeated options, selections that match
nothing, phone numbers, roaming's explicit choice, Excel CSV files, and the --help texts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cli_support import Invoke, SimThread
from typer.testing import Result

from epmm_async import ClientConfig, EpmmClient
from epmm_async.cli.common import CliError
from epmm_async.cli.targets import (
    DeviceFilter,
    TargetSpec,
    check_selection_exists,
    phone_digits,
    select_devices,
)
from epmm_async.enums import DeviceStatus

ACTIONS = ("lock", "unlock", "wipe", "retire", "wakeup", "locate", "message", "roaming",
           "repush")


def _members(st: SimThread, *labels: str) -> set[str]:
    """The devices a label search answers with (members that are not retired)."""
    found: set[str] = set()
    for name in labels:
        label = st.sim.fleet.label_named(name)
        assert label is not None
        found |= {d.uuid for d in st.sim.fleet.devices.values()
                  if label.matches(d) and d.status != DeviceStatus.RETIRED}
    return found


def _with_status(st: SimThread, *statuses: DeviceStatus) -> set[str]:
    return {d.uuid for d in st.sim.fleet.devices.values() if d.status in statuses}


def _of_user(st: SimThread, user: str) -> set[str]:
    return {d.uuid for d in st.sim.fleet.devices.values()
            if d.user.principal == user and d.status != DeviceStatus.RETIRED}


def _report(path: Path) -> list[str]:
    """The devices of a JSON-lines report, in order (duplicates kept)."""
    return [json.loads(line)["device"] for line in path.read_text().splitlines() if line]


def _usage_error(r: Result, *needles: str) -> None:
    """Exit 2, nothing on stdout, one ``error:`` line on stderr containing the needles."""
    assert r.exit_code == 2, r.output
    assert r.stdout == "", r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _no_error(r: Result) -> None:
    assert "error:" not in r.stderr and "Traceback" not in r.output, r.output
    assert "error:" not in r.stdout


# -- 1. repeated target options are a union, deduplicated by device ------------------------


def test_repeated_labels_are_a_union(fresh_cli: Invoke, fresh: SimThread,
                                     tmp_path: Path) -> None:
    report = tmp_path / "lock.jsonl"
    r = fresh_cli("lock", "--label", "Sales", "--label", "Field Engineers",
                  "--report", str(report))
    assert r.exit_code in (0, 1), r.output  # a static label may hold a device lock refuses
    _no_error(r)
    devices = _report(report)
    expected = _members(fresh, "Sales", "Field Engineers")
    assert len(expected) > len(_members(fresh, "Sales")) > 0
    assert set(devices) == expected
    assert len(devices) == len(set(devices))  # the two labels share devices: each once
    locked = {e.uuid for e in fresh.sim.ledger.entries if e.action == "LOCK"}
    assert locked <= expected and locked


def test_repeated_files_uuids_and_users_are_a_union(fresh_cli: Invoke, fresh: SimThread,
                                                    tmp_path: Path) -> None:
    jdoe = sorted(_of_user(fresh, "jdoe"))
    other = sorted(_of_user(fresh, "mwilson188"))
    active = sorted(_with_status(fresh, DeviceStatus.ACTIVE) - set(jdoe) - set(other))
    one = tmp_path / "one.txt"
    two = tmp_path / "two.txt"
    one.write_text(f"{active[0]}\n{active[1]}\n")
    two.write_text(f"{active[1]}\n{active[2]}\n{jdoe[0]}\n")
    report = tmp_path / "wakeup.jsonl"
    r = fresh_cli("wakeup", "--from-file", str(one), "--from-file", str(two),
                  "--uuid", active[3], "--uuid", jdoe[1].upper(),
                  "--user", "jdoe", "--user", "mwilson188", "--report", str(report))
    assert r.exit_code in (0, 1), r.output
    _no_error(r)
    devices = _report(report)
    assert set(devices) == {*active[:4], *jdoe, *other}
    assert len(devices) == len(set(devices))
    assert {e.uuid for e in fresh.sim.ledger.entries if e.action == "WAKEUP"} <= set(devices)


def test_repeated_status_is_a_union(fresh_cli: Invoke, fresh: SimThread,
                                    tmp_path: Path) -> None:
    report = tmp_path / "w.jsonl"
    r = fresh_cli("wakeup", "--status", "LOST", "--status", "expired", "--report", str(report))
    assert r.exit_code in (0, 1), r.output
    _no_error(r)
    expected = _with_status(fresh, DeviceStatus.LOST, DeviceStatus.EXPIRED)
    assert len(expected) > len(_with_status(fresh, DeviceStatus.LOST)) > 0
    assert sorted(_report(report)) == sorted(expected)


def test_status_narrows_a_label(fresh_cli: Invoke, fresh: SimThread, tmp_path: Path) -> None:
    report = tmp_path / "w.jsonl"
    r = fresh_cli("wakeup", "--label", "iOS", "--label", "macOS", "--status", "ACTIVE",
                  "--report", str(report))
    assert r.exit_code in (0, 1), r.output
    expected = _members(fresh, "iOS", "macOS") & _with_status(fresh, DeviceStatus.ACTIVE)
    assert expected < _members(fresh, "iOS", "macOS")
    assert sorted(_report(report)) == sorted(expected)


def test_mac_target_and_its_label_act_once(fresh_cli: Invoke, fresh: SimThread,
                                           tmp_path: Path) -> None:
    members = _members(fresh, "R&D/Prototypes") & _with_status(fresh, DeviceStatus.ACTIVE)
    device = fresh.sim.fleet.devices[sorted(members)[0]]
    report = tmp_path / "lock.jsonl"
    r = fresh_cli("lock", "--mac", device.wifi_mac.lower(), "--label", "R&D/Prototypes",
                  "--reason", "audit", "--report", str(report))
    assert r.exit_code in (0, 1), r.output
    assert fresh.sim.ledger.count(device.uuid, "LOCK") == 1
    assert len(_report(report)) == len(_members(fresh, "R&D/Prototypes"))


# -- 2. a selection that matches nothing is an error ---------------------------------------


def test_unknown_label_is_an_error_with_suggestions(fresh_cli: Invoke,
                                                    fresh: SimThread) -> None:
    r = fresh_cli("wipe", "--label", "Slaes", "--yes")
    _usage_error(r, 'unknown label "Slaes"', '"Sales"')
    r = fresh_cli("lock", "--label", "Sales", "--label", "field engineer", "--label", "Qwxz",
                  "--allow-empty", "--dry-run")
    _usage_error(r, 'unknown label "field engineer"', '"Field Engineers"',
                 'unknown label "Qwxz"', "epmm labels")
    assert fresh.sim.ledger.entries == []
    assert {rec.path.rsplit("/", 1)[-1] for rec in fresh.sim.received.requests} == {"labels"}


def test_label_names_are_case_insensitive(fresh_cli: Invoke, fresh: SimThread,
                                          tmp_path: Path) -> None:
    report = tmp_path / "w.jsonl"
    r = fresh_cli("wakeup", "--label", "équipe paris", "--report", str(report))
    assert r.exit_code in (0, 1), r.output
    assert set(_report(report)) == _members(fresh, "Équipe Paris")


def test_user_without_devices_is_an_error(fresh_cli: Invoke, fresh: SimThread) -> None:
    r = fresh_cli("retire", "--user", "jdoe", "--user", "jdeo", "--yes")
    _usage_error(r, "no devices for user 'jdeo'")
    assert fresh.sim.ledger.entries == []
    r = fresh_cli("retire", "--user", "jdeo", "--yes", "--allow-empty")
    assert r.exit_code == 0, r.output
    assert "nothing to do" in r.output
    assert fresh.sim.ledger.entries == []


def test_known_label_without_devices(fresh_cli: Invoke, fresh: SimThread) -> None:
    r = fresh_cli("wipe", "--label", "Empty Label", "--yes")
    _usage_error(r, 'no devices matched label "Empty Label"', "--allow-empty")
    r = fresh_cli("wipe", "--label", "Empty Label", "--yes", "--allow-empty")
    assert r.exit_code == 0, r.output
    assert "nothing to do" in r.output and "error:" not in r.output
    r = fresh_cli("wakeup", "--label", "Lost Devices", "--status", "ACTIVE")
    _usage_error(r, 'no devices matched label "Lost Devices", status ACTIVE')
    assert fresh.sim.ledger.entries == []


def test_empty_file_is_an_error_before_any_request(fresh_cli: Invoke, fresh: SimThread,
                                                   tmp_path: Path) -> None:
    empty = tmp_path / "queue.txt"
    empty.write_text("# nothing today\n\n")
    header_only = tmp_path / "export.csv"
    header_only.write_text("uuid,user,platform\n")
    for path in (empty, header_only):
        r = fresh_cli("wipe", "--from-file", str(path), "--yes")
        _usage_error(r, str(path), "no devices in this file")
    one = sorted(_with_status(fresh, DeviceStatus.ACTIVE))[0]
    r = fresh_cli("wakeup", "--uuid", one, "--from-file", str(empty))  # still an error
    _usage_error(r, str(empty))
    assert fresh.sim.received.requests == []
    r = fresh_cli("wipe", "--from-file", str(empty), "--yes", "--allow-empty")
    assert r.exit_code == 0, r.output
    assert "nothing to do" in r.output
    assert fresh.sim.ledger.entries == []


def test_check_selection_exists_for_devices_list(shared: SimThread) -> None:
    """The check ``devices list`` calls: unknown labels and users without devices."""

    async def check(selection: DeviceFilter, **kwargs: bool) -> None:
        async with EpmmClient(
            shared.sim.url,
            username=shared.sim.username,
            password=shared.sim.password,
            config=ClientConfig(allow_insecure_http=True),
        ) as epmm:
            await check_selection_exists(epmm, selection, **kwargs)

    asyncio.run(check(DeviceFilter(labels=["sales", "Empty Label"], users=["jdoe"])))
    with pytest.raises(CliError) as info:
        asyncio.run(check(DeviceFilter(label="No Such Label")))
    assert info.value.code == 2 and 'unknown label "No Such Label"' in info.value.message
    with pytest.raises(CliError) as info:
        asyncio.run(check(DeviceFilter(user="nobody-at-all")))
    assert info.value.code == 2 and "'nobody-at-all'" in info.value.message
    asyncio.run(check(DeviceFilter(user="nobody-at-all"), users=False))


# -- 3. phone numbers compare as digits; the server's selection is not filtered again -------


def test_phone_with_plus_finds_the_device(cli: Invoke, shared: SimThread) -> None:
    device = next(d for d in shared.sim.fleet.devices.values()
                  if d.phone_number and d.status == DeviceStatus.ACTIVE)
    for given in (f"+{device.phone_number}", device.phone_number):
        r = cli("devices", "list", "--phone", given, "--output", "jsonl")
        assert r.exit_code == 0, r.output
        assert r.stderr == ""
        rows = [json.loads(line) for line in r.stdout.splitlines()]
        assert [row["uuid"] for row in rows] == [device.uuid], given


def test_phone_filter_after_another_search(shared: SimThread) -> None:
    device = next(d for d in shared.sim.fleet.devices.values()
                  if d.phone_number and d.status == DeviceStatus.ACTIVE)
    number = device.phone_number
    assert number is not None
    spaced = f"+{number[0]} ({number[1:4]}) {number[4:7]}-{number[7:]}"
    assert phone_digits(spaced) == number

    async def select(selection: DeviceFilter) -> list[str]:
        async with EpmmClient(
            shared.sim.url,
            username=shared.sim.username,
            password=shared.sim.password,
            config=ClientConfig(allow_insecure_http=True),
        ) as epmm:
            return [d.uuid async for d in select_devices(epmm, selection)]

    user = device.user.principal
    assert device.uuid in asyncio.run(select(DeviceFilter(users=[user, user.upper()])))
    # A MAC search narrowed by a phone number written another way.
    found = asyncio.run(select(DeviceFilter(macs=[device.wifi_mac], phones=[spaced])))
    assert found == [device.uuid]
    found = asyncio.run(select(DeviceFilter(phones=[f"+{number}"], statuses=["active"])))
    assert found == [device.uuid]


# -- 5. roaming needs an explicit choice ---------------------------------------------------


def test_roaming_needs_both_choices(fresh_cli: Invoke, fresh: SimThread) -> None:
    ios = next(d.uuid for d in fresh.sim.fleet.devices.values()
               if d.kind == "ios" and d.status == DeviceStatus.ACTIVE)
    r = fresh_cli("roaming", "--uuid", ios)
    _usage_error(r, "--voice or --no-voice", "--data or --no-data")
    r = fresh_cli("roaming", "--uuid", ios, "--voice")
    _usage_error(r, "--data or --no-data")
    r = fresh_cli("roaming", "--uuid", ios, "--no-voice", "--data")
    _usage_error(r, "--no-voice --no-data")
    assert fresh.sim.received.requests == []
    r = fresh_cli("roaming", "--uuid", ios, "--voice", "--no-data")
    assert r.exit_code == 0, r.output
    [entry] = [e for e in fresh.sim.ledger.entries if e.action == "ROAMING"]
    assert entry.uuid == ios and entry.detail == "voice=true data=false"


# -- 13. Excel files ------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "sep"), [("utf-8-sig", ","), ("utf-8-sig", ";"),
                                                ("utf-16", "\t")])
def test_excel_csv_with_byte_order_mark(fresh_cli: Invoke, fresh: SimThread, tmp_path: Path,
                                        encoding: str, sep: str) -> None:
    uuids = sorted(_with_status(fresh, DeviceStatus.ACTIVE))[:2]
    table = tmp_path / "Devices.csv"
    rows = [f"uuid{sep}Name"] + [f"{u}{sep}phone {n}" for n, u in enumerate(uuids)]
    table.write_bytes("\r\n".join(rows).encode(encoding))
    if encoding == "utf-8-sig":
        assert table.read_bytes().startswith(b"\xef\xbb\xbfuuid")
    report = tmp_path / "w.jsonl"
    r = fresh_cli("wakeup", "--from-file", str(table), "--report", str(report))
    assert r.exit_code == 0, r.output
    _no_error(r)
    assert _report(report) == uuids


def test_file_that_is_not_utf8(fresh_cli: Invoke, tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("uuid,équipe\n".encode("latin-1"))
    _usage_error(fresh_cli("wakeup", "--from-file", str(latin)), str(latin), "not UTF-8")


# -- 9. the selection in words, for the wipe/retire confirmation ----------------------------


def test_describe_targets(tmp_path: Path) -> None:
    listed = tmp_path / "lost.txt"
    listed.write_text("05dad041-2235-4c81-9fb1-1dd3c15e0b30\n38:aa:3c:62:bf:ad\n")
    spec = TargetSpec(
        uuids=["05dad041-2235-4c81-9fb1-1dd3c15e0b31", "05dad041-2235-4c81-9fb1-1dd3c15e0b32"],
        from_files=[listed],
        selection=DeviceFilter(labels=["Sales", "Field Engineers", "sales"],
                               statuses=["lost"]),
    )
    assert spec.selection.labels == ["Sales", "Field Engineers"]
    assert spec.describe() == (
        f'label "Sales" or "Field Engineers", status LOST + 2 uuids + {listed}')
    spec.explicit()
    assert spec.describe().endswith(f"+ {listed} (2)")
    assert TargetSpec(macs=["38aa3c62bfad"]).describe() == "MAC 38aa3c62bfad"
    assert DeviceFilter(user="jdoe", phone="+1 555").describe() == 'user "jdoe", phone +1 555'
    with pytest.raises(CliError):
        DeviceFilter(statuses=["ACTIVE", "SLEEPY"])


# -- 14. --help: how targets combine, and examples -----------------------------------------


@pytest.mark.parametrize("command", ACTIONS)
def test_action_help_has_union_note_and_examples(cli: Invoke, command: str) -> None:
    r = cli(command, "--help")
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "Targets add up" in text and "any of them" in text and "--allow-empty" in text
    examples = r.stdout.split("Examples:", 1)[1]
    lines = [line.strip() for line in examples.splitlines() if line.strip()]
    assert lines and all(line.startswith(f"epmm {command} ") for line in lines)


def test_register_help_has_examples(cli: Invoke) -> None:
    r = cli("register", "--help")
    assert r.exit_code == 0
    assert "epmm register --user-id jdoe" in r.stdout.split("Examples:", 1)[1]


def test_message_help_does_not_claim_mac_goes_per_device(cli: Invoke) -> None:
    def mac_help(command: str) -> str:
        text = " ".join(cli(command, "--help").stdout.split())
        return text.split("--mac MAC", 1)[1].split("--from-file", 1)[0]

    assert "per device" not in mac_help("message") and "per-device" not in mac_help("message")
    assert "by MAC, so give MACs or uuids, not both" in mac_help("message")
    assert "MAC targets are sent per device" in mac_help("lock")
