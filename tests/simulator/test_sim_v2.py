"""API v2 over plain HTTP: ping, device spaces, device search (fields, selection, paging),
count, search fields, auth and errors, v1 and v2 agreeing about every device, the received
log and v2 switched off. The expectations come from the fleet's SimDevice data."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sim_v2_support import (
    DM,
    V2,
    call,
    dm,
    error_text,
    platform,
    search,
    stamp,
    v1_details,
    v2,
    where,
)

from epmm_async.enums import DeviceStatus
from epmm_async.simulator import Faults, Quirks, Simulator

ALL = (
    "common.uuid,common.id,common.status,common.platform,common.os_version,common.model,"
    "common.compliant,common.quarantined,common.last_connected_at,common.registration_date,"
    "common.imei,common.wifi_mac_address,common.employee_owned,common.noncompliance_reasons,"
    "user.user_id,user.email_address,user.display_name"
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=300, seed=5) as s:
        yield s


# ------------------------------------------------------------------------ ping and spaces
async def test_ping_needs_no_space_id(sim: Simulator) -> None:
    status, body = await v2(sim, "GET", "/ping", space=False)
    assert status == 200
    assert body["results"]["apiVersion"] == 2.0 and isinstance(body["results"]["vspVersion"], str)


async def test_device_spaces_mine_and_its_switch(sim: Simulator) -> None:
    assert await v2(sim, "GET", "/device_spaces/mine", space=False) == (
        200,
        {"results": [{"id": 1, "name": "Global"}]},
    )
    sim.set_quirks(Quirks(v2_device_space_id=5))
    status, body = await v2(sim, "GET", "/device_spaces/mine", space=False)
    assert body["results"][0]["id"] == 5
    assert (await v2(sim, "GET", "/devices/search_fields"))[0] == 400  # space 1 is not his
    assert (await v2(sim, "GET", "/devices/search_fields", {"adminDeviceSpaceId": "5"}))[0] == 200
    sim.set_quirks(Quirks(v2_device_space_id=None))
    assert await v2(sim, "GET", "/device_spaces/mine", space=False) == (200, {"results": []})
    status, body = await v2(sim, "GET", "/devices/count", {"query": ""})
    assert status == 400 and "space" in error_text(body).lower()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/devices"),
        ("GET", "/devices/count"),
        ("GET", "/devices/search_fields"),
        ("GET", "/labels/label_summary"),
        ("GET", "/devices/{uuid}/labels"),
        ("POST", "/labels"),
        ("DELETE", "/labels"),
        ("PUT", "/devices/labels/Sales/add"),
        ("PUT", "/devices/labels/Sales/remove"),
    ],
)
@pytest.mark.parametrize("space", [None, "", "one", "2"])
async def test_space_id_missing_or_unknown_is_400(
    sim: Simulator, method: str, path: str, space: str | None
) -> None:
    uuid = next(iter(sim.fleet.devices))
    memberships = [d.labels for d in sim.fleet.devices.values()]
    labels = [lb.id for lb in sim.fleet.labels]
    params = {"query": "", "fields": "common.uuid"}
    if space is not None:
        params["adminDeviceSpaceId"] = space
    body = {"deviceUuids": [uuid], "name": "X", "labelIds": [1]}
    status, answer = await v2(
        sim, method, path.replace("{uuid}", uuid), params, space=False, body=body
    )
    assert status == 400
    assert "adminDeviceSpaceId" in error_text(answer) or "space" in error_text(answer).lower()
    # nothing applied
    assert [d.labels for d in sim.fleet.devices.values()] == memberships
    assert [lb.id for lb in sim.fleet.labels] == labels and len(sim.ledger) == 0


async def test_space_parameter_name_is_case_blind(sim: Simulator) -> None:
    status, _ = await v2(
        sim, "GET", "/devices/count", {"admindevicespaceid": "1", "query": ""}, space=False
    )
    assert status == 200


# ------------------------------------------------------------------------ device search
async def test_search_every_field_mapped_from_the_fleet(sim: Simulator) -> None:
    status, body = await search(sim, query="", fields=ALL, limit="300")
    assert status == 200
    assert body["totalCount"] == 300 and body["resultCount"] == 300 and body["hasMore"] is False
    assert isinstance(body["searchTimeMillis"], int)
    now_ms = datetime.now().timestamp() * 1000
    assert abs(body["currentServerTimeMilliseconds"] - now_ms) < 60_000
    rows = body["results"]
    assert [r["common.uuid"] for r in rows] == list(sim.fleet.devices)
    for row, d in zip(rows, sim.fleet.devices.values(), strict=True):
        assert row["common.id"] == d.id and isinstance(row["common.id"], int)
        assert row["common.status"] == d.status.value
        assert row["common.platform"] == platform(d)
        assert row["common.os_version"] == d.platform.split(" ", 1)[1]
        assert row.get("common.model") == (d.model or None)
        assert row["common.compliant"] is (d.compliance == 0)
        assert row["common.quarantined"] is (d.quarantined != 0)
        assert row["common.last_connected_at"] == stamp(d.last_connected_at)
        assert row["common.registration_date"] == stamp(d.registered_at)
        assert row.get("common.imei") == d.details.get("imei")
        mac = d.wifi_mac.lower()
        assert row["common.wifi_mac_address"] == ":".join(mac[i : i + 2] for i in range(0, 12, 2))
        assert row["common.employee_owned"] is d.employee_owned
        reasons = row["common.noncompliance_reasons"]
        assert isinstance(reasons, list) and (reasons == []) == (d.compliance == 0)
        assert row["user.user_id"] == d.user.principal and isinstance(row["user.user_id"], str)
        assert row["user.email_address"] == d.user.email
        assert row["user.display_name"] == f"{d.user.first} {d.user.last}"


async def test_v1_and_v2_agree_about_every_active_device() -> None:
    async with Simulator(devices=200, seed=11, quirks=Quirks.clean()) as sim:
        status, v1 = await dm(sim, "/devices?status=ACTIVE&limit=1000")
        assert status == 200
        query = '"common.status"="ACTIVE"'
        status, body = await search(sim, query=query, fields=ALL, limit="1000")
        assert status == 200 and body["totalCount"] == v1["totalCount"]
        by_uuid = {r["common.uuid"]: r for r in body["results"]}
        assert list(by_uuid) == [d["uuid"] for d in v1["devices"]["device"]]
        for d in v1["devices"]["device"]:
            row = by_uuid[d["uuid"]]
            details = v1_details(d)
            assert int(d["@id"]) == row["common.id"]
            assert d["status"] == row["common.status"]
            name, _, version = d["platform"].partition(" ")
            assert (name, version) == (row["common.platform"], row["common.os_version"])
            assert d["principal"] == row["user.user_id"]
            assert d["emailAddress"] == row["user.email_address"]
            assert d["userDisplayName"] == row["user.display_name"]
            assert d["employeeOwned"] is row["common.employee_owned"]
            assert (d["compliance"] == 0) is row["common.compliant"]
            assert (d["quarantinedStatus"] != 0) is row["common.quarantined"]
            assert datetime.fromisoformat(d["lastConnectedAt"]) == datetime.fromisoformat(
                row["common.last_connected_at"]
            )
            assert details.get("imei") == row.get("common.imei")
            mac = (details.get("wifi_mac_addr") or details.get("WiFiMAC") or "").lower()
            assert mac == row["common.wifi_mac_address"].replace(":", "")


async def test_a_field_the_device_lacks_is_absent(sim: Simulator) -> None:
    desktop = where(sim, lambda d: d.kind in ("windows", "macos"))
    ios = where(sim, lambda d: d.kind == "ios" and not d.details_empty)
    assert desktop and ios
    status, body = await search(
        sim,
        query='"common.platform"="Windows" OR "common.platform"="macOS"',
        fields="common.uuid,common.imei,ios.iPhone UDID",
        limit="300",
    )
    assert status == 200 and body["totalCount"] == len(desktop)
    assert all(set(r) == {"common.uuid"} for r in body["results"])
    status, body = await search(
        sim, query=f'common.uuid = "{ios[0].uuid}"', fields="common.uuid,ios.iPhone UDID"
    )
    assert body["results"] == [
        {"common.uuid": ios[0].uuid, "ios.iPhone UDID": ios[0].details["iPhone UDID"]}
    ]


async def test_fields_required_unknown_duplicated_and_capped(sim: Simulator) -> None:
    status, body = await search(sim, query="")
    assert status == 400 and "fields" in error_text(body)
    assert (await search(sim, query="", fields=" , "))[0] == 400
    status, body = await search(sim, query="", fields="common.uuid,common.nonsense")
    assert status == 400 and "common.nonsense" in error_text(body)
    status, body = await search(sim, query="", fields="common.uuid,common.uuid", limit="1")
    assert status == 200 and list(body["results"][0]) == ["common.uuid"]
    status, body = await search(sim, query="", fields="user.user_id,common.uuid", limit="1")
    assert list(body["results"][0]) == ["user.user_id", "common.uuid"]  # in the order asked
    # the field cap (512 by default, the doc; a switch for "asking every field gives 400")
    status, fields = await v2(sim, "GET", "/devices/search_fields")
    every = ",".join(f["name"] for f in fields["results"])
    assert (await search(sim, query="", fields=every))[0] == 200
    sim.set_quirks(Quirks(v2_max_fields=3))
    status, body = await search(
        sim, query="", fields="common.uuid,common.id,common.status,user.user_id"
    )
    assert status == 400 and "fields" in error_text(body).lower()
    assert (await search(sim, query="", fields="common.uuid,common.id,common.status"))[0] == 200
    sim.set_quirks(Quirks(v2_max_fields=None))
    assert (await search(sim, query="", fields=every))[0] == 200


async def test_field_name_with_a_space_percent_or_plus_encoded(sim: Simulator) -> None:
    ios = where(sim, lambda d: d.kind == "ios" and not d.details_empty)[0]
    for spelled in ("ios.iPhone%20UDID", "ios.iPhone+UDID"):
        target = (
            f"{V2}/devices?adminDeviceSpaceId=1&fields=common.uuid,{spelled}"
            f"&query=common.uuid%3D%22{ios.uuid}%22"
        )
        status, body, _ = await call(sim, "GET", target)
        assert status == 200 and body["results"][0]["ios.iPhone UDID"] == ios.details["iPhone UDID"]


async def test_selection_query_label_both_or_neither(sim: Simulator) -> None:
    sales = where(sim, lambda d: 1 in d.labels)
    status, body = await search(sim, labelId="1", fields="common.uuid", limit="300")
    assert status == 200 and [r["common.uuid"] for r in body["results"]] == [d.uuid for d in sales]
    lost = where(sim, lambda d: d.status == DeviceStatus.LOST)
    status, body = await search(sim, labelId="3", fields="common.uuid", limit="300")
    assert [r["common.uuid"] for r in body["results"]] == [d.uuid for d in lost]
    both = [d for d in sales if d.kind == "ios"]
    status, body = await v2(
        sim, "GET", "/devices/count", {"labelId": "1", "query": 'common.platform="iOS"'}
    )
    assert body == {"totalCount": len(both)}
    status, body = await search(sim, fields="common.uuid")
    assert status == 400 and "query" in error_text(body)
    assert (await v2(sim, "GET", "/devices/count"))[0] == 400
    status, body = await search(sim, labelId="x", fields="common.uuid")
    assert status == 400
    status, body = await search(sim, labelId="999", fields="common.uuid")
    assert status == 404 and "999" in error_text(body)
    sim.set_quirks(Quirks(v2_unknown_label_status=400))
    assert (await search(sim, labelId="999", fields="common.uuid"))[0] == 400


async def test_count_and_search_fields(sim: Simulator) -> None:
    assert await v2(sim, "GET", "/devices/count", {"query": ""}) == (200, {"totalCount": 300})
    ios = where(sim, lambda d: d.kind == "ios")
    assert await v2(sim, "GET", "/devices/count", {"query": "common.platform=iOS"}) == (
        200,
        {"totalCount": len(ios)},
    )
    _status, body = await v2(sim, "GET", "/devices/search_fields")
    names = [f["name"] for f in body["results"]]
    for name in ALL.split(","):
        assert name in names
    assert "ios.iPhone UDID" in names and len(names) == len(set(names))


# ------------------------------------------------------------------------ paging
async def _pages(sim: Simulator, limit: int, *, as_page: bool, **extra: str) -> list[str]:
    seen: list[str] = []
    offset = 0
    while True:
        status, body = await search(
            sim, query="", fields="common.uuid", limit=str(limit), offset=str(offset), **extra
        )
        assert status == 200 and body["totalCount"] == 300
        assert body["resultCount"] == len(body["results"]) <= limit
        seen.extend(r["common.uuid"] for r in body["results"])
        assert body["hasMore"] is (len(seen) < 300)
        if not body["hasMore"]:
            return seen
        offset += 1 if as_page else limit


async def test_offset_is_an_index_by_default(sim: Simulator) -> None:
    assert await _pages(sim, 7, as_page=False) == list(sim.fleet.devices)
    _status, body = await search(sim, query="", fields="common.uuid", limit="5", offset="3")
    assert [r["common.uuid"] for r in body["results"]] == list(sim.fleet.devices)[3:8]


async def test_offset_as_page_switch(sim: Simulator) -> None:
    sim.set_quirks(Quirks(v2_offset_as_page=True))
    assert await _pages(sim, 7, as_page=True) == list(sim.fleet.devices)
    _status, body = await search(sim, query="", fields="common.uuid", limit="5", offset="3")
    assert [r["common.uuid"] for r in body["results"]] == list(sim.fleet.devices)[15:20]
    # an index-reading client against a page-reading server skips devices
    _status, body = await search(sim, query="", fields="common.uuid", limit="7", offset="7")
    assert body["results"][0]["common.uuid"] == list(sim.fleet.devices)[49]


async def test_device_page_cap_clamps_or_refuses(sim: Simulator) -> None:
    status, body = await search(sim, query="", fields="common.uuid", limit="300")
    assert body["resultCount"] == 300  # no cap by default
    sim.set_quirks(Quirks(v2_page_cap=40))
    status, body = await search(sim, query="", fields="common.uuid", limit="100")
    assert status == 200 and body["resultCount"] == 40 and body["hasMore"] is True
    got: list[str] = []  # a client stepping offset by the limit it asked for skips devices
    for offset in (0, 100, 200):
        _, body = await search(sim, query="", fields="common.uuid", limit="100", offset=str(offset))
        got.extend(r["common.uuid"] for r in body["results"])
    assert len(got) == 120 and got[40] == list(sim.fleet.devices)[100]
    sim.set_quirks(Quirks(v2_page_cap=40, v2_offset_as_page=True))
    status, body = await search(sim, query="", fields="common.uuid", limit="100", offset="1")
    assert [r["common.uuid"] for r in body["results"]] == list(sim.fleet.devices)[40:80]
    sim.set_quirks(Quirks(v2_page_cap=40, v2_over_cap="error"))
    status, body = await search(sim, query="", fields="common.uuid", limit="41")
    assert status == 400 and "40" in error_text(body)
    assert (await search(sim, query="", fields="common.uuid", limit="40"))[0] == 200


async def test_paging_parameters_checked(sim: Simulator) -> None:
    status, body = await search(sim, query="", fields="common.uuid")
    assert body["resultCount"] == 50  # the default limit
    for bad in ({"limit": "x"}, {"limit": "-1"}, {"offset": "-3"}, {"offset": "1.5"}):
        status, body = await search(sim, query="", fields="common.uuid", **bad)
        assert status == 400, bad
        error_text(body)
    status, body = await search(sim, query="", fields="common.uuid", offset="1000")
    assert status == 200 and body["results"] == [] and body["hasMore"] is False
    assert body["totalCount"] == 300


# ------------------------------------------------------------------------ the web server
async def test_auth_as_v1(sim: Simulator) -> None:
    status, body, ctype = await call(sim, "GET", V2 + "/ping", authorized=False)
    assert status == 401 and ctype == "text/html"
    status, body, ctype = await call(
        sim, "GET", V2 + "/ping", headers={"Authorization": "Basic bm86bm8="}, authorized=False
    )
    assert status == 401
    sim.set_quirks(Quirks(auth_error_body="api", no_role_status=403))
    status, body, ctype = await call(sim, "GET", V2 + "/ping", authorized=False)
    assert status == 401 and ctype == "application/json" and error_text(body)
    no_role = base64.b64encode(f"{sim.forbidden_username}:{sim.forbidden_password}".encode())
    status, body, _ = await call(
        sim,
        "GET",
        V2 + "/ping",
        headers={"Authorization": "Basic " + no_role.decode()},
        authorized=False,
    )
    assert status == 403 and "role" in error_text(body)


async def test_wrong_method_and_unknown_path(sim: Simulator) -> None:
    status, body, _ = await call(sim, "POST", V2 + "/ping")
    assert status == 405 and error_text(body)
    status, body, ctype = await call(sim, "GET", V2 + "/nothing/here")
    assert status == 404 and ctype == "text/html"


async def test_v2_disabled_is_the_web_servers_404_everywhere(sim: Simulator) -> None:
    sim.set_quirks(Quirks(v2_enabled=False))
    uuid = next(iter(sim.fleet.devices))
    for method, path in (
        ("GET", "/ping"),
        ("GET", "/device_spaces/mine"),
        ("GET", "/devices?adminDeviceSpaceId=1&query=&fields=common.uuid"),
        ("GET", "/devices/count?adminDeviceSpaceId=1&query="),
        ("GET", "/labels/label_summary?adminDeviceSpaceId=1"),
        ("GET", f"/devices/{uuid}/labels?adminDeviceSpaceId=1"),
        ("PUT", "/devices/labels/Sales/add?adminDeviceSpaceId=1"),
        ("POST", "/labels?adminDeviceSpaceId=1"),
        ("DELETE", "/labels?adminDeviceSpaceId=1"),
        ("POST", "/ping"),  # a wrong method too: no 405 to give v2 away
        ("GET", ""),
    ):
        for authorized in (True, False):
            status, _body, ctype = await call(sim, method, V2 + path, authorized=authorized)
            assert (status, ctype) == (404, "text/html"), (method, path)
    assert (await dm(sim, "/labels"))[0] == 200  # v1 untouched
    assert all(r.status == 404 for r in sim.received.requests if r.path.startswith(V2))
    sim.set_quirks(Quirks())  # on again while running
    assert (await v2(sim, "GET", "/ping", space=False))[0] == 200


async def test_v2_requests_in_the_received_log_and_counters(sim: Simulator) -> None:
    uuids = list(sim.fleet.devices)[:3]
    sim.received.clear()
    sim.stats.reset()
    await search(sim, query='"common.status"="ACTIVE"', fields="common.uuid")
    await v2(sim, "PUT", "/devices/labels/Sales/add", body={"deviceUuids": uuids})
    await v2(
        sim,
        "PUT",
        "/devices/labels/Sales,Field%20Engineers/remove",
        body={"deviceUuids": [uuids[0].upper(), uuids[0]]},
    )
    await v2(sim, "PUT", "/devices/labels/Nope/add", body={"deviceUuids": ["x"]})  # refused
    reqs = sim.received.requests
    assert [(r.method, r.path, r.status) for r in reqs] == [
        ("GET", V2 + "/devices", 200),
        ("PUT", V2 + "/devices/labels/Sales/add", 200),
        ("PUT", V2 + "/devices/labels/Sales,Field Engineers/remove", 200),
        ("PUT", V2 + "/devices/labels/Nope/add", 404),
    ]
    assert ("query", '"common.status"="ACTIVE"') in reqs[0].query_pairs()
    assert reqs[0].body is None and reqs[1].json() == {"deviceUuids": uuids}
    counts = sim.received.label_uuids()
    assert counts[uuids[0]] == 3 and counts[uuids[1]] == 1 and counts["x"] == 1
    assert sim.received.label_uuids("remove") == {uuids[0]: 2}
    assert sim.received.label_uuids("add")[uuids[0]] == 1
    assert sim.stats.requests_total == 4
    assert sim.stats.by_path[V2 + "/devices"] == 1
    assert sim.stats.by_path[V2 + "/devices/labels/{names}/add"] == 2
    assert sim.stats.by_status[404] == 1


async def test_faults_apply_to_v2(sim: Simulator) -> None:
    sim.set_faults(Faults(error_rate=1.0, error_statuses=(503,), paths=(V2,)))
    status, _ = await v2(sim, "GET", "/ping", space=False)
    assert status == 503
    assert (await dm(sim, "/labels"))[0] == 200
    assert sim.received.requests[-2].fault == "error"


async def test_v1_unchanged_by_v2_reads(sim: Simulator) -> None:
    before = await dm(sim, "/devices?limit=20")
    await search(sim, query="", fields=ALL, limit="300")
    await v2(sim, "GET", "/labels/label_summary")
    assert await dm(sim, "/devices?limit=20") == before
    assert DM  # the v1 prefix stays /api/v1/dm
