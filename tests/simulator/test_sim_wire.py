"""Wire format over real HTTP: Jettison-typed JSON (the default), the quoted and schema
dialects, XML, details and empty-value shapes, the singular MAC lookup. Plain aiohttp only."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from epmm_async.enums import DeviceStatus
from epmm_async.simulator import Quirks, SimDevice, Simulator
from epmm_async.simulator.wire import encode_json, encode_xml, jettison_value, wants_xml

DM = "/api/v1/dm"


def _auth(sim: Simulator) -> dict[str, str]:
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=300, seed=7) as s:
        yield s


async def _get(sim: Simulator, path: str, accept: str | None = None) -> tuple[int, bytes, str]:
    headers = _auth(sim)
    if accept:
        headers["Accept"] = accept
    async with (
        aiohttp.ClientSession() as session,
        session.get(sim.url + DM + path, headers=headers) as r,
    ):
        return r.status, await r.read(), r.content_type


async def _json(sim: Simulator, path: str) -> tuple[int, Any]:
    status, body, _ = await _get(sim, path)
    return status, json.loads(body)


def _active(sim: Simulator, want: Any = None) -> SimDevice:
    return next(
        d
        for d in sim.fleet.devices.values()
        if d.status == DeviceStatus.ACTIVE and (want is None or want(d))
    )


def _entries(device: dict[str, Any]) -> dict[str, Any]:
    entry = device["details"][0]["entry"]
    return {e["key"]: e["value"] for e in (entry if isinstance(entry, list) else [entry])}


# --------------------------------------------------------------------------- the default
async def test_json_default_is_jettison_typed(sim: Simulator) -> None:
    status, body, ctype = await _get(sim, "/devices?limit=1")
    assert status == 200 and ctype == "application/json"
    data = json.loads(body)
    assert "deviceManagementWebServiceResponse" not in data
    device = data["devices"]["device"]
    assert isinstance(device, dict)  # a one-element list as an object
    first = _active(sim)
    assert device["@id"] == str(first.id)  # attributes are not typed
    assert device["statusCode"] == 97 and device["compliance"] == first.compliance
    assert device["countryCode"] == first.country.code and type(device["countryCode"]) is int
    assert device["employeeOwned"] is first.employee_owned and device["notifyUser"] is True
    assert isinstance(device["mdmManaged"], bool)
    assert isinstance(device["lastConnectedAt"], str)  # a timestamp stays text
    assert isinstance(device["uuid"], str)
    assert isinstance(device["details"], list) and len(device["details"]) == 1
    assert isinstance(device["details"][0]["entry"], list)
    assert isinstance(data["messages"]["message"], str)
    active = sum(1 for d in sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE)
    assert data["totalCount"] == active and type(data["totalCount"]) is int


async def test_details_entries_are_typed(sim: Simulator) -> None:
    d = _active(sim, lambda x: x.kind == "android" and x.phone_number)
    _, data = await _json(sim, f"/devices/{d.uuid}")
    got = _entries(data["device"])
    truth = d.details
    assert got["battery_life"] == int(truth["battery_life"]) and type(got["battery_life"]) is int
    assert got["imei"] == int(truth["imei"])  # 15 digits: a long
    assert got["admin_activated"] is True
    assert got["prv_password_type"] in (2, -1)
    assert got["client_version"] == truth["client_version"]  # "12.1.3": text
    assert got["free_ram_size"] == truth["free_ram_size"]  # "1365.33M": text
    for key, text in truth.items():  # every entry is the converter's reading of the text
        expected = jettison_value(text)
        assert got[key] == expected, key
        if not isinstance(expected, float):  # Jettison writes 100.0 as 100
            assert type(got[key]) is type(expected), key
    ios = _active(sim, lambda x: x.kind == "ios")
    _, data = await _json(sim, f"/devices/{ios.uuid}")
    level = _entries(data["device"])["Battery Level"]
    assert isinstance(level, float) and level == float(ios.details["Battery Level"])


async def test_phone_numbers_and_principals(sim: Simulator) -> None:
    devices = list(sim.fleet.devices.values())
    zero = next(d for d in devices if d.phone_number and d.phone_number.startswith("0"))
    plus = next(d for d in devices if d.phone_number and d.phone_number.startswith("+"))
    digits = next(
        d
        for d in devices
        if d.phone_number and d.phone_number.isdigit() and not d.phone_number.startswith("0")
    )
    numeric = next(d for d in devices if d.principal.isdigit() and d.principal[0] != "0")
    padded = next(d for d in devices if d.principal.isdigit() and d.principal[0] == "0")
    for d, field, expected in (
        (zero, "phoneNumber", zero.phone_number),
        (plus, "phoneNumber", plus.phone_number),
        (digits, "phoneNumber", int(digits.phone_number or "")),
        (numeric, "principal", int(numeric.principal)),
        (padded, "principal", padded.principal),
    ):
        _, data = await _json(sim, f"/devices/{d.uuid}")
        value = data["device"][field]
        assert value == expected and type(value) is type(expected), (field, value)
    # the + form is found by the number with or without its +
    _, data = await _json(sim, f"/phones/{(plus.phone_number or '').lstrip('+')}")
    found = data["devices"]["device"]
    assert plus.uuid in [x["uuid"] for x in (found if isinstance(found, list) else [found])]


async def test_enforce_32bit_integer(sim: Simulator) -> None:
    d = _active(
        sim,
        lambda x: (
            x.kind == "android"
            and x.phone_number
            and x.phone_number.isdigit()
            and x.phone_number[0] != "0"
        ),
    )
    sim.set_quirks(Quirks(enforce_32bit_integer=True))
    _, data = await _json(sim, f"/devices/{d.uuid}")
    device = data["device"]
    assert device["phoneNumber"] == d.phone_number  # beyond 32 bits: text
    assert _entries(device)["imei"] == d.details["imei"]
    assert device["statusCode"] == 97 and device["clientId"] == d.client_id  # fit in 32 bits
    sim.set_quirks(Quirks(enforce_32bit_integer=False))
    _, data = await _json(sim, f"/devices/{d.uuid}")
    assert data["device"]["phoneNumber"] == int(d.phone_number or "")


async def test_quoted_dialect(sim: Simulator) -> None:
    sim.set_quirks(Quirks(typing="quoted"))
    _, data = await _json(sim, "/devices?limit=1")
    device = data["devices"]["device"]
    assert device["statusCode"] == "97" and device["mdmManaged"] in ("true", "false")
    assert device["@id"] == str(_active(sim).id)
    assert all(isinstance(e["value"], str) for e in device["details"][0]["entry"])
    assert data["totalCount"] == str(
        sum(1 for d in sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE)
    )
    assert Quirks(scalars_as_strings=True).typing == "quoted"  # the old spelling
    old = Quirks.quoted()
    sim.set_quirks(old)
    _, data = await _json(sim, "/devices?limit=1")
    assert isinstance(data["devices"]["device"]["details"], dict)
    assert data["devices"]["device"]["statusCode"] == "97"


async def test_schema_dialect_clean(sim: Simulator) -> None:
    sim.set_quirks(Quirks.clean())
    _, data = await _json(sim, "/devices?limit=1")
    assert isinstance(data["devices"]["device"], list) and len(data["devices"]["device"]) == 1
    device = data["devices"]["device"][0]
    first = _active(sim)
    assert device["@id"] == first.id and device["statusCode"] == 97
    assert isinstance(device["mdmManaged"], bool)
    assert isinstance(data["messages"]["message"], list)
    assert isinstance(data["totalCount"], int)
    assert all(isinstance(e["value"], str) for e in device["details"]["entry"])
    phoned = next(d for d in sim.fleet.devices.values() if d.phone_number)
    _, data = await _json(sim, f"/devices/{phoned.uuid}")
    assert data["device"]["phoneNumber"] == phoned.phone_number  # the model's type: text


async def test_forward_slash_escaping(sim: Simulator) -> None:
    _, body, _ = await _get(sim, "/labels")
    assert b'"R&D/Prototypes"' in body  # Jettison >= 1.3.6: only "</" is escaped
    sim.set_quirks(Quirks(escape_forward_slash_always=True))
    _, body, _ = await _get(sim, "/labels")
    assert b'"R&D\\/Prototypes"' in body and b"R&D/" not in body
    names = {lb["name"] for lb in json.loads(body)["labels"]["label"]}
    assert "R&D/Prototypes" in names
    tree = {"comment": "a</b", "url": "http://x/y"}
    assert encode_json(tree, Quirks()) == b'{"comment":"a<\\/b","url":"http://x/y"}'
    assert json.loads(encode_json(tree, Quirks())) == tree


async def test_xml(sim: Simulator) -> None:
    status, body, ctype = await _get(sim, "/devices?limit=2", accept="application/xml")
    assert status == 200 and ctype == "application/xml"
    root = ET.fromstring(body)
    assert root.tag == "deviceManagementWebServiceResponse"
    devices = root.findall("./devices/device")
    assert len(devices) == 2 and devices[0].get("id") == str(_active(sim).id)
    assert devices[0].findtext("statusCode") == "97"
    assert devices[0].findall("./details/entry/key")
    assert root.findtext("totalCount") is not None
    _, body, _ = await _get(sim, "/labels", accept="application/xml")
    labels = ET.fromstring(body).findall("./labels/label")
    assert {lb.get("id") for lb in labels} >= {"-1", "-3", "1"}
    assert any(lb.findtext("name") == "R&D/Prototypes" for lb in labels)


async def test_accept_negotiation(sim: Simulator) -> None:
    assert not wants_xml(None) and not wants_xml("*/*") and not wants_xml("application/json")
    assert wants_xml("application/xml") and wants_xml("text/xml, */*")
    _, body, ctype = await _get(sim, "/countries", accept="*/*")
    assert ctype == "application/json" and json.loads(body)["countries"]


def _leaves(elem: ET.Element, path: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in sorted(elem.attrib.items()):
        out.append((f"{path}/@{key}", value))
    children = list(elem)
    if not children:
        if path:
            out.append((path, elem.text or ""))
        return out
    for i, child in enumerate(children):
        out.extend(_leaves(child, f"{path}/{child.tag}[{i}]"))
    return out


async def test_json_and_xml_carry_the_same_text(sim: Simulator) -> None:
    # The quoted JSON dialect is the XML text; the typed one is the converter's reading of it.
    sim.set_quirks(Quirks(typing="quoted", single_as_object=False, details_wrapped_in_list=False))
    _, qbody, _ = await _get(sim, "/devices?limit=25")
    _, xbody, _ = await _get(sim, "/devices?limit=25", accept="application/xml")
    sim.set_quirks(Quirks(single_as_object=False, details_wrapped_in_list=False))
    _, tbody, _ = await _get(sim, "/devices?limit=25")
    xml_devices = ET.fromstring(xbody).findall("./devices/device")
    quoted = json.loads(qbody)["devices"]["device"]
    typed = json.loads(tbody)["devices"]["device"]
    assert len(xml_devices) == len(quoted) == len(typed) == 25
    for elem, qdev, tdev in zip(xml_devices, quoted, typed, strict=True):
        assert elem.get("id") == qdev["@id"] == tdev["@id"]
        for child in elem:
            if child.tag == "details":
                texts = {e.findtext("key"): e.findtext("value") or "" for e in child}
                qd = {e["key"]: e["value"] for e in qdev["details"]["entry"]}
                td = {e["key"]: e["value"] for e in tdev["details"]["entry"]}
                assert texts == qd
                assert {k: jettison_value(v) for k, v in texts.items()} == td
                continue
            text = child.text or ""
            assert qdev[child.tag] == text, child.tag
            assert tdev[child.tag] == jettison_value(text), child.tag
        assert set(qdev) == {c.tag for c in elem} | {"@id"}


# --------------------------------------------------------------------------- empty values
def test_empty_values_by_mode() -> None:
    tree: dict[str, Any] = {
        "messages": {"message": []},
        "devices": {"device": []},
        "comment": None,
        "name": "",
        "x": [1],
    }
    assert json.loads(encode_json(tree, Quirks())) == {
        "messages": "",
        "devices": "",
        "name": "",
        "x": 1,
    }
    assert json.loads(encode_json(tree, Quirks(empty_elements="empty")))["comment"] == ""
    assert json.loads(encode_json(tree, Quirks(empty_elements="null")))["comment"] is None
    assert json.loads(encode_json(tree, Quirks.clean())) == {
        "messages": {"message": []},
        "devices": {"device": []},
        "comment": None,
        "name": "",
        "x": [1],
    }
    xml = encode_xml(tree).decode()
    assert "<comment" not in xml and "<messages/>" in xml and "<devices/>" in xml
    assert "<name></name>" in xml
    assert "<comment/>" in encode_xml(tree, Quirks(empty_elements="empty")).decode()


async def test_null_properties_are_missing_by_default(sim: Simulator) -> None:
    d = _active(sim, lambda x: x.comment is None and x.eas_uuid is None)
    _, data = await _json(sim, f"/devices/{d.uuid}")
    assert "comment" not in data["device"] and "easUuid" not in data["device"]
    assert data["messages"] == ""  # the empty <messages/>: a string
    _, body, _ = await _get(sim, f"/devices/{d.uuid}", accept="application/xml")
    assert b"<comment" not in body and b"<messages/>" in body
    sim.set_quirks(Quirks(empty_elements="empty"))
    _, data = await _json(sim, f"/devices/{d.uuid}")
    assert data["device"]["comment"] == "" and data["device"]["easUuid"] == ""
    sim.set_quirks(Quirks(empty_elements="null"))
    _, data = await _json(sim, f"/devices/{d.uuid}")
    assert data["device"]["comment"] is None


async def test_details_shapes(sim: Simulator) -> None:
    pending = next(
        d for d in sim.fleet.devices.values() if d.status == DeviceStatus.VERIFICATION_PENDING
    )
    full = _active(sim, lambda x: x.kind == "android")

    async def details(d: SimDevice) -> Any:
        _, data = await _json(sim, f"/devices/{d.uuid}")
        return data["device"].get("details", "<absent>")

    assert await details(pending) == [""]
    got = await details(full)
    assert isinstance(got, list) and len(got) == 1 and isinstance(got[0]["entry"], list)
    sim.set_quirks(Quirks(empty_details="bare"))
    assert await details(pending) == ""
    sim.set_quirks(Quirks(empty_details="missing"))
    assert await details(pending) == "<absent>"
    _, body, _ = await _get(sim, f"/devices/{pending.uuid}", accept="application/xml")
    assert b"<details" not in body
    sim.set_quirks(Quirks(details_wrapped_in_list=False))
    assert await details(pending) == ""
    got = await details(full)
    assert isinstance(got, dict) and isinstance(got["entry"], list)
    _, body, _ = await _get(sim, f"/devices/{pending.uuid}", accept="application/xml")
    assert b"<details/>" in body
    # a device with a single detail: the entry collapses to an object inside the list
    tree = {"device": {"details": {"entry": [{"key": "k", "value": "1"}]}}}
    assert json.loads(encode_json(tree, Quirks())) == {
        "device": {"details": [{"entry": {"key": "k", "value": 1}}]}
    }


# --------------------------------------------------------------------------- single devices
async def test_mac_lookup_singular(sim: Simulator) -> None:
    d = _active(sim)
    status, data = await _json(sim, f"/devices/mac/{d.wifi_mac}")
    assert status == 200 and "devices" not in data
    assert data["device"]["uuid"] == d.uuid and data["totalCount"] == 1
    assert data["messages"] == ""
    status, body, _ = await _get(sim, f"/devices/mac/{d.wifi_mac}", accept="application/xml")
    root = ET.fromstring(body)
    assert root.find("./devices") is None and root.findtext("./device/uuid") == d.uuid
    status, data = await _json(sim, "/devices/mac/000000000000")
    assert status == 404 and data["totalCount"] == 0 and data["messages"]["message"]
    sim.set_quirks(Quirks(mac_lookup_singular=False))
    status, data = await _json(sim, f"/devices/mac/{d.wifi_mac}")
    assert status == 200 and data["devices"]["device"]["uuid"] == d.uuid
    status, data = await _json(sim, "/devices/mac/000000000000")
    assert status == 404 and data["totalCount"] == 0


async def test_uuid_lookup_has_total_count(sim: Simulator) -> None:
    d = _active(sim)
    status, data = await _json(sim, f"/devices/{d.uuid}")
    assert status == 200 and data["totalCount"] == 1 and data["messages"] == ""
    status, data = await _json(sim, "/devices/00000000-0000-4000-8000-000000000000")
    assert status == 404 and data["totalCount"] == 0 and data["messages"]["message"]
