"""Fleet generation: determinism, mix, invariants."""

from __future__ import annotations

from collections import Counter

from epmm_async.enums import DeviceStatus, UserSource
from epmm_async.simulator import Fleet, Quirks
from epmm_async.simulator.resources.devices import device_tree
from epmm_async.simulator.wire import encode_json, encode_xml


def test_same_seed_same_fleet() -> None:
    a, b = Fleet(500, seed=11), Fleet(500, seed=11)
    assert list(a.devices) == list(b.devices)
    for ua, ub in zip(a.devices.values(), b.devices.values(), strict=True):
        assert (ua.wifi_mac, ua.phone_number, ua.status, ua.principal) == (
            ub.wifi_mac,
            ub.phone_number,
            ub.status,
            ub.principal,
        )
        assert ua.details == ub.details
    assert list(Fleet(500, seed=12).devices) != list(a.devices)


def test_mix_and_invariants() -> None:
    fleet = Fleet(5000, seed=3)
    devices = list(fleet.devices.values())
    kinds = Counter(d.kind for d in devices)
    assert 0.40 < kinds["android"] / 5000 < 0.60
    assert 0.28 < kinds["ios"] / 5000 < 0.42
    assert kinds["windows"] and kinds["macos"]
    statuses = Counter(d.status for d in devices)
    assert statuses[DeviceStatus.ACTIVE] > 3500
    for s in (
        DeviceStatus.LOST,
        DeviceStatus.WIPED,
        DeviceStatus.RETIRED,
        DeviceStatus.VERIFICATION_PENDING,
        DeviceStatus.EXPIRED,
        DeviceStatus.BLOCKED,
    ):
        assert statuses[s] > 0
    macs = [d.wifi_mac for d in devices]
    assert len(set(macs)) == len(macs)
    assert all(len(m) == 12 and m == m.upper() for m in macs)
    assert any(d.phone_number is None for d in devices)
    phones = [d.phone_number for d in devices if d.phone_number]
    assert any(p.startswith("0") for p in phones)  # national form: stays a JSON string
    assert any(p.startswith("+") for p in phones)  # E.164 form: a JSON string
    assert any(p.isdigit() and p[0] != "0" for p in phones)  # digits: a JSON number
    assert len({p.lstrip("+") for p in phones}) == len(phones)
    assert fleet.by_phone(next(p for p in phones if p[0] == "+")[1:])
    principals = [u.principal for u in fleet.users.values()]
    assert any(p.isdigit() and p[0] != "0" for p in principals)
    assert any(p.isdigit() and p[0] == "0" for p in principals)
    assert all(d.status_code == d.status.code for d in devices)
    assert {u.source for u in fleet.users.values()} == {UserSource.LOCAL, UserSource.LDAP}
    owners = Counter(d.principal for d in devices)
    assert max(owners.values()) > 1
    assert any(d.compliance for d in devices) and any(d.extras for d in devices)
    assert sorted(lb.id for lb in fleet.labels if lb.id < 0) == [-5, -4, -3, -2, -1]
    assert any(" " in lb.name for lb in fleet.labels)
    assert any("/" in lb.name for lb in fleet.labels)


def test_details_per_platform() -> None:
    fleet = Fleet(400, seed=5)
    android = next(d for d in fleet.devices.values() if d.kind == "android" and not d.details_empty)
    ios = next(d for d in fleet.devices.values() if d.kind == "ios" and not d.details_empty)
    a, i = android.details, ios.details
    assert 20 <= len(a) <= 50 and 20 <= len(i) <= 50
    assert a["wifi_mac_addr"] == android.wifi_mac.lower()
    for key in (
        "device_model",
        "platform_name",
        "client_version",
        "imei",
        "security_state",
        "battery_life",
        "os_version",
    ):
        assert key in a
    for key in (
        "iPhone UDID",
        "Battery Level",
        "Current MCC",
        "WiFiMAC",
        "SerialNumber",
        "OSVersion",
        "Voice Roaming Enabled",
        "DataRoamingEnabled",
    ):
        assert key in i
    assert i["WiFiMAC"] == ios.wifi_mac
    pending = [d for d in fleet.devices.values() if d.status == DeviceStatus.VERIFICATION_PENDING]
    assert pending and all(d.details == {} for d in pending)


def test_a_page_of_a_big_fleet_encodes_in_both_formats() -> None:
    # How fast is the benchmarks' business; here, that a 20,000-device fleet builds and a
    # 500-device page of it encodes.
    fleet = Fleet(20_000, seed=1)
    assert len(fleet.devices) == 20_000
    page = list(fleet.devices.values())[:500]
    tree = {"devices": {"device": [device_tree(d) for d in page]}}
    assert encode_json(tree, Quirks()).count(b'"uuid"') == 500
    assert encode_xml(tree).count(b"<uuid>") == 500
