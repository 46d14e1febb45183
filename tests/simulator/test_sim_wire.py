"""Wire format: JSON (Jettison mapped, quirks on/off) and XML shapes over real HTTP."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import aiohttp
import pytest

from epmm_async.simulator import Quirks, Simulator
from epmm_async.simulator.wire import encode_json, wants_xml

DM = "/api/v1/dm"


def _first_active_id(sim: Simulator) -> int:
    return next(d.id for d in sim.fleet.devices.values() if d.status.value == "ACTIVE")


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


async def test_json_jettison_default(sim: Simulator) -> None:
    status, body, ctype = await _get(sim, "/devices?limit=1")
    assert status == 200 and ctype == "application/json"
    data = json.loads(body)
    assert "deviceManagementWebServiceResponse" not in data
    device = data["devices"]["device"]
    assert isinstance(device, dict)  # one-element list as an object
    assert device["@id"] == str(_first_active_id(sim))
    assert isinstance(device["statusCode"], str) and device["statusCode"] == "97"
    assert device["mdmManaged"] in ("true", "false")
    assert isinstance(device["details"]["entry"], list)
    assert isinstance(data["messages"]["message"], str)
    assert data["totalCount"] == str(
        sum(1 for d in sim.fleet.devices.values() if d.status.value == "ACTIVE")
    )


async def test_json_clean(sim: Simulator) -> None:
    sim.set_quirks(Quirks.clean())
    _, body, _ = await _get(sim, "/devices?limit=1")
    data = json.loads(body)
    assert isinstance(data["devices"]["device"], list) and len(data["devices"]["device"]) == 1
    device = data["devices"]["device"][0]
    assert device["@id"] == _first_active_id(sim) and device["statusCode"] == 97
    assert isinstance(device["mdmManaged"], bool)
    assert isinstance(data["messages"]["message"], list)
    assert isinstance(data["totalCount"], int)


async def test_json_optional_quirks(sim: Simulator) -> None:
    sim.set_quirks(
        Quirks(root_wrapper=True, details_wrapped_in_list=True, numeric_strings_as_numbers=True)
    )
    _, body, _ = await _get(sim, "/devices?limit=3")
    data = json.loads(body)["deviceManagementWebServiceResponse"]
    devices = data["devices"]["device"]
    assert isinstance(devices, list) and len(devices) == 3
    phoned = next(d for d in devices if d["phoneNumber"] != "")
    assert isinstance(phoned["phoneNumber"], int)
    assert isinstance(devices[0]["details"], list) and "entry" in devices[0]["details"][0]


async def test_xml(sim: Simulator) -> None:
    status, body, ctype = await _get(sim, "/devices?limit=2", accept="application/xml")
    assert status == 200 and ctype == "application/xml"
    root = ET.fromstring(body)
    assert root.tag == "deviceManagementWebServiceResponse"
    devices = root.findall("./devices/device")
    assert len(devices) == 2 and devices[0].get("id") == str(_first_active_id(sim))
    assert devices[0].findtext("statusCode") == "97"
    assert devices[0].findall("./details/entry/key")
    _, body, _ = await _get(sim, "/labels", accept="application/xml")
    labels = ET.fromstring(body).findall("./labels/label")
    assert {lb.get("id") for lb in labels} >= {"-1", "-3", "1"}
    assert any(lb.findtext("name") == "R&D/Prototypes" for lb in labels)


async def test_accept_negotiation(sim: Simulator) -> None:
    assert not wants_xml(None) and not wants_xml("*/*") and not wants_xml("application/json")
    assert wants_xml("application/xml") and wants_xml("text/xml, */*")
    _, body, ctype = await _get(sim, "/countries", accept="*/*")
    assert ctype == "application/json" and json.loads(body)["countries"]


def test_empty_elements_modes() -> None:
    tree: dict[str, object] = {"messages": None, "devices": {"device": []}, "x": [1]}
    assert json.loads(encode_json(tree, Quirks())) == {
        "messages": "",
        "devices": {"device": ""},
        "x": "1",
    }
    assert json.loads(encode_json(tree, Quirks(empty_elements="missing"))) == {
        "devices": {},
        "x": "1",
    }
    assert json.loads(encode_json(tree, Quirks.clean())) == {
        "messages": None,
        "devices": {"device": []},
        "x": [1],
    }
