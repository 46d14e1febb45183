"""The v2 label calls on the in-memory transport: lookup, membership, create, delete, a
device's labels; their safety (what is retried) and their validation (nothing sent)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from v2_support import Fleet, client, label, params, uuid_of, v2

from epmm_async.errors import (
    ConnectError,
    DeviceNotFound,
    NotFoundError,
    ServerError,
    TransportError,
    ValidationError,
)
from epmm_async.transport import Canned, HttpRequest, MemoryTransport
from epmm_async.v2 import AmbiguousLabelError, V2Api

A, B = uuid_of(1), uuid_of(2)


def body(request: HttpRequest) -> object:
    assert request.body is not None
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.body)


# -- finding a label by name --------------------------------------------------------------


def summaries(names: list[str]) -> Fleet:
    return Fleet([label(i, name) for i, name in enumerate(names, start=1)])


async def test_a_label_on_the_third_page_is_found_by_paging_through_all_pages() -> None:
    names = [f"label-{i}" for i in range(1, 13)]
    names[10] = "Field Staff"
    f = summaries(names)
    f.cap = 5  # the server answers 5 labels a page whatever the limit
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/labels/label_summary", f.responder())
    async with client(transport) as epmm:
        found = await v2(epmm).label("Field Staff")
        missing = await v2(epmm).label("field staff")  # case-sensitive
    assert found is not None and (found.id, found.name) == (11, "Field Staff")
    assert missing is None
    offsets = [int(params(r)["offset"]) for r in transport.requests]
    # page 1, the probe, page 3 (holding it: labels 7..11), and the rest: every page is read
    assert offsets == [0, 1, 6, 11] * 2
    assert all(params(r)["limit"] in ("200", "5") for r in transport.requests)


async def test_a_label_past_two_hundred_is_found() -> None:
    names = [f"l{i}" for i in range(450)]
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/labels/label_summary", summaries(names).responder())
    async with client(transport) as epmm:
        found = await v2(epmm).label("l449")
    assert found is not None and found.id == 450
    assert len(transport.requests) == 4  # 0..199, probe 1..200, 201..400, 401..449


async def test_two_labels_of_one_name_are_ambiguous() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/labels/label_summary",
                 summaries(["x", "dup", "y", "dup"]).responder())
    async with client(transport) as epmm:
        with pytest.raises(AmbiguousLabelError) as caught:
            await v2(epmm).label("dup")
    assert [lab.id for lab in caught.value.labels] == [2, 4]


# -- membership ---------------------------------------------------------------------------


async def test_add_sends_one_put_with_names_joined_and_each_encoded() -> None:
    transport = MemoryTransport()
    transport.on("PUT", "/api/v2/devices/labels/Field%20Staff,a%2Fb,%2E%2E/add", Canned.json({
        "successful": False,
        "results": {"records": [
            {"label": "Field Staff", "device": A, "message": "added"},
            {"label": {"name": "a/b"}, "device": {"uuid": B}, "message": "no such device",
             "failureCode": 17}]}}))
    async with client(transport) as epmm:
        result = await v2(epmm).add_to_label(["Field Staff", "a/b", ".."],
                                             [A, B.upper(), A, f" {B} "])
    [sent] = transport.requests
    assert sent.method == "PUT" and params(sent) == {"adminDeviceSpaceId": "1"}
    assert sent.url.startswith("https://epmm.v2.test/api/v2/devices/labels/")
    assert body(sent) == {"deviceUuids": [A, B]}  # validated, lower-cased, deduplicated
    assert result.successful is False
    assert [(r.label, r.device, r.failure_code) for r in result.failures] == [("a/b", B, "17")]
    assert len(result.records) == 2 and not result.records[0].failed


async def test_remove_sends_one_put_and_reads_successful() -> None:
    transport = MemoryTransport()
    transport.on("PUT", "/api/v2/devices/labels/Kiosk/remove", Canned.json({"successful": True}))
    async with client(transport) as epmm:
        result = await v2(epmm).remove_from_label("Kiosk", A)
    assert result.successful is True and result.records == ()
    assert body(transport.requests[0]) == {"deviceUuids": [A]}


@pytest.mark.parametrize(("answer", "successful"), [
    (Canned(200, b""), True),
    (Canned.json({"results": {"records": [{"device": A, "failureCode": "X"}]}}), False),
    (Canned.json({"results": [{"device": A, "message": "ok"}]}), True)])
async def test_membership_answers_without_successful(answer: Canned, successful: bool) -> None:
    transport = MemoryTransport()
    transport.on("PUT", "/api/v2/devices/labels/Kiosk/add", answer)
    async with client(transport) as epmm:
        assert (await v2(epmm).add_to_label("Kiosk", [A])).successful is successful


async def test_membership_is_idempotent_so_a_server_error_is_retried() -> None:
    transport = MemoryTransport()
    transport.on("PUT", "/api/v2/devices/labels/Kiosk/add",
                 Canned.json({"messages": ["busy"]}, status=500), Canned.json({"successful": True}))
    async with client(transport) as epmm:
        assert (await v2(epmm).add_to_label("Kiosk", [A])).successful
    assert len(transport.requests) == 2


async def test_membership_on_an_unknown_label_is_not_found() -> None:
    transport = MemoryTransport()
    transport.on("PUT", "/api/v2/devices/labels/Nope/add", Canned.json(
        {"messages": [{"message": "Label not found"}]}, status=404))
    async with client(transport) as epmm:
        with pytest.raises(NotFoundError, match="Label not found"):
            await v2(epmm).add_to_label("Nope", [A])


# -- create, delete -----------------------------------------------------------------------


async def test_create_label_posts_its_fields_and_reads_the_new_id() -> None:
    transport = MemoryTransport()
    transport.on("POST", "/api/v2/labels", Canned.json(
        {"results": {"id": "31", "name": "Field Staff", "staticLabel": True}}))
    async with client(transport, device_space_id=3) as epmm:
        made = await v2(epmm).create_label("Field Staff", "phones in the field")
    [sent] = transport.requests
    assert params(sent) == {"adminDeviceSpaceId": "3"}
    assert body(sent) == {"name": "Field Staff", "description": "phones in the field",
                          "deviceSpaceId": 3, "static": True}
    assert (made.id, made.name, made.static) == (31, "Field Staff", True)


@pytest.mark.parametrize("call", ["create", "delete"])
async def test_create_and_delete_are_unsafe_so_never_resent_once_maybe_applied(
        call: str) -> None:
    transport = MemoryTransport()
    failing = Canned.json({"messages": ["oops"]}, status=500)
    transport.on("POST", "/api/v2/labels", failing, Canned.json({"results": {"id": 1}}))
    transport.on("DELETE", "/api/v2/labels", failing, Canned.json({"successful": True}))
    async with client(transport) as epmm:
        api = v2(epmm)
        with pytest.raises(ServerError):
            if call == "create":
                await api.create_label("Once")
            else:
                await api.delete_labels([5], "cleanup")
    assert len(transport.requests) == 1


@pytest.mark.parametrize("sent", [True, False])
async def test_a_create_that_may_have_arrived_is_not_resent_one_never_sent_is(
        sent: bool) -> None:
    transport = MemoryTransport()
    calls = []

    def drop(request: HttpRequest) -> Canned:
        calls.append(request)
        if len(calls) == 1:
            if sent:
                raise TransportError("reset", method="POST", path="/labels", sent=True)
            raise ConnectError("refused", method="POST", path="/labels")
        return Canned.json({"results": {"id": 1}})

    transport.on("POST", "/api/v2/labels", drop)
    async with client(transport) as epmm:
        if sent:
            with pytest.raises(TransportError):
                await v2(epmm).create_label("Once")
        else:
            assert (await v2(epmm).create_label("Once")).id == 1
    assert len(calls) == (1 if sent else 2)


async def test_delete_labels_sends_ids_reason_and_space() -> None:
    transport = MemoryTransport()
    transport.on("DELETE", "/api/v2/labels", Canned.json({"successful": True}), Canned(200, b""),
                 Canned.json({"successful": False}))
    async with client(transport) as epmm:
        api = v2(epmm)
        assert await api.delete_labels([5, "6", 5], "cleanup") is True
        assert await api.delete_labels(7, "again") is True
        assert await api.delete_labels([8], "refused") is False
    assert body(transport.requests[0]) == {"reason": "cleanup", "labelIds": [5, 6],
                                           "deviceSpaceId": 1}


# -- a device's labels --------------------------------------------------------------------


async def test_device_labels_reads_ids_as_text() -> None:
    transport = MemoryTransport()
    transport.on("GET", f"/api/v2/devices/{A}/labels", Canned.json({"results": [
        {"id": 5, "name": "Kiosk", "staticLabel": True},
        {"id": "6", "name": "All-Smartphones", "staticLabel": False, "extra": 1}]}))
    async with client(transport) as epmm:
        got = await v2(epmm).device_labels(A.upper())
    assert [(d.id, d.name, d.static) for d in got] == [("5", "Kiosk", True),
                                                       ("6", "All-Smartphones", False)]
    assert transport.requests[0].path == f"/api/v2/devices/{A}/labels"


async def test_device_labels_of_an_unknown_device_is_device_not_found() -> None:
    transport = MemoryTransport()
    transport.on("GET", f"/api/v2/devices/{A}/labels", Canned.json(
        {"messages": [{"message": "Device not found"}]}, status=404))
    async with client(transport) as epmm:
        with pytest.raises(DeviceNotFound):
            await v2(epmm).device_labels(A)


# -- validation: nothing is sent, not even the discovery ----------------------------------


BAD: list[Callable[[V2Api], Awaitable[object]]] = [
    lambda api: api.add_to_label([], [A]),
    lambda api: api.add_to_label("a,b", [A]),
    lambda api: api.add_to_label(["ok", "x,y"], [A]),
    lambda api: api.add_to_label([""], [A]),
    lambda api: api.add_to_label("Kiosk", []),
    lambda api: api.add_to_label("Kiosk", ["not-a-uuid"]),
    lambda api: api.add_to_label("Kiosk", [A, 5]),  # type: ignore[list-item]
    lambda api: api.remove_from_label("Kiosk", [B, "\udcff"]),
    lambda api: api.remove_from_label("bad\udcff", [B]),
    lambda api: api.create_label(""),
    lambda api: api.create_label("with,comma"),
    lambda api: api.create_label("ok", static="yes"),  # type: ignore[arg-type]
    lambda api: api.create_label("ok", description=None),  # type: ignore[arg-type]
    lambda api: api.delete_labels([], "why"),
    lambda api: api.delete_labels([0], "why"),
    lambda api: api.delete_labels([True], "why"),
    lambda api: api.delete_labels(["abc"], "why"),
    lambda api: api.delete_labels([1], ""),
    lambda api: api.device_labels("nope"),
    lambda api: api.label(""),
    lambda api: api.count(5),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("call", BAD)
async def test_bad_input_is_refused_before_anything_is_sent(
        call: Callable[[V2Api], Awaitable[object]]) -> None:
    transport = MemoryTransport()
    async with client(transport, device_space_id=None) as epmm:
        with pytest.raises(ValidationError):
            await call(v2(epmm))
    assert transport.requests == []
