"""API v2 labels over plain HTTP: the paged label summary and its cap, a device's labels,
creation and deletion, and static membership (add/remove) with its unknowns: unknown devices
and labels, dynamic labels, the per-call uuid cap and the partial-failure answer. Every
change must show in v1's label search and label counts (one fleet, no v2 copy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sim_v2_support import dm, error_text, v2, where

from epmm_async.enums import DeviceStatus
from epmm_async.simulator import Quirks, Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=300, seed=5, quirks=Quirks.clean()) as s:
        yield s


def live(sim: Simulator, n: int = 3, label: int | None = None) -> list[str]:
    """``n`` devices not retired (v1's label search shows them), not in ``label``."""
    found = where(
        sim,
        lambda d: d.status != DeviceStatus.RETIRED and (label is None or label not in d.labels),
    )
    return [d.uuid for d in found[:n]]


async def v1_label_members(sim: Simulator, name: str) -> list[str]:
    from urllib.parse import quote

    status, body = await dm(sim, "/labels/" + quote(name, safe="") + "?limit=100000")
    if status == 404:
        return []
    assert status == 200, body
    return [d["uuid"] for d in body["devices"]["device"]]


async def v1_count(sim: Simulator, name: str) -> int:
    status, body = await dm(sim, "/labels")
    assert status == 200
    (entry,) = [lb for lb in body["labels"]["label"] if lb["name"] == name]
    return int(entry["deviceCount"])


async def summary(sim: Simulator, **params: str) -> tuple[int, Any]:
    return await v2(sim, "GET", "/labels/label_summary", params)


async def summary_entry(sim: Simulator, name: str) -> dict[str, Any]:
    status, body = await summary(sim, limit="200")
    assert status == 200
    (entry,) = [lb for lb in body["results"] if lb["name"] == name]
    return dict(entry)


async def add(sim: Simulator, names: str, uuids: list[str], verb: str = "add") -> tuple[int, Any]:
    return await v2(sim, "PUT", f"/devices/labels/{names}/{verb}", body={"deviceUuids": uuids})


# ---------------------------------------------------------------------- label summary
async def test_label_summary_entries(sim: Simulator) -> None:
    status, body = await summary(sim)
    assert status == 200
    assert body["totalCount"] == len(sim.fleet.labels) == body["resultCount"]
    assert body["hasMore"] is False
    counts = sim.fleet.label_counts()
    for entry, label in zip(body["results"], sim.fleet.labels, strict=True):
        assert entry == {
            "id": label.id,
            "name": label.name,
            "description": label.description,
            "isStatic": label.static,
            "criteria": label.query,
            "deviceCount": counts[label.id],
            "deviceSpaceId": 1,
            "deviceSpaceName": "Global",
            "rowType": "SYSTEM" if label.id < 0 else "ADMIN",
        }
    # v1 and v2 counts agree
    status, v1 = await dm(sim, "/labels")
    assert {lb["name"]: lb["deviceCount"] for lb in v1["labels"]["label"]} == {
        e["name"]: e["deviceCount"] for e in body["results"]
    }


async def test_label_summary_paging_and_its_cap(sim: Simulator) -> None:
    for i in range(250):
        sim.fleet.create_label(f"Bulk {i:03}", "", static=True)
    names = [lb.name for lb in sim.fleet.labels]
    status, body = await summary(sim, limit="500")
    assert status == 200 and body["resultCount"] == 200 and body["hasMore"] is True
    assert body["totalCount"] == len(names)
    seen: list[str] = []
    offset = 0
    while True:
        _, body = await summary(sim, limit="200", offset=str(offset))
        seen.extend(e["name"] for e in body["results"])
        if not body["hasMore"]:
            break
        offset += 200
    assert seen == names
    sim.set_quirks(Quirks(v2_offset_as_page=True))
    _, body = await summary(sim, limit="100", offset="2")
    assert [e["name"] for e in body["results"]] == names[200:]
    sim.set_quirks(Quirks(v2_over_cap="error"))
    status, body = await summary(sim, limit="201")
    assert status == 400 and "200" in error_text(body)
    sim.set_quirks(Quirks(v2_label_page_cap=None))
    _, body = await summary(sim, limit="500")
    assert body["resultCount"] == len(names)


# ---------------------------------------------------------------------- a device's labels
async def test_labels_of_one_device(sim: Simulator) -> None:
    d = where(sim, lambda d: 1 in d.labels and d.kind == "ios")[0]
    status, body = await v2(sim, "GET", f"/devices/{d.uuid}/labels")
    assert status == 200
    expected = [
        {"id": lb.id, "name": lb.name, "staticLabel": lb.static}
        for lb in sim.fleet.labels
        if lb.matches(d)
    ]
    assert body == {"results": expected}
    assert {"id": 1, "name": "Sales", "staticLabel": True} in expected
    assert {"id": -3, "name": "iOS", "staticLabel": False} in expected
    status, body = await v2(sim, "GET", f"/devices/{d.uuid.upper()}/labels")
    assert status == 200
    status, body = await v2(sim, "GET", "/devices/00000000-0000-4000-8000-000000000000/labels")
    assert status == 404 and error_text(body)


# ---------------------------------------------------------------------- membership
async def test_add_then_remove_is_seen_by_v1(sim: Simulator) -> None:
    uuids = live(sim, 3, label=1)
    before_count = await v1_count(sim, "Sales")
    status, body = await add(sim, "Sales", uuids)
    assert (status, body) == (200, {"successful": True, "results": {"records": []}})
    members = await v1_label_members(sim, "Sales")
    assert set(uuids) <= set(members)
    assert await v1_count(sim, "Sales") == before_count + 3
    assert (await summary_entry(sim, "Sales"))["deviceCount"] == before_count + 3
    _, labels = await v2(sim, "GET", f"/devices/{uuids[0]}/labels")
    assert "Sales" in [lb["name"] for lb in labels["results"]]
    assert [e.uuid for e in sim.ledger.entries if e.action == "LABEL_ADD"] == uuids
    assert {(e.via, e.detail) for e in sim.ledger.entries} == {("v2", "Sales")}
    status, body = await add(sim, "Sales", uuids[:2], "remove")
    assert (status, body) == (200, {"successful": True})
    members = await v1_label_members(sim, "Sales")
    assert uuids[2] in members and not set(uuids[:2]) & set(members)
    assert await v1_count(sim, "Sales") == before_count + 1
    assert sim.ledger.actions("LABEL_REMOVE") == {uuids[0]: 1, uuids[1]: 1}


async def test_add_is_idempotent_and_remove_of_a_non_member_succeeds(sim: Simulator) -> None:
    uuids = live(sim, 2, label=2)
    assert (await add(sim, "Field%20Engineers", uuids))[1]["successful"] is True
    assert (await add(sim, "Field%20Engineers", uuids))[1]["successful"] is True
    assert len(sim.ledger) == 2  # the second add changed nothing
    other = live(sim, 1, label=6)
    assert await add(sim, "Empty%20Label", other, "remove") == (200, {"successful": True})


async def test_several_names_percent_encoded_any_case(sim: Simulator) -> None:
    uuid = live(sim, 1, label=4)[0]
    sim.fleet.devices[uuid].labels = ()
    names = "sales,R%26D%2FPrototypes,%C3%89quipe%20Paris"
    status, body = await add(sim, names, [uuid.upper()])
    assert (status, body["successful"]) == (200, True)
    assert sorted(sim.fleet.devices[uuid].labels) == [1, 4, 5]
    for name in ("Sales", "R&D/Prototypes", "Équipe Paris"):
        assert uuid in await v1_label_members(sim, name)
    assert (await add(sim, "Sales,%20R%26D%2FPrototypes", [uuid], "remove"))[0] == 200
    assert sim.fleet.devices[uuid].labels == (5,)


async def test_unknown_device_is_a_failure_record(sim: Simulator) -> None:
    good = live(sim, 2, label=1)
    ghost = "00000000-0000-4000-8000-000000000000"
    status, body = await add(sim, "Sales", [good[0], ghost, good[1]])
    assert status == 200 and body["successful"] is False
    assert body["results"]["records"] == [
        {
            "label": "Sales",
            "device": ghost,
            "message": body["results"]["records"][0]["message"],
            "failureCode": "DEVICE_NOT_FOUND",
        }
    ]
    assert set(good) <= set(await v1_label_members(sim, "Sales"))  # the rest applied
    # the remove answer says successful: false too, with no records by default
    assert await add(sim, "Sales", [ghost], "remove") == (200, {"successful": False})


@pytest.mark.parametrize("status_code", [207, 400, 422])
async def test_partial_failure_status_switch(sim: Simulator, status_code: int) -> None:
    sim.set_quirks(Quirks(v2_partial_failure=status_code))
    good = live(sim, 1, label=1)
    status, body = await add(sim, "Sales", [*good, "nope"])
    assert status == status_code and body["successful"] is False
    assert [r["device"] for r in body["results"]["records"]] == ["nope"]
    assert good[0] in await v1_label_members(sim, "Sales")
    assert (await add(sim, "Sales", good))[0] == 200  # a full success stays 200


async def test_success_and_remove_records_switches(sim: Simulator) -> None:
    good = live(sim, 2, label=1)
    sim.set_quirks(Quirks(v2_success_records=True))
    _, body = await add(sim, "Sales", [good[0], "nope"])
    records = body["results"]["records"]
    assert [(r["device"], r["failureCode"]) for r in records] == [
        (good[0], None),
        ("nope", "DEVICE_NOT_FOUND"),
    ]
    sim.set_quirks(Quirks(v2_remove_records=True))
    status, body = await add(sim, "Sales", [good[0], "nope"], "remove")
    assert status == 200 and body["successful"] is False
    assert [r["failureCode"] for r in body["results"]["records"]] == ["DEVICE_NOT_FOUND"]
    sim.set_quirks(Quirks(v2_remove_records=True, v2_success_records=True))
    _, body = await add(sim, "Sales", [good[1]], "remove")
    assert body == {
        "successful": True,
        "results": {
            "records": [
                {"label": "Sales", "device": good[1], "message": "Success", "failureCode": None}
            ]
        },
    }


@pytest.mark.parametrize("verb", ["add", "remove"])
async def test_unknown_label_is_404_or_400_and_nothing_applies(sim: Simulator, verb: str) -> None:
    uuids = live(sim, 2, label=1)
    labels = {u: sim.fleet.devices[u].labels for u in uuids}
    status, body = await add(sim, "Sales,No%20Such%20Label", uuids, verb)
    assert status == 404 and "No Such Label" in error_text(body)
    assert {u: sim.fleet.devices[u].labels for u in uuids} == labels and len(sim.ledger) == 0
    sim.set_quirks(Quirks(v2_unknown_label_status=400))
    status, body = await add(sim, "No%20Such%20Label", uuids, verb)
    assert status == 400 and error_text(body)


async def test_dynamic_label_refused_or_failure_records(sim: Simulator) -> None:
    uuids = live(sim, 2, label=1)
    status, body = await add(sim, "Sales,Android", uuids)
    assert status == 400 and "Android" in error_text(body)
    assert len(sim.ledger) == 0
    sim.set_quirks(Quirks(v2_dynamic_label="records"))
    status, body = await add(sim, "Sales,Android", uuids)
    assert status == 200 and body["successful"] is False
    assert [(r["label"], r["device"], r["failureCode"]) for r in body["results"]["records"]] == [
        ("Android", u, "LABEL_NOT_STATIC") for u in uuids
    ]
    assert set(uuids) <= set(await v1_label_members(sim, "Sales"))


async def test_uuid_cap_and_its_status(sim: Simulator) -> None:
    uuids = live(sim, 4, label=1)
    assert (await add(sim, "Sales", uuids[:1]))[0] == 200  # no cap by default
    sim.set_quirks(Quirks(v2_max_label_uuids=3))
    sim.received.clear()
    status, body = await add(sim, "Sales", uuids)
    assert status == 400 and "too many" in error_text(body).lower()
    assert not set(uuids[1:]) & set(await v1_label_members(sim, "Sales"))
    assert sim.received.label_uuids() == dict.fromkeys(uuids, 1)  # all four were received
    assert (await add(sim, "Sales", uuids[1:]))[0] == 200  # three pass
    sim.set_quirks(Quirks(v2_max_label_uuids=2, v2_label_cap_status=413))
    status, body = await add(sim, "Sales", uuids[:3], "remove")
    assert status == 413 and "too many" in error_text(body).lower()
    assert set(uuids) <= set(await v1_label_members(sim, "Sales"))


@pytest.mark.parametrize(
    "body",
    [None, [], {"deviceUuids": []}, {"deviceUuids": "abc"}, {"deviceUuids": [1, 2]}, {}],
)
async def test_membership_body_checked(sim: Simulator, body: Any) -> None:
    status, answer = await v2(sim, "PUT", "/devices/labels/Sales/add", body=body)
    assert status == 400 and error_text(answer)


async def test_membership_body_not_json(sim: Simulator) -> None:
    from sim_v2_support import V2, call

    status, body, _ = await call(
        sim, "PUT", V2 + "/devices/labels/Sales/add?adminDeviceSpaceId=1", data=b"{nope"
    )
    assert status == 400 and "JSON" in error_text(body)


# ---------------------------------------------------------------------- create and delete
async def test_create_static_label_then_use_it(sim: Simulator) -> None:
    status, body = await v2(
        sim,
        "POST",
        "/labels",
        body={"name": "Kiosks", "description": "Lobby kiosks", "deviceSpaceId": 1, "static": True},
    )
    assert status == 200
    new = body["results"]
    assert new["name"] == "Kiosks" and new["staticLabel"] is True and isinstance(new["id"], int)
    assert new["id"] > max(lb.id for lb in sim.fleet.labels if lb.name != "Kiosks")
    entry = await summary_entry(sim, "Kiosks")
    assert (entry["rowType"], entry["deviceCount"], entry["isStatic"]) == ("ADMIN", 0, True)
    assert await v1_count(sim, "Kiosks") == 0
    uuids = live(sim, 2)
    assert (await add(sim, "Kiosks", uuids))[1]["successful"] is True
    assert await v1_label_members(sim, "Kiosks") == [u for u in sim.fleet.devices if u in uuids]
    assert await v1_count(sim, "Kiosks") == 2


@pytest.mark.parametrize(
    "body",
    [
        {"name": "sales", "static": True},  # a duplicate, any case
        {"name": "", "static": True},
        {"description": "no name"},
        {"name": "X", "static": "yes"},
        {"name": "X", "deviceSpaceId": 2},
        {"name": "X", "static": False},  # dynamic without criteria
        {"name": "X", "static": False, "criteria": '"common.status" = '},
    ],
)
async def test_create_refused(sim: Simulator, body: dict[str, Any]) -> None:
    n = len(sim.fleet.labels)
    status, answer = await v2(sim, "POST", "/labels", body=body)
    assert status == 400 and error_text(answer)
    assert len(sim.fleet.labels) == n


async def test_create_dynamic_label_follows_its_criteria(sim: Simulator) -> None:
    criteria = '"common.platform"="iOS" AND "common.employee_owned"=true'
    status, body = await v2(
        sim, "POST", "/labels", body={"name": "BYOD iOS", "static": False, "criteria": criteria}
    )
    assert status == 200 and body["results"]["staticLabel"] is False
    expected = where(sim, lambda d: d.kind == "ios" and d.employee_owned)
    assert await v1_count(sim, "BYOD iOS") == len(expected)
    live_ones = [d.uuid for d in expected if d.status != DeviceStatus.RETIRED]
    assert await v1_label_members(sim, "BYOD iOS") == live_ones
    assert (await summary_entry(sim, "BYOD iOS"))["criteria"] == criteria
    _, found = await v2(sim, "GET", "/devices/count", {"labelId": str(body["results"]["id"])})
    assert found == {"totalCount": len(expected)}
    assert (await add(sim, "BYOD%20iOS", live_ones[:1]))[0] == 400  # dynamic: no manual members


async def test_delete_labels(sim: Simulator) -> None:
    sales = where(sim, lambda d: 1 in d.labels)
    assert sales
    status, body = await v2(
        sim,
        "DELETE",
        "/labels",
        body={"reason": "cleanup", "labelIds": [1, "6"], "deviceSpaceId": 1},
    )
    assert (status, body) == (200, {"successful": True})
    assert {1, 6}.isdisjoint(lb.id for lb in sim.fleet.labels)
    assert all(1 not in d.labels for d in sales)
    assert await v1_label_members(sim, "Sales") == []
    _, v1 = await dm(sim, "/labels")
    assert "Sales" not in [lb["name"] for lb in v1["labels"]["label"]]
    status, body = await add(sim, "Sales", [sales[0].uuid])
    assert status == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"labelIds": [1, 999]}, 404),
        ({"labelIds": [-1]}, 400),  # a system label
        ({"labelIds": []}, 400),
        ({"labelIds": ["x"]}, 400),
        ({"labelIds": [1], "deviceSpaceId": 3}, 400),
        ({"labelIds": [1], "reason": 5}, 400),
    ],
)
async def test_delete_refused_as_a_whole(sim: Simulator, body: dict[str, Any], status: int) -> None:
    ids = [lb.id for lb in sim.fleet.labels]
    got, answer = await v2(sim, "DELETE", "/labels", body=body)
    assert got == status and error_text(answer)
    assert [lb.id for lb in sim.fleet.labels] == ids


async def test_delete_unknown_label_status_switch(sim: Simulator) -> None:
    sim.set_quirks(Quirks(v2_unknown_label_status=400))
    status, _ = await v2(sim, "DELETE", "/labels", body={"labelIds": [999]})
    assert status == 400
