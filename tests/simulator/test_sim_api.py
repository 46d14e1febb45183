"""Endpoints of the simulator driven with a plain aiohttp client."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from epmm_async.enums import DeviceStatus
from epmm_async.simulator import CSV_COLUMNS, Quirks, SimDevice, Simulator

DM = "/api/v1/dm"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Client:
    def __init__(self, sim: Simulator, session: aiohttp.ClientSession) -> None:
        self.sim, self.session = sim, session
        self.headers = _basic(sim.username, sim.password)

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {**self.headers, **kw.pop("headers", {})}
        async with self.session.request(
            method, self.sim.url + DM + path, headers=headers, **kw
        ) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=400, seed=7) as s:
        yield s


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(sim, session)


def _pick(
    sim: Simulator, kind: str | None = None, status: DeviceStatus = DeviceStatus.ACTIVE
) -> SimDevice:
    return next(
        d
        for d in sim.fleet.devices.values()
        if d.status == status and (kind is None or d.kind == kind)
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


async def test_paging(api: Client) -> None:
    active = [d.uuid for d in api.sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE]
    seen: list[str] = []
    for offset in range(0, len(active), 100):
        status, data = await api.call("GET", f"/devices?offset={offset}&limit=100")
        assert status == 200 and int(data["totalCount"]) == len(active)
        seen += [d["uuid"] for d in _as_list(data["devices"]["device"])]
    assert seen == active
    status, data = await api.call("GET", "/devices?status=LOST")
    assert all(d["status"] == "LOST" for d in _as_list(data["devices"]["device"]))
    status, data = await api.call("GET", "/devices?status=NOPE")
    assert status == 400 and "NOPE" in data["messages"]["message"]


async def test_empty_is_404_with_body(api: Client) -> None:
    status, data = await api.call("GET", "/users/nobody-here")
    assert status == 404 and data["messages"]["message"] == "No devices found."
    assert data["totalCount"] == 0
    api.sim.set_quirks(Quirks(empty_as_404=False))
    status, data = await api.call("GET", "/users/nobody-here")
    assert status == 200 and data["totalCount"] == 0 and data["devices"] == ""


async def test_auth_and_errors(api: Client) -> None:
    sim = api.sim
    async with api.session.get(sim.url + DM + "/labels") as r:
        assert r.status == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="EPMM"'
    async with api.session.get(
        sim.url + DM + "/labels", headers=_basic(sim.username, "wrong")
    ) as r:
        assert r.status == 401
    async with api.session.get(
        sim.url + DM + "/labels", headers=_basic(sim.forbidden_username, sim.forbidden_password)
    ) as r:
        assert r.status == 401 and r.content_type == "text/html"
    status, _ = await api.call("DELETE", "/devices")
    assert status == 405
    status, _ = await api.call("PUT", f"/devices/unlock/{_pick(sim).uuid}?Reason=x")
    assert status == 405
    status, body = await api.call("GET", "/no/such/thing")
    assert status == 404 and "<html>" in body
    status, data = await api.call("GET", "/devices/00000000-0000-4000-8000-000000000000")
    assert status == 404 and data["messages"]["message"]


async def test_request_line_and_header_limits(api: Client) -> None:
    d = _pick(api.sim)
    status, _ = await api.call("GET", f"/devices/{d.uuid}?pad={'x' * 8200}")
    assert status == 414
    assert api.sim.stats.max_request_line > 8190
    status, _ = await api.call("GET", "/labels", headers={"X-Big": "y" * 9000})
    assert status == 400


async def test_bulk_limits() -> None:
    async with (
        Simulator(devices=50, seed=1, bulk_max_uuids=5) as sim,
        aiohttp.ClientSession() as session,
    ):
        api = Client(sim, session)
        uuids = list(sim.fleet.devices)[:6]
        q = "&".join(f"deviceUuids={u}" for u in uuids)
        status, data = await api.call("POST", f"/bulk/devices/WAKEUP_DEVICE?{q}")
        assert status == 400 and "exceeds" in data["messages"]["message"]
        status, data = await api.call("POST", f"/bulk/devices/lock?{q}")
        assert status == 400 and data["messages"]["message"] == "Invalid action"


async def test_single_device_and_searches(api: Client) -> None:
    d = next(
        x
        for x in api.sim.fleet.devices.values()
        if x.status == DeviceStatus.ACTIVE and x.phone_number
    )
    status, data = await api.call("GET", f"/devices/{d.uuid}")
    assert status == 200 and data["device"]["uuid"] == d.uuid
    assert data["device"]["currentPhoneNumber"] == d.phone_number
    status, data = await api.call("GET", f"/phones/{d.phone_number}")
    assert status == 200 and data["phoneNumber"] == d.phone_number
    status, data = await api.call("GET", f"/devices/mac/{d.wifi_mac}")
    assert status == 200 and data["device"]["uuid"] == d.uuid and data["totalCount"] == 1
    status, data = await api.call("GET", f"/users/{d.principal}")
    assert d.uuid in [x["uuid"] for x in _as_list(data["devices"]["device"])]
    status, data = await api.call("GET", "/labels/R%26D%2FPrototypes")
    label = api.sim.fleet.label_named("R&D/Prototypes")
    assert label is not None
    expected = [
        x.uuid
        for x in api.sim.fleet.devices.values()
        if label.matches(x) and x.status != DeviceStatus.RETIRED
    ]
    got = [x["uuid"] for x in _as_list(data["devices"]["device"])] if expected else []
    assert got == expected
    status, data = await api.call("GET", "/labels/%C3%89quipe%20Paris")
    assert status in (200, 404)


async def test_lock_unlock_wipe_retire(api: Client) -> None:
    sim = api.sim
    d = _pick(sim, "android")
    status, data = await api.call("PUT", f"/devices/lock/{d.uuid}")
    assert status == 400  # Reason required
    status, data = await api.call("PUT", f"/devices/lock/{d.uuid}?Reason=lost")
    assert status == 200 and d.locked and "unlockpasscode" not in data
    status, data = await api.call("PUT", f"/devices/lock/{d.uuid}?reason={'r' * 513}")
    assert status == 400
    status, data = await api.call("GET", f"/devices/unlock/mac/{d.wifi_mac}?reason=forgot")
    assert status == 200 and data["passcodes"]["passcode"]["value"] in ("Q", "F", "NA")
    assert not d.locked
    win = _pick(sim, "windows")
    status, data = await api.call("PUT", f"/devices/lock/{win.uuid}?Reason=x")
    assert isinstance(data["unlockpasscode"], int)  # digits: typed as a number
    status, data = await api.call("PUT", f"/devices/wipe/{d.uuid}")
    assert status == 200 and d.status == DeviceStatus.WIPED and d.status_code == 119
    for method, path in (
        ("PUT", "lock"),
        ("GET", "unlock"),
        ("GET", "wakeup"),
        ("PUT", "wipe"),
        ("GET", "locate"),
    ):
        status, data = await api.call(method, f"/devices/{path}/{d.uuid}?Reason=x")
        assert status == 400 and data["messages"]["message"], path
    status, data = await api.call("PUT", f"/devices/retire/{d.uuid}")
    assert status == 200 and d.status == DeviceStatus.RETIRED
    status, _ = await api.call("PUT", f"/devices/retire/{d.uuid}")
    assert status == 400
    assert [e.action for e in sim.ledger.entries if e.uuid == d.uuid] == [
        "LOCK",
        "UNLOCK",
        "WIPE",
        "RETIRE",
    ]
    assert sim.ledger.count(d.uuid, "LOCK") == 1 and sim.ledger.actions("WIPE")[d.uuid] == 1
    status, data = await api.call("GET", f"/devices/wakeup/{win.uuid}")
    assert status == 200 and sim.ledger.count(win.uuid, "WAKEUP") == 1


async def test_bulk_invalid_and_unlock(api: Client) -> None:
    sim = api.sim
    good = [d.uuid for d in list(sim.fleet.devices.values()) if d.status == DeviceStatus.ACTIVE][:3]
    wiped = _pick(sim, status=DeviceStatus.WIPED).uuid
    bad = ["not-a-uuid", "00000000-0000-4000-8000-000000000000"]
    q = "&".join(f"deviceUuids={u}" for u in [*good, wiped, *bad])
    status, data = await api.call("POST", f"/bulk/devices/UNLOCK?{q}")
    assert status == 200
    assert set(_as_list(data["invalidDevices"]["uuid"])) == set(bad)
    assert [p["uuid"] for p in _as_list(data["passcodes"]["passcode"])] == good
    assert wiped in _as_list(data["failedDevices"]["message"])[0]
    status, data = await api.call("POST", f"/bulk/devices/LOCK?{q}")
    assert set(_as_list(data["invalidDevices"]["uuid"])) == {*bad, wiped}
    assert all(sim.ledger.count(u, "LOCK") == 1 for u in good)
    assert all(e.via == "bulk" for e in sim.ledger.entries)
    # form body (quirk on by default) and the nested-invalid layout
    sim.set_quirks(Quirks(invalid_devices_in_messages=True))
    form = [("deviceUuids", good[0]), ("deviceUuids", bad[1])]
    status, data = await api.call("POST", "/bulk/devices/WAKEUP_DEVICE", data=form)
    assert status == 200 and data["messages"]["invalidDevices"]["uuid"] == bad[1]
    assert sim.ledger.count(good[0], "WAKEUP") == 1
    sim.set_quirks(Quirks(bulk_form_body=False))
    status, data = await api.call("POST", "/bulk/devices/WAKEUP_DEVICE", data=form)
    assert status == 400


async def test_sendmessage(api: Client) -> None:
    sim = api.sim
    devs = [d for d in sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE][:2]
    q = "&".join(f"deviceUuid={d.uuid}" for d in devs)
    status, data = await api.call("POST", f"/bulk/sendmessage?mode=sms&message=Hi%20there&{q}")
    assert status == 200 and data["messages"]["message"].startswith("Message sent successfully")
    assert "messageSentFailed" not in data
    assert all(sim.ledger.count(d.uuid, "MESSAGE") == 1 for d in devs)
    status, data = await api.call(
        "POST", f"/bulk/sendmessage?mode=email&subject=S&message=M&{q}&deviceUuid=bogus"
    )
    assert data["invalidDevices"]["uuid"] == "bogus" and data["messageSentFailed"] is True
    status, data = await api.call("POST", f"/bulk/sendmessage?mode=fax&message=M&{q}")
    assert status == 400
    status, data = await api.call(
        "POST",
        f"/bulk/mac/sendmessage?mode=pns&message=M&deviceWiFiMacAddress={devs[0].wifi_mac}"
        f"&macAddress={devs[1].wifi_mac.lower()}&macAddress=ZZ",
    )
    assert status == 200 and data["invalidDevices"]["uuid"] == "ZZ"
    assert sim.ledger.count(devs[1].uuid, "MESSAGE") == 3


async def test_register(api: Client) -> None:
    sim = api.sim
    status, data = await api.call(
        "PUT", "/register?phoneNumber=4155550100&userId=newbie&platform=A&countryCode=1"
    )
    assert status == 400
    msgs = _as_list(data["messages"]["message"])
    assert any("userFirstName" in m for m in msgs) and any("userEmailAddress" in m for m in msgs)
    status, data = await api.call(
        "PUT",
        "/register/?phoneNumber=PDA&deviceType=PDA&userId=newbie&userFirstName=N"
        "&userLastName=B&userEmailAddress=n%40example.com&countrycode=33&platform=I"
        "&notifyUser=True&notifyuserbysms=False",
    )
    assert status == 200, data
    reg = data["registration"]
    assert reg["status"] == "SUCCESS" and 10000 <= reg["passcode"] <= 99999
    d = sim.fleet.devices[reg["deviceUuid"]]
    assert d.status == DeviceStatus.VERIFICATION_PENDING and d.phone_number is None
    assert d.details == {} and sim.ledger.count(d.uuid, "REGISTER") == 1
    status, data = await api.call("GET", f"/devices/{d.uuid}")
    assert data["device"]["details"] == [""]
    sim.set_quirks(Quirks(misspelled_sucess=True))
    status, data = await api.call(
        "PUT", "/register?phoneNumber=4155550101&userId=jdoe&platform=A&countryCode=1"
    )
    assert status == 200 and data["registration"]["status"] == "SUCESS"
    status, data = await api.call(
        "PUT", "/register?phoneNumber=4155550102&userId=jdoe&platform=Q&countryCode=1"
    )
    assert status == 400


async def test_roaming_profiles_repush(api: Client) -> None:
    sim = api.sim
    ios, android = _pick(sim, "ios"), _pick(sim, "android")
    status, data = await api.call("PUT", f"/devices/enableroaming/{ios.uuid}?voice=false&data=true")
    assert status == 200 and len(data["messages"]["message"]) == 2
    assert ios.details["Voice Roaming Enabled"] == "false"
    assert ios.details["DataRoamingEnabled"] == "false"
    status, _ = await api.call("PUT", f"/devices/enableroaming/{android.uuid}?voice=true&data=true")
    assert status == 400
    status, data = await api.call("GET", f"/devices/profiles/{ios.uuid}")
    profiles = _as_list(data["profiles"]["profile"])
    assert status == 200 and any(p["@id"] == "-7" for p in profiles)
    app = next(p for p in profiles if p["profileType"] == "APP" and int(p["@id"]) > 0)
    status, _ = await api.call("PUT", f"/devices/repushprofile/{ios.uuid}?id={app['@id']}&type=APP")
    assert status == 200 and sim.ledger.count(ios.uuid, "REPUSH") == 1
    status, _ = await api.call("PUT", f"/devices/repushprofile/{ios.uuid}?id=1&type=BOGUS")
    assert status == 400


async def test_reference_lists_and_csv(api: Client) -> None:
    status, data = await api.call("GET", "/labels")
    labels = data["labels"]["label"]
    assert {lb["@id"] for lb in labels} >= {"-1", "-2", "-3", "-4", "-5"}
    assert {lb["isESSearch"] for lb in labels} <= {116, 102}
    status, data = await api.call("GET", "/operators")
    assert any(op["carrierShortName"] == "AT&T" for op in data["operators"]["operator"])
    status, data = await api.call("GET", "/countries")
    assert {c["enabledForRegistration"] for c in data["countries"]["country"]} == {116, 102}
    status, text = await api.call("GET", "/devices.csv")
    lines = text.splitlines()
    assert status == 200 and lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) == 1 + len(api.sim.fleet.devices)
