"""Reads against a shared simulator: lists, details, CSV, searches, reference lists, locate.

Each test runs for json/xml x real/clean/optional quirks; results are compared with the
simulator's fleet (never with another client answer), and JSON with XML where both apply.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from epmm_async import (
    AuthenticationError,
    ClientConfig,
    DeviceNotFound,
    DeviceStatus,
    EpmmClient,
    ForbiddenError,
    LookupResult,
    MacAddress,
    ProfileType,
    ValidationError,
)
from epmm_async.simulator import SimDevice, Simulator

pytestmark = pytest.mark.asyncio(loop_scope="module")

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def _fleet(sim: Simulator) -> list[SimDevice]:
    return list(sim.fleet.devices.values())


def _with_status(sim: Simulator, status: DeviceStatus) -> list[SimDevice]:
    return [d for d in _fleet(sim) if d.status == status]


def _live(devices: list[SimDevice]) -> set[str]:
    return {d.uuid for d in devices if d.status != DeviceStatus.RETIRED}


# -- lists --------------------------------------------------------------------------------------


async def test_list_default_is_active_and_every_field_matches(
    reader: EpmmClient, shared: Simulator, truth: Any
) -> None:
    got = await reader.devices.list()
    want = _with_status(shared, DeviceStatus.ACTIVE)
    assert [d.uuid for d in got] == [d.uuid for d in want]
    for device, sd in zip(got, want, strict=True):
        truth.check_device(device, sd)


@pytest.mark.parametrize("page_size", [1_000, 7])
async def test_iter_every_status(reader: EpmmClient, shared: Simulator, page_size: int) -> None:
    seen_total = 0
    for status in DeviceStatus:
        want = [d.uuid for d in _with_status(shared, status)]
        got = [d.uuid async for d in reader.devices.iter(status, page_size=page_size)]
        assert got == want, status
        seen_total += len(got)
    assert seen_total == len(shared.fleet.devices)


async def test_list_by_status_string_fields(
    reader: EpmmClient, shared: Simulator, truth: Any
) -> None:
    for status in ("LOST", "wiped", DeviceStatus.RETIRED, "VERIFICATION_PENDING", "BLOCKED"):
        got = await reader.devices.list(status)
        want = _with_status(shared, DeviceStatus.parse(status))
        assert want, status
        assert [d.uuid for d in got] == [d.uuid for d in want]
        for device, sd in zip(got, want, strict=True):
            truth.check_device(device, sd)


async def test_page_offset_limit_and_total(reader: EpmmClient, shared: Simulator) -> None:
    active = _with_status(shared, DeviceStatus.ACTIVE)
    page = await reader.devices.page("ACTIVE", offset=10, limit=5)
    assert [d.uuid for d in page.devices] == [d.uuid for d in active[10:15]]
    assert page.total_count == len(active)
    beyond = await reader.devices.page("ACTIVE", offset=len(active), limit=5)
    assert beyond.devices == []


async def test_invalid_status_is_rejected_before_sending(
    reader: EpmmClient, shared: Simulator
) -> None:
    before = shared.stats.requests_total
    with pytest.raises(ValidationError):
        await reader.devices.list("SLEEPING")
    with pytest.raises(ValidationError):
        [d async for d in reader.devices.iter(page_size=0)]
    assert shared.stats.requests_total == before


# -- one device ----------------------------------------------------------------------------------


def _samples(sim: Simulator) -> list[SimDevice]:
    """A spread of devices: each kind and status, PDAs, extras, comments, pending details."""
    chosen: dict[str, SimDevice] = {}
    for d in _fleet(sim):
        for key in (
            f"kind:{d.kind}",
            f"status:{d.status}",
            "pda" if d.phone_number is None else "",
            "extras" if d.extras else "",
            "comment" if d.comment else "",
            "compliance" if d.compliance and d.quarantined and d.block_reason else "",
            "nofix" if d.fix is None and d.details else "",
        ):
            if key:
                chosen.setdefault(key, d)
    return list({d.uuid: d for d in chosen.values()}.values())


async def test_get_equals_fleet_and_listed_record(
    reader: EpmmClient, shared: Simulator, truth: Any
) -> None:
    samples = _samples(shared)
    assert len(samples) >= 10
    for sd in samples:
        got = await reader.devices.get(sd.uuid)
        truth.check_device(got, sd, single=True)
        listed = [d async for d in reader.devices.iter(sd.status) if d.uuid == sd.uuid]
        assert len(listed) == 1
        assert msgspec.structs.replace(got, current_phone_number=None) == listed[0]
    # The uuid is case-insensitive on the server; the client sends it lower-cased.
    upper = await reader.devices.get(samples[0].uuid.upper())
    assert upper.uuid == samples[0].uuid


async def test_get_unknown_uuid_raises_device_not_found(reader: EpmmClient) -> None:
    with pytest.raises(DeviceNotFound) as info:
        await reader.devices.get(UNKNOWN_UUID)
    assert info.value.status == 404
    assert any(UNKNOWN_UUID in m for m in info.value.messages)
    with pytest.raises(ValidationError):
        await reader.devices.get("not-a-uuid")


# -- CSV export -------------------------------------------------------------------------------


async def test_export_csv_has_every_device(reader: EpmmClient, shared: Simulator) -> None:
    rows = [row async for row in reader.devices.export_csv()]
    fleet = _fleet(shared)
    assert len(rows) == len(fleet)
    assert [r.uuid for r in rows] == [d.uuid for d in fleet]
    for row, sd in zip(rows, fleet, strict=True):
        assert row.principal == sd.principal
        assert row.phone_number == sd.phone_number
        assert row.platform == sd.platform
        assert row.status_code == sd.status_code
        assert row.compliance == sd.compliance
        assert row.quarantine_status == sd.quarantined
        assert row.employee_owned is sd.employee_owned
        assert row.mdm_enabled is sd.mdm_managed
        assert row.wifi_mac_address == sd.wifi_mac
        assert row.operator == (sd.operator.short_name if sd.operator else "PDA")
        assert row.country == sd.country.name
        assert row.imei == (sd.details.get("imei") or None)


# -- searches ---------------------------------------------------------------------------------


async def test_by_phone_one_and_several(
    reader: EpmmClient, shared: Simulator, truth: Any
) -> None:
    phones = [d for d in _fleet(shared) if d.phone_number]
    live = [d for d in phones if d.status != DeviceStatus.RETIRED]
    one = live[0]
    got = await reader.devices.by_phone(one.phone_number or "")
    assert [d.uuid for d in got] == [one.uuid]
    truth.check_device(got[0], one)
    # With the international '+' prefix, the same device.
    plus = await reader.devices.by_phone(f"+{one.phone_number}")
    assert [d.uuid for d in plus] == [one.uuid]
    several = live[1:4]
    got = await reader.devices.by_phone(*(d.phone_number or "" for d in several))
    assert {d.uuid for d in got} == {d.uuid for d in several}
    retired = next(d for d in phones if d.status == DeviceStatus.RETIRED)
    assert await reader.devices.by_phone(retired.phone_number or "") == []
    assert await reader.devices.by_phone("19999999999") == []
    assert await reader.devices.by_phone("19999999999", "19999999998") == []


async def test_by_user(reader: EpmmClient, shared: Simulator) -> None:
    owners: dict[str, list[SimDevice]] = {}
    for d in _fleet(shared):
        owners.setdefault(d.principal, []).append(d)
    multi = [p for p, ds in owners.items() if len(_live(ds)) >= 2]
    assert multi
    for principal in [*multi[:3], "jdoe"]:
        want = _live(owners.get(principal, []))
        got = await reader.devices.by_user(principal)
        assert {d.uuid for d in got} == want
        assert all(d.principal == principal for d in got)
    assert await reader.devices.by_user("nobody-here") == []
    assert await reader.devices.by_user("odd/user name") == []


async def test_by_label_every_label(reader: EpmmClient, shared: Simulator) -> None:
    fleet = _fleet(shared)
    for label in shared.fleet.labels:
        want = {d.uuid for d in fleet if label.matches(d) and d.status != DeviceStatus.RETIRED}
        got = await reader.devices.by_label(label.name)
        assert {d.uuid for d in got} == want, label.name
        assert len(got) == len(want), label.name
    names = {lb.name for lb in shared.fleet.labels}
    assert {"R&D/Prototypes", "Équipe Paris", "Field Engineers", "Empty Label"} <= names
    # Those odd names must have members in this fleet, or the test proves little.
    assert await reader.devices.by_label("R&D/Prototypes")
    assert await reader.devices.by_label("Équipe Paris")
    assert await reader.devices.by_label("Empty Label") == []
    assert await reader.devices.by_label("No Such Label") == []
    assert await reader.devices.by_label("..") == []


async def test_by_mac_in_several_notations(
    reader: EpmmClient, shared: Simulator, truth: Any
) -> None:
    fleet = _fleet(shared)
    retired = next(d for d in fleet if d.status == DeviceStatus.RETIRED)
    for sd in (fleet[0], fleet[5], retired):
        mac = sd.wifi_mac
        pairs = [mac[i : i + 2] for i in range(0, 12, 2)]
        for notation in (
            mac,
            mac.lower(),
            ":".join(pairs).lower(),
            "-".join(pairs),
            f"{mac[:4]}.{mac[4:8]}.{mac[8:]}".lower(),
            MacAddress(":".join(pairs)),
        ):
            got = await reader.devices.by_mac(notation)
            assert [d.uuid for d in got] == [sd.uuid], notation
        truth.check_device(got[0], sd)
    assert await reader.devices.by_mac("02:00:00:00:00:01") == []
    with pytest.raises(ValidationError):
        await reader.devices.by_mac("02:00:00:00:00")


# -- reference lists ---------------------------------------------------------------------------


async def test_labels_list(reader: EpmmClient, shared: Simulator) -> None:
    got = await reader.labels.list()
    counts = shared.fleet.label_counts()
    assert [lb.id for lb in got] == [lb.id for lb in shared.fleet.labels]
    for label, sl in zip(got, shared.fleet.labels, strict=True):
        assert label.name == sl.name
        assert label.description == sl.description
        assert label.static_label is sl.static
        assert label.query == (sl.query or None)
        assert label.device_count == counts[sl.id]
        assert label.is_es_search is sl.es_search
        assert bool(label.is_es_search) is sl.es_search
        assert label.is_default is (sl.id < 0)


async def test_operators_list(reader: EpmmClient, shared: Simulator) -> None:
    got = await reader.operators.list()
    assert len(got) == len(shared.fleet.operators)
    for op, so in zip(got, shared.fleet.operators, strict=True):
        assert op.id == so.id
        assert op.carrier_short_name == so.short_name
        assert op.carrier_type == so.carrier_type
        assert op.country_code == str(so.country.code)
        assert op.country_id == so.country.id
        assert op.country_name == so.country.name
        assert op.enabled is so.enabled


async def test_countries_list(reader: EpmmClient, shared: Simulator) -> None:
    got = await reader.countries.list()
    assert len(got) == len(shared.fleet.countries)
    for country, sc in zip(got, shared.fleet.countries, strict=True):
        assert country.country_name == sc.name
        assert country.country_code == str(sc.code)
        assert country.iso_alpha2_code == sc.iso
        assert country.enabled is sc.enabled


# -- profiles and locate (read-only) --------------------------------------------------------------


async def test_profiles(reader: EpmmClient, shared: Simulator) -> None:
    fleet = _fleet(shared)
    for sd in (
        next(d for d in fleet if d.kind == "ios" and d.status == DeviceStatus.ACTIVE),
        next(d for d in fleet if d.kind == "android" and d.status == DeviceStatus.ACTIVE),
    ):
        got = await reader.devices.profiles(sd.uuid)
        want = shared.fleet.profiles(sd)
        assert len(got) == len(want)
        for pr, sp in zip(got, want, strict=True):
            assert pr.id == sp.id
            assert pr.uuid == sp.uuid
            assert pr.name == sp.name
            assert pr.policy_type == sp.policy_type
            assert pr.profile_type == ProfileType(sp.profile_type)
            assert pr.status == "Applied"
            assert pr.last_updated_at == dt.datetime.fromtimestamp(
                sp.last_updated_at / 1000, tz=dt.UTC
            )
    retired = next(d for d in fleet if d.status == DeviceStatus.RETIRED)
    assert await reader.devices.profiles(retired.uuid) == []


async def test_locate_plain(reader: EpmmClient, shared: Simulator) -> None:
    fleet = _fleet(shared)
    live = [d for d in fleet if d.status == DeviceStatus.ACTIVE]
    with_fix = [d for d in live if d.fix is not None][:4]
    without = next(d for d in live if d.fix is None)
    for sd in with_fix:
        fix = sd.fix
        assert fix is not None
        for target in (sd.uuid, MacAddress(sd.wifi_mac)):
            got = await reader.devices.locate(target)
            assert got.device_uuid == sd.uuid
            assert got.locate_now is False
            assert len(got.locations) == 1
            loc = got.latest
            assert loc is not None and loc.found
            assert loc.uuid == sd.uuid
            assert loc.lookup_result == fix.lookup_result
            assert loc.latitude == fix.latitude
            assert loc.longitude == fix.longitude
            assert loc.radius == fix.radius
            assert loc.captured_at == dt.datetime.fromtimestamp(
                fix.captured_at_ms / 1000, tz=dt.UTC
            )
    got = await reader.devices.locate(without.uuid)
    assert len(got.locations) == 1
    assert got.locations[0].lookup_result == LookupResult.LOOKUP_FAILURE
    assert not got.locations[0].found
    with pytest.raises(DeviceNotFound):
        await reader.devices.locate(UNKNOWN_UUID)


# -- JSON and XML decode to equal structs ----------------------------------------------------------


async def test_json_and_xml_results_are_equal(
    both: tuple[EpmmClient, EpmmClient], shared: Simulator
) -> None:
    j, x = both
    fleet = _fleet(shared)
    sd = next(d for d in fleet if d.kind == "ios" and d.status == DeviceStatus.ACTIVE)
    phones = [d.phone_number for d in fleet if d.phone_number][:3]

    async def calls(c: EpmmClient) -> list[Any]:
        return [
            await c.devices.list(),
            await c.devices.list("VERIFICATION_PENDING"),
            await c.devices.page("LOST", offset=1, limit=3),
            await c.devices.get(sd.uuid),
            [r async for r in c.devices.export_csv()],
            await c.devices.by_phone(*phones),
            await c.devices.by_phone(phones[0]),
            await c.devices.by_user(sd.principal),
            await c.devices.by_label("Équipe Paris"),
            await c.devices.by_label("Empty Label"),
            await c.devices.by_mac(sd.wifi_mac),
            await c.labels.list(),
            await c.operators.list(),
            await c.countries.list(),
            await c.devices.profiles(sd.uuid),
            await c.devices.locate(sd.uuid),
        ]

    from_json, from_xml = await calls(j), await calls(x)
    for n, (a, b) in enumerate(zip(from_json, from_xml, strict=True)):
        if n == 2:  # a page also carries the server's messages, which match too
            assert a == b
        assert a == b, f"call #{n} differs between JSON and XML"


# -- authentication --------------------------------------------------------------------------------


async def test_wrong_password_and_forbidden_account(shared: Simulator, fmt: str) -> None:
    """Whatever the server's 401/403 convention (the quirk set decides), the error names both
    causes for a 401 and is never silent about which account failed."""
    async with EpmmClient(
        shared.url,
        username=shared.username,
        password="wrong",
        config=ClientConfig(response_format=fmt),
    ) as bad:
        with pytest.raises(AuthenticationError) as info:
            await bad.devices.list()
        assert info.value.status == 401
        assert "wrong credentials, or the account lacks the API role" in str(info.value)
        assert "wrong" not in str(info.value).replace("wrong credentials", "")
        if shared.quirks.auth_error_body == "api":
            assert info.value.messages
    async with EpmmClient(
        shared.url,
        username=shared.forbidden_username,
        password=shared.forbidden_password,
        config=ClientConfig(response_format=fmt),
    ) as forbidden:
        if shared.quirks.no_role_status == 401:
            with pytest.raises(AuthenticationError) as info1:
                await forbidden.labels.list()
            assert info1.value.status == 401
            assert "lacks the API role" in str(info1.value)
        else:
            with pytest.raises(ForbiddenError) as info2:
                await forbidden.labels.list()
            assert info2.value.status == 403
            assert any("API role" in m for m in info2.value.messages)
            assert shared.forbidden_password not in str(info2.value)
