"""The web server around the API: authentication answers, request-size limits, parameter
names matched without regard to case and the raw query kept in the received log. Plain
aiohttp and raw sockets only."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from epmm_async.enums import DeviceStatus
from epmm_async.simulator import Quirks, SimDevice, Simulator
from epmm_async.simulator.__main__ import build_parser, quirks_from_args

DM = "/api/v1/dm"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=300, seed=5) as s:
        yield s


async def _call(
    sim: Simulator,
    method: str,
    target: str,
    *,
    headers: dict[str, str] | None = None,
    data: Any = None,
) -> tuple[int, dict[str, str], str]:
    """One request; ``target`` is sent as is (already encoded)."""
    hdrs = {**_basic(sim.username, sim.password), **(headers or {})}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, URL(sim.url + DM + target, encoded=True), headers=hdrs, data=data) as r,
    ):
        return r.status, dict(r.headers), await r.text()


def _active(sim: Simulator, kind: str | None = None, n: int = 1) -> list[SimDevice]:
    found = [
        d
        for d in sim.fleet.devices.values()
        if d.status == DeviceStatus.ACTIVE and (kind is None or d.kind == kind)
    ]
    return found[:n]


# --------------------------------------------------------------------------- authentication
async def test_401_is_the_web_servers_page(sim: Simulator) -> None:
    for headers in (
        _basic(sim.username, "wrong"),
        _basic(sim.forbidden_username, sim.forbidden_password),  # no API role: 401 too
        {"Authorization": "Bearer x"},
        {},
    ):
        async with (
            aiohttp.ClientSession() as s,
            s.get(sim.url + DM + "/labels", headers=headers) as r,
        ):
            body = await r.text()
            assert r.status == 401 and r.content_type == "text/html"
            assert r.headers["WWW-Authenticate"].startswith("Basic")
            assert "<html" in body and "401" in body and "messages" not in body
    # XML asked for: the page is still HTML
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            sim.url + DM + "/labels",
            headers={**_basic(sim.username, "wrong"), "Accept": "application/xml"},
        ) as r,
    ):
        assert r.status == 401 and r.content_type == "text/html"
    assert [r.status for r in sim.received.requests] == [401] * 5


async def test_403_and_api_body_options(sim: Simulator) -> None:
    forbidden = _basic(sim.forbidden_username, sim.forbidden_password)
    sim.set_quirks(Quirks(no_role_status=403))
    async with aiohttp.ClientSession() as s:
        async with s.get(sim.url + DM + "/labels", headers=forbidden) as r:
            assert r.status == 403 and r.content_type == "application/json"
            assert "API role" in (await r.json())["messages"]["message"]
        async with s.get(
            sim.url + DM + "/labels", headers={**forbidden, "Accept": "application/xml"}
        ) as r:
            assert r.status == 403 and "<messages><message>" in await r.text()
        async with s.get(sim.url + DM + "/labels", headers=_basic(sim.username, "x")) as r:
            assert r.status == 401 and r.content_type == "text/html"
        sim.set_quirks(Quirks(auth_error_body="api"))
        async with s.get(sim.url + DM + "/labels", headers=_basic(sim.username, "x")) as r:
            assert r.status == 401 and (await r.json())["messages"]["message"]
            assert r.headers["WWW-Authenticate"].startswith("Basic")
        async with s.get(sim.url + DM + "/labels", headers=forbidden) as r:
            assert r.status == 401 and (await r.json())["messages"]["message"]
        sim.set_quirks(Quirks.quoted())  # the old dialect: 403 with the API's body
        async with s.get(sim.url + DM + "/labels", headers=forbidden) as r:
            assert r.status == 403


# --------------------------------------------------------------------------- request size
async def _raw(sim: Simulator, line: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    """Send exactly ``line`` CRLF, each ``Name: value`` CRLF, CRLF; return status and body."""
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    try:
        head = line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        writer.write(head.encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
        return int(data.split(b" ", 2)[1]), data.partition(b"\r\n\r\n")[2]
    finally:
        writer.close()


def _line(method: str, path: str, length: int) -> str:
    """``METHOD SP TARGET SP HTTP/1.1`` of exactly ``length`` bytes."""
    prefix = f"{method} {DM}{path}?pad="
    text = prefix + "x" * (length - len(prefix) - len(" HTTP/1.1")) + " HTTP/1.1"
    assert len(text) == length
    return text


async def test_request_line_8190_vs_8191_with_default_limits(sim: Simulator) -> None:
    (d,) = _active(sim)
    hdrs = [
        ("Host", f"{sim.host}:{sim.port}"),
        *_basic(sim.username, sim.password).items(),
        ("Connection", "close"),
    ]
    # 8191 bytes: over Apache's LimitRequestLine (8190, CRLF not counted): 414, HTML
    status, body = await _raw(sim, _line("GET", f"/devices/{d.uuid}", 8191), hdrs)
    assert status == 414 and b"Request-URI Too Long" in body
    # 8190 bytes passes Apache, but line + headers pass Tomcat's 8 KB: 400, Tomcat's text
    status, body = await _raw(sim, _line("GET", f"/devices/{d.uuid}", 8190), hdrs)
    assert status == 400 and b"Request header is too large" in body
    assert sim.stats.request_lines[-2:] == [8191, 8190]


async def test_request_line_limit_alone() -> None:
    async with Simulator(devices=30, seed=5, max_header_bytes=1 << 20) as sim:
        (d,) = _active(sim)
        hdrs = [("Host", "x"), *_basic(sim.username, sim.password).items(), ("Connection", "close")]
        assert (await _raw(sim, _line("GET", f"/devices/{d.uuid}", 8190), hdrs))[0] == 200
        assert (await _raw(sim, _line("GET", f"/devices/{d.uuid}", 8191), hdrs))[0] == 414


async def test_big_headers_are_400(sim: Simulator) -> None:
    status, headers, body = await _call(sim, "GET", "/labels", headers={"X-Big": "y" * 8200})
    assert status == 400 and "Request header is too large" in body
    assert headers["Content-Type"].startswith("text/html")


# --------------------------------------------------------------------------- parameter names
async def test_register_with_lower_case_and_camel_case_names(sim: Simulator) -> None:
    status, _, text = await _call(
        sim,
        "PUT",
        "/register?phonenumber=4155550177&countrycode=1&platform=A&userid=ldapuser"
        "&importuserfromldap=true&notifyuser=false",
    )
    assert status == 200, text
    uuid = json.loads(text)["registration"]["deviceUuid"]
    d = sim.fleet.devices[uuid]
    assert d.phone_number == "4155550177" and d.country.code == 1
    status, _, text = await _call(
        sim,
        "PUT",
        "/register?phoneNumber=4155550178&countryCode=44&platform=I&userId=camel"
        "&importUserFromLdap=true&notifyUser=true",
    )
    assert status == 200, text
    assert sim.fleet.devices[json.loads(text)["registration"]["deviceUuid"]].country.code == 44
    status, _, text = await _call(
        sim,
        "PUT",
        "/register?PHONENUMBER=4155550179&COUNTRYCODE=1&PLATFORM=A&USERID=upper"
        "&USERFIRSTNAME=U&USERLASTNAME=P&USEREMAILADDRESS=u%40example.com",
    )
    assert status == 200, text


async def test_names_any_case_everywhere(sim: Simulator) -> None:
    a, b, c = _active(sim, "android", 3)
    ios = _active(sim, "ios")[0]
    assert (await _call(sim, "PUT", f"/devices/lock/{a.uuid}?REASON=lost"))[0] == 200
    assert sim.ledger.entries[-1].detail == "lost"
    assert (await _call(sim, "GET", f"/devices/unlock/{a.uuid}?rEaSoN=found"))[0] == 200
    status, _, text = await _call(sim, "GET", f"/devices/locate/{b.uuid}?LocateNow=true")
    assert status == 200 and json.loads(text)["locateNow"] is True
    status, _, text = await _call(sim, "GET", "/devices?STATUS=LOST&Limit=2&OFFSET=0")
    listed = json.loads(text)["devices"]["device"]
    assert status == 200 and all(x["status"] == "LOST" for x in listed) and len(listed) == 2
    status, _, _ = await _call(
        sim, "PUT", f"/devices/enableroaming/{ios.uuid}?Voice=true&DATA=false"
    )
    assert status == 200 and ios.details["DataRoamingEnabled"] == "false"
    q = f"DEVICEUUIDS={a.uuid}&deviceuuids={b.uuid}&deviceUuids={c.uuid}"
    assert (await _call(sim, "POST", f"/bulk/devices/WAKEUP_DEVICE?{q}"))[0] == 200
    assert all(sim.ledger.count(x.uuid, "WAKEUP") == 1 for x in (a, b, c))
    form = [("DeviceUuids", a.uuid), ("deviceuuids", b.uuid)]
    assert (await _call(sim, "POST", "/bulk/devices/LOCK", data=form))[0] == 200
    assert sim.ledger.count(b.uuid, "LOCK") == 1
    status, _, text = await _call(
        sim, "POST", f"/bulk/sendmessage?MODE=sms&Message=hi&DEVICEUUID={c.uuid}"
    )
    assert status == 200 and sim.ledger.count(c.uuid, "MESSAGE") == 1, text
    status, _, _ = await _call(
        sim, "POST", f"/bulk/mac/sendmessage?mode=pns&message=m&DeviceWiFiMacAddress={a.wifi_mac}"
    )
    assert status == 200 and sim.ledger.count(a.uuid, "MESSAGE") == 1


async def test_a_name_sent_twice_first_wins_and_the_log_shows_both(sim: Simulator) -> None:
    (d,) = _active(sim, "android")
    status, _, _ = await _call(sim, "PUT", f"/devices/lock/{d.uuid}?Reason=first&reason=second")
    assert status == 200 and sim.ledger.entries[-1].detail == "first"
    rec = sim.received.requests[-1]
    assert rec.query == "Reason=first&reason=second"
    assert rec.param_names() == ["Reason", "reason"]
    assert rec.query_pairs() == [("Reason", "first"), ("reason", "second")]
    await _call(sim, "GET", f"/devices/{d.uuid}?x=%41b&x=&y")
    assert sim.received.requests[-1].query_pairs() == [("x", "Ab"), ("x", ""), ("y", "")]


# --------------------------------------------------------------------------- command line
def test_cli_flags_build_the_quirks() -> None:
    parse = build_parser().parse_args
    assert quirks_from_args(parse([])) == Quirks()
    assert quirks_from_args(parse(["--clean"])) == Quirks.clean()
    assert quirks_from_args(parse(["--quoted"])) == Quirks.quoted()
    q = quirks_from_args(
        parse(
            [
                "--quoted",
                "--typing",
                "jettison",
                "--enforce-32bit-integer",
                "--escape-forward-slash-always",
                "--no-details-wrapped-in-list",
                "--empty-details",
                "missing",
                "--empty-elements",
                "null",
                "--no-mac-lookup-singular",
                "--no-role-status",
                "403",
                "--auth-error-body",
                "api",
                "--misspelled-sucess",
            ]
        )
    )
    assert (q.typing, q.enforce_32bit_integer, q.escape_forward_slash_always) == (
        "jettison",
        True,
        True,
    )
    assert (q.details_wrapped_in_list, q.empty_details, q.empty_elements) == (
        False,
        "missing",
        "null",
    )
    assert (q.mac_lookup_singular, q.no_role_status, q.auth_error_body) == (False, 403, "api")
    assert q.misspelled_sucess
    with pytest.raises(SystemExit):
        parse(["--clean", "--quoted"])
