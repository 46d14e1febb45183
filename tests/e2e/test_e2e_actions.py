"""State-changing calls, each on a fresh simulator: registration, per-device actions, locate-now,
roaming, profile re-push, bulk actions and messages. The simulator's ledger and fleet are the
ground truth; results of the same scenario in JSON and XML must be equal.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from epmm_async import (
    BadRequestError,
    BulkLimits,
    DeviceNotFound,
    DeviceStatus,
    EpmmClient,
    MacAddress,
    PasscodeMeaning,
    UserSource,
    ValidationError,
)
from epmm_async.simulator import SimDevice, Simulator

World = tuple[Simulator, EpmmClient]
UNKNOWN = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]


def _target(how: str, sd: SimDevice, device: Any) -> Any:
    if how == "uuid":
        return sd.uuid
    if how == "mac":
        return MacAddress(":".join(sd.wifi_mac[i : i + 2] for i in range(0, 12, 2)).lower())
    return device


def _expected_unlock(sd: SimDevice) -> str | None:
    """Q/F/NA for iOS and Android from the fleet's state; None means a numeric passcode."""
    if sd.kind == "ios":
        return "NA" if not sd.mdm_managed else ("Q" if sd.has_passcode else "F")
    if sd.kind == "android":
        return "NA" if not sd.online else ("Q" if sd.has_passcode else "F")
    return None


# -- registration ----------------------------------------------------------------------------------


async def test_register_local_ldap_and_pda(world: World, truth: Any) -> None:
    sim, epmm = world
    phone = "14155550123"
    assert not sim.fleet.by_phone(phone)
    local = await epmm.devices.register(
        user_id="new.local",
        platform="A",
        country_code=1,
        phone_number=f"+{phone}",
        user_first_name="Ann",
        user_last_name="Local",
        user_email_address="ann@example.com",
        employee_owned=True,
    )
    ldap = await epmm.devices.register(
        user_id="ldap.user", platform="I", country_code="44", phone_number="447700900123",
        import_user_from_ldap=True,
    )
    pda = await epmm.devices.register(
        user_id="jdoe", platform="A", country_code=49, device_type="PDA",
        user_first_name="Joe", user_last_name="Doe", user_email_address="jdoe@example.com",
    )
    for reg in (local, ldap, pda):
        assert reg.succeeded
        assert reg.status == ("SUCESS" if sim.quirks.misspelled_sucess else "SUCCESS")
        assert reg.passcode is not None and reg.passcode.isdigit() and len(reg.passcode) == 5
        assert reg.passcode_ttl_hours == 72
        assert reg.registration_url and reg.registration_url.startswith(sim.url)
        assert reg.device_uuid in sim.fleet.devices
        assert sim.ledger.count(reg.device_uuid, "REGISTER") == 1
    assert local.phone_number == phone
    assert pda.phone_number == "PDA"
    for reg, source, number in (
        (local, UserSource.LOCAL, phone),
        (ldap, UserSource.LDAP, "447700900123"),
        (pda, UserSource.LOCAL, None),
    ):
        assert reg.device_uuid is not None
        sd = sim.fleet.devices[reg.device_uuid]
        got = await epmm.devices.get(reg.device_uuid)
        assert got.status == DeviceStatus.VERIFICATION_PENDING
        assert got.status_code == DeviceStatus.VERIFICATION_PENDING.code
        assert got.phone_number == number
        assert got.user_source == source
        assert dict(got.details) == {}
        truth.check_device(got, sd, single=True)
    assert sim.fleet.devices[local.device_uuid or ""].employee_owned is True
    pending = {d.uuid for d in await epmm.devices.list("VERIFICATION_PENDING")}
    assert {local.device_uuid, ldap.device_uuid, pda.device_uuid} <= pending
    # Registering the same phone number again is refused by the server.
    with pytest.raises(BadRequestError) as info:
        await epmm.devices.register(
            user_id="ldap.user", platform="A", country_code=1, phone_number=phone,
            import_user_from_ldap=True,
        )
    assert any("already registered" in m for m in info.value.messages)


@pytest.mark.parametrize(
    "kwargs",
    [
        # a local user without names and email
        {"user_id": "x", "platform": "A", "country_code": 1, "phone_number": "14155550999"},
        # a phone without a number
        {"user_id": "x", "platform": "A", "country_code": 1, "import_user_from_ldap": True},
        # an unknown platform letter / device type / country code
        {"user_id": "x", "platform": "Z", "country_code": 1, "phone_number": "1415555",
         "import_user_from_ldap": True},
        {"user_id": "x", "platform": "A", "country_code": 1, "phone_number": "1415555",
         "import_user_from_ldap": True, "device_type": "Tablet"},
        {"user_id": "x", "platform": "A", "country_code": "US", "phone_number": "1415555",
         "import_user_from_ldap": True},
        {"user_id": "", "platform": "A", "country_code": 1, "phone_number": "1415555",
         "import_user_from_ldap": True},
        {"user_id": "x", "platform": "A", "country_code": 1, "phone_number": "1415555",
         "user_first_name": "A", "user_last_name": "B", "user_email_address": "no-at-sign"},
    ],
)
async def test_register_validation_before_sending(world: World, kwargs: dict[str, Any]) -> None:
    sim, epmm = world
    before = len(sim.fleet.devices)
    with pytest.raises(ValidationError):
        await epmm.devices.register(**kwargs)
    assert sim.stats.requests_total == 0
    assert len(sim.fleet.devices) == before


# -- per-device actions -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["uuid", "mac", "device"])
@pytest.mark.parametrize("kind", ["android", "ios", "windows"])
async def test_lock_unlock_wakeup_wipe_retire(world: World, how: str, kind: str) -> None:
    sim, epmm = world
    sd = next(
        d for d in sim.fleet.devices.values()
        if d.kind == kind and d.status == DeviceStatus.ACTIVE
    )
    device = await epmm.devices.get(sd.uuid)
    target = _target(how, sd, device)

    locked = await epmm.devices.lock(target, "lost on a train")
    assert locked.device_uuid == sd.uuid and locked.messages
    assert sim.ledger.count(sd.uuid, "LOCK") == 1 and sd.locked
    if kind == "windows":
        assert locked.unlock_passcode is not None and locked.unlock_passcode.isdigit()
    else:
        assert locked.unlock_passcode is None
    entry = next(e for e in sim.ledger.entries if e.action == "LOCK")
    assert (entry.via, entry.detail) == ("single", "lost on a train")

    unlocked = await epmm.devices.unlock(target, "found it")
    assert sim.ledger.count(sd.uuid, "UNLOCK") == 1 and not sd.locked
    assert len(unlocked.passcodes) == 1
    passcode = unlocked.passcodes[0]
    assert passcode.uuid == sd.uuid and passcode.name == sd.name
    want = _expected_unlock(sd)
    if want is None:
        assert passcode.value is not None and passcode.value.isdigit()
        assert passcode.meaning is PasscodeMeaning.PASSCODE
    else:
        assert passcode.value == want
        assert passcode.meaning is PasscodeMeaning(want)

    woken = await epmm.devices.wakeup(target)
    assert woken.device_uuid == sd.uuid
    assert sim.ledger.count(sd.uuid, "WAKEUP") == 1

    wiped = await epmm.devices.wipe(target, "stolen")
    assert wiped.device_uuid == sd.uuid
    assert sim.ledger.count(sd.uuid, "WIPE") == 1
    assert sd.status == DeviceStatus.WIPED
    assert (await epmm.devices.get(sd.uuid)).status == DeviceStatus.WIPED

    with pytest.raises(BadRequestError) as info:
        await epmm.devices.lock(target, "again")
    assert info.value.status == 400
    assert any("wiped" in m and sd.uuid in m for m in info.value.messages)
    assert sim.ledger.count(sd.uuid, "LOCK") == 1

    retired = await epmm.devices.retire(target)
    assert retired.device_uuid == sd.uuid
    assert sim.ledger.count(sd.uuid, "RETIRE") == 1
    assert sd.status == DeviceStatus.RETIRED
    with pytest.raises(BadRequestError):
        await epmm.devices.wakeup(target)
    # Each action was applied exactly once, and nothing else happened to the device.
    assert sorted(e.action for e in sim.ledger.entries) == sorted(
        ["LOCK", "UNLOCK", "WAKEUP", "WIPE", "RETIRE"]
    )


async def test_actions_validate_and_unknown_devices(world: World) -> None:
    sim, epmm = world
    sd = next(iter(sim.fleet.devices.values()))
    with pytest.raises(ValidationError):
        await epmm.devices.lock(sd.uuid, "")
    with pytest.raises(ValidationError):
        await epmm.devices.unlock(sd.uuid, "x" * 513)
    with pytest.raises(ValidationError):
        await epmm.devices.lock("nope", "reason")
    assert sim.stats.requests_total == 0
    with pytest.raises(DeviceNotFound):
        await epmm.devices.lock(UNKNOWN[0], "reason")
    with pytest.raises(DeviceNotFound):
        await epmm.devices.wakeup(MacAddress("02:00:00:00:00:01"))
    assert len(sim.ledger) == 0


@pytest.mark.parametrize(
    ("kind", "setup", "want"),
    [
        ("ios", {"mdm_managed": True, "has_passcode": True}, "Q"),
        ("ios", {"mdm_managed": True, "has_passcode": False}, "F"),
        ("ios", {"mdm_managed": False}, "NA"),
        ("android", {"online": True, "has_passcode": True}, "Q"),
        ("android", {"online": True, "has_passcode": False}, "F"),
        ("android", {"online": False}, "NA"),
    ],
)
async def test_unlock_passcode_meanings(
    quirks_name: str, fmt: str, world_factory: Callable[..., Any],
    kind: str, setup: dict[str, bool], want: str,
) -> None:
    async with world_factory(quirks_name, fmt) as (sim, epmm):
        sd = next(
            d for d in sim.fleet.devices.values()
            if d.kind == kind and d.status == DeviceStatus.ACTIVE
        )
        for name, value in setup.items():
            setattr(sd, name, value)
        result = await epmm.devices.unlock(sd.uuid, "help desk")
        assert [p.value for p in result.passcodes] == [want]
        assert result.passcodes[0].meaning is PasscodeMeaning(want)


# -- locate-now, roaming, profiles ---------------------------------------------------------------


async def test_locate_now(
    quirks_name: str, fmt: str, world_factory: Callable[..., Any]
) -> None:
    async with world_factory(quirks_name, fmt, time_scale=0.0005) as (sim, epmm):
        sd = next(
            d for d in sim.fleet.devices.values()
            if d.kind == "android" and d.status == DeviceStatus.ACTIVE and d.online
            and d.fix is not None
        )
        old = sd.fix
        assert old is not None
        first = await epmm.devices.locate(sd.uuid, locate_now=True)
        assert first.locate_now is True
        assert sim.ledger.count(sd.uuid, "LOCATE_NOW") == 1
        assert first.latest is not None and first.latest.latitude == old.latitude
        # The fix lands after U[2 s, 60 s] x time_scale (at most 30 ms here); poll for it.
        for _ in range(100):
            second = await epmm.devices.locate(MacAddress(sd.wifi_mac))
            if second.latest is not None and second.latest.latitude != old.latitude:
                break
            await asyncio.sleep(0.02)
        new = sd.current_fix()
        assert new is not None and new is not old
        loc = second.latest
        assert loc is not None and loc.found
        assert (loc.latitude, loc.longitude, loc.radius) == (
            new.latitude, new.longitude, new.radius
        )
        assert loc.lookup_result == new.lookup_result
        assert loc.captured_at is not None
        assert int(loc.captured_at.timestamp() * 1000) == new.captured_at_ms
        assert second.locate_now is False
        assert sim.ledger.count(sd.uuid, "LOCATE_NOW") == 1
        # The device's details carry the new fix too.
        got = await epmm.devices.get(sd.uuid)
        assert got.details.latitude == new.latitude
        # iOS ignores locate-now.
        ios = next(
            d for d in sim.fleet.devices.values()
            if d.kind == "ios" and d.status == DeviceStatus.ACTIVE
        )
        ignored = await epmm.devices.locate(ios.uuid, locate_now=True)
        assert ignored.locate_now is False
        assert ios.pending_fix is None


async def test_set_roaming(world: World) -> None:
    sim, epmm = world
    ios = next(
        d for d in sim.fleet.devices.values()
        if d.kind == "ios" and d.status == DeviceStatus.ACTIVE
    )
    result = await epmm.devices.set_roaming(ios.uuid, voice=False, data=True)
    assert result.device_uuid == ios.uuid
    assert len(result.messages) == 2
    assert sim.ledger.count(ios.uuid, "ROAMING") == 1
    got = await epmm.devices.get(ios.uuid)
    # Disabling voice roaming disables data roaming as well.
    assert got.details.voice_roaming_enabled is False
    assert got.details.data_roaming_enabled is False
    assert dict(got.details) == ios.details
    await epmm.devices.set_roaming(ios.uuid, voice=True, data=True)
    got = await epmm.devices.get(ios.uuid)
    assert (got.details.voice_roaming_enabled, got.details.data_roaming_enabled) == (True, True)
    android = next(
        d for d in sim.fleet.devices.values()
        if d.kind == "android" and d.status == DeviceStatus.ACTIVE
    )
    with pytest.raises(BadRequestError) as info:
        await epmm.devices.set_roaming(android.uuid, voice=True, data=True)
    assert any("iOS" in m for m in info.value.messages)
    assert sim.ledger.count(android.uuid, "ROAMING") == 0


async def test_repush_profile(world: World) -> None:
    sim, epmm = world
    sd = next(
        d for d in sim.fleet.devices.values()
        if d.kind == "ios" and d.status == DeviceStatus.ACTIVE
    )
    profiles = sim.fleet.profiles(sd)
    all_of_them = await epmm.devices.repush_profile(sd.uuid)
    assert all_of_them.device_uuid == sd.uuid
    assert all_of_them.messages == (f"{len(profiles)} profile(s) re-pushed.",)
    app = next(p for p in profiles if p.profile_type == "APP")
    one = await epmm.devices.repush_profile(sd.uuid, app.id, "app")
    assert one.messages == ("1 profile(s) re-pushed.",)
    assert sim.ledger.count(sd.uuid, "REPUSH") == 2
    details = [e.detail for e in sim.ledger.entries if e.action == "REPUSH"]
    assert details == ["all type=None", f"id={app.id} type=APP"]
    with pytest.raises(BadRequestError):
        await epmm.devices.repush_profile(sd.uuid, 999_999, "POLICY")
    with pytest.raises(ValidationError):
        await epmm.devices.repush_profile(sd.uuid, "abc")
    assert sim.ledger.count(sd.uuid, "REPUSH") == 2


# -- bulk ---------------------------------------------------------------------------------------


async def test_bulk_lock_with_unknown_devices(world: World) -> None:
    sim, epmm = world
    active = [d for d in sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE][:6]
    retired = next(d for d in sim.fleet.devices.values() if d.status == DeviceStatus.RETIRED)
    device = await epmm.devices.get(active[0].uuid)
    targets: list[Any] = [device, *(d.uuid.upper() for d in active[1:]), retired.uuid, *UNKNOWN]
    result = await epmm.bulk.action("LOCK", targets)
    assert sorted(result.invalid_devices) == sorted([retired.uuid, *UNKNOWN])
    assert not result.invalid_action
    for sd in active:
        assert sim.ledger.count(sd.uuid, "LOCK") == 1 and sd.locked
    assert all(e.via == "bulk" for e in sim.ledger.entries)
    assert len(sim.ledger) == len(active)


async def test_bulk_unlock_passcodes_and_failed(world: World) -> None:
    sim, epmm = world
    fleet = list(sim.fleet.devices.values())
    ok = [d for d in fleet if d.status == DeviceStatus.ACTIVE][:5]
    wiped = [d for d in fleet if d.status == DeviceStatus.WIPED][:2]
    assert len(wiped) == 2
    result = await epmm.bulk.action("UNLOCK", [d.uuid for d in ok + wiped])
    assert {p.uuid for p in result.passcodes} == {d.uuid for d in ok}
    for p in result.passcodes:
        sd = sim.fleet.devices[p.uuid or ""]
        want = _expected_unlock(sd)
        if want is None:
            assert p.value is not None and p.value.isdigit()
        else:
            assert p.value == want and p.meaning is PasscodeMeaning(want)
    assert len(result.failed_devices) == len(wiped)
    for sd in wiped:
        assert any(sd.uuid in m for m in result.failed_devices)
        assert sim.ledger.count(sd.uuid, "UNLOCK") == 0
    assert result.invalid_devices == []
    for sd in ok:
        assert sim.ledger.count(sd.uuid, "UNLOCK") == 1


async def test_bulk_wipe_and_retire(world: World) -> None:
    sim, epmm = world
    active = [d for d in sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE][:4]
    wipe = await epmm.bulk.action("WIPE", [d.uuid for d in active[:2]])
    assert wipe.invalid_devices == []
    assert [d.status for d in active[:2]] == [DeviceStatus.WIPED] * 2
    lock = await epmm.bulk.action("LOCK", [d.uuid for d in active])
    assert sorted(lock.invalid_devices) == sorted(d.uuid for d in active[:2])
    retire = await epmm.bulk.action("RETIRE", [d.uuid for d in active[:2]])
    assert retire.invalid_devices == []
    assert [d.status for d in active[:2]] == [DeviceStatus.RETIRED] * 2
    wake = await epmm.bulk.action("WAKEUP_DEVICE", [d.uuid for d in active])
    assert sorted(wake.invalid_devices) == sorted(d.uuid for d in active[:2])
    assert sim.ledger.actions("WAKEUP") == {d.uuid: 1 for d in active[2:]}


async def test_bulk_limits_checked_before_sending(
    quirks_name: str, fmt: str, world_factory: Callable[..., Any]
) -> None:
    limits = {"bulk": BulkLimits(max_uuids=5)}
    async with world_factory(quirks_name, fmt, client_kwargs=limits) as (sim, epmm):
        uuids = list(sim.fleet.devices)
        with pytest.raises(ValidationError, match="bulk limit"):
            await epmm.bulk.action("LOCK", uuids[:6])
        # The request-line budget binds long before the uuid count.
        epmm.bulk.limits = BulkLimits(max_uuids=20_000)
        with pytest.raises(ValidationError, match="request line"):
            await epmm.bulk.action("LOCK", uuids[:200])
        with pytest.raises(ValidationError, match="request line"):
            await epmm.bulk.send_message(uuids[:200], message="hi", mode="sms")
        with pytest.raises(ValidationError):
            await epmm.bulk.action("lock-all", uuids[:2])
        with pytest.raises(ValidationError):
            await epmm.bulk.action("LOCK", ["not-a-uuid"])
        assert sim.stats.requests_total == 0
        # Within limits (as a form body as well), the same call goes through.
        done = await epmm.bulk.action("LOCK", uuids[:5], form_body=sim.quirks.bulk_form_body)
        assert done.invalid_devices == [
            u for u in uuids[:5] if sim.fleet.devices[u].status
            in (DeviceStatus.WIPED, DeviceStatus.RETIRED)
        ]
        assert sim.stats.requests_total == 1


async def test_send_message_by_uuid_and_mac(world: World) -> None:
    sim, epmm = world
    fleet = list(sim.fleet.devices.values())
    active = [d for d in fleet if d.status == DeviceStatus.ACTIVE][:4]
    retired = next(d for d in fleet if d.status == DeviceStatus.RETIRED)

    sms = await epmm.bulk.send_message([d.uuid for d in active], message="Hello & bye", mode="sms")
    assert sms.invalid_devices == [] and sms.message_sent_failed is False
    assert sms.messages
    assert sim.ledger.actions("MESSAGE") == {d.uuid: 1 for d in active}

    macs = [
        MacAddress(d.wifi_mac.lower()) if n % 2 else MacAddress("-".join(
            d.wifi_mac[i : i + 2] for i in range(0, 12, 2)))
        for n, d in enumerate(active[:2])
    ]
    by_mac = await epmm.bulk.send_message(
        [*macs, MacAddress(retired.wifi_mac)], message="Über-message", mode="pns"
    )
    assert by_mac.invalid_devices == [retired.wifi_mac]
    assert by_mac.message_sent_failed is True
    assert sim.ledger.count(active[0].uuid, "MESSAGE") == 2
    assert sim.ledger.count(retired.uuid, "MESSAGE") == 0

    email = await epmm.bulk.send_message(
        [active[3].uuid, UNKNOWN[0]], message="Body text", mode="email", subject="Subj / 1"
    )
    assert email.invalid_devices == [UNKNOWN[0]]
    assert email.message_sent_failed is True
    last = sim.ledger.entries[-1]
    assert (last.uuid, last.action, last.detail) == (active[3].uuid, "MESSAGE",
                                                     "email:Subj / 1:Body text")
    with pytest.raises(ValidationError):
        await epmm.bulk.send_message([active[0].uuid], message="x", mode="sms", subject="no")
    with pytest.raises(ValidationError):
        await epmm.bulk.send_message([active[0].uuid, MacAddress(active[1].wifi_mac)],
                                     message="x", mode="sms")


# -- the same scenario in JSON and XML gives equal results ----------------------------------------


async def _scenario(sim: Simulator, epmm: EpmmClient) -> list[Any]:
    fleet = list(sim.fleet.devices.values())
    active = [d for d in fleet if d.status == DeviceStatus.ACTIVE]
    wiped = next(d for d in fleet if d.status == DeviceStatus.WIPED)
    windows = next(d for d in active if d.kind == "windows")
    ios = next(d for d in active if d.kind == "ios")
    reg = await epmm.devices.register(
        user_id="same.user", platform="I", country_code=1, phone_number="14155550777",
        import_user_from_ldap=True,
    )
    return [
        dataclasses.replace(_Reg(**msgspec.structs.asdict(reg)), registration_url=None),
        # Registered now: its timestamps are the clock's, which moves between the two runs.
        msgspec.structs.replace(
            await epmm.devices.get(reg.device_uuid or ""),
            registered_at=None, created_at=None, last_connected_at=None,
        ),
        await epmm.devices.lock(windows.uuid, "r"),
        await epmm.devices.unlock(windows.uuid, "r"),
        await epmm.devices.unlock(ios.uuid, "r"),
        await epmm.devices.wakeup(active[0].uuid),
        await epmm.devices.set_roaming(ios.uuid, voice=True, data=False),
        await epmm.devices.repush_profile(ios.uuid),
        await epmm.bulk.action("LOCK", [d.uuid for d in active[:3]] + UNKNOWN),
        await epmm.bulk.action("UNLOCK", [d.uuid for d in active[3:6]] + [wiped.uuid]),
        await epmm.bulk.send_message([d.uuid for d in active[:2]] + UNKNOWN[:1],
                                     message="m", mode="email", subject="s"),
        await epmm.bulk.send_message([MacAddress(active[0].wifi_mac)], message="m", mode="sms"),
        await epmm.devices.wipe(active[1].uuid),
        await epmm.devices.retire(active[1].uuid, "gone"),
        await epmm.devices.get(active[1].uuid),
    ]


@dataclasses.dataclass
class _Reg:
    device_uuid: str | None
    status: str | None
    passcode: str | None
    passcode_ttl_hours: int | None
    registration_url: str | None
    phone_number: str | None
    messages: tuple[str, ...]


async def test_json_and_xml_scenarios_are_equal(
    quirks_name: str, world_factory: Callable[..., Any]
) -> None:
    results = {}
    for fmt in ("json", "xml"):
        async with world_factory(quirks_name, fmt) as (sim, epmm):
            results[fmt] = await _scenario(sim, epmm)
    for n, (a, b) in enumerate(zip(results["json"], results["xml"], strict=True)):
        assert a == b, f"step #{n} differs between JSON and XML"
