"""The v2 request builders, pure: prefix, wire, space id, quoting, bodies, safety, checks."""

from __future__ import annotations

import json

import pytest
from v2_support import uuid_of

from epmm_async.core.actions import Safety
from epmm_async.errors import ValidationError
from epmm_async.v2 import Q
from epmm_async.v2 import requests as r

A, B = uuid_of(1), uuid_of(2)
SEARCH = r.device_search("", ["common.status"])


def test_every_request_is_v2_json_with_its_safety() -> None:
    built = {
        "ping": r.ping(),
        "mine": r.device_spaces_mine(),
        "search": r.search_devices(1, SEARCH, offset=0, limit=200),
        "count": r.count_devices(1, ""),
        "fields": r.search_fields(1),
        "labels": r.label_summary(1, offset=0, limit=200),
        "device": r.device_labels(1, A),
        "add": r.add_to_label(1, "L", [A]),
        "remove": r.remove_from_label(1, "L", [A]),
        "create": r.create_label(1, "L"),
        "delete": r.delete_labels(1, [1], "why"),
    }
    for req in built.values():
        assert req.prefix == "/api/v2" and req.wire == "json" and req.form is None
        assert req.target.startswith("/api/v2/")
    reads = {"ping", "mine", "search", "count", "fields", "labels", "device"}
    assert {k for k, v in built.items() if v.safety is Safety.READ} == reads
    assert {k for k, v in built.items() if v.safety is Safety.IDEMPOTENT} == {"add", "remove"}
    assert {k for k, v in built.items() if v.safety is Safety.UNSAFE} == {"create", "delete"}
    assert {k for k, v in built.items() if v.json is not None} == {"add", "remove", "create",
                                                                    "delete"}
    assert "adminDeviceSpaceId" not in built["ping"].query + built["mine"].query
    assert all(v.query.startswith("adminDeviceSpaceId=1") for k, v in built.items()
               if k not in ("ping", "mine"))


def test_search_query_order_and_encoding() -> None:
    search = r.device_search(Q.field("common.platform") == "iOS",
                             ["ios.iPhone UDID", "common.uuid", "ios.iPhone UDID"])
    assert search.fields == ("ios.iPhone UDID", "common.uuid")  # deduplicated, uuid kept
    req = r.search_devices(3, search, offset=400, limit=200)
    assert req.method == "GET" and req.path == "/devices"
    assert req.query == ("adminDeviceSpaceId=3&query=%22common.platform%22%3D%22iOS%22"
                         "&fields=ios.iPhone%20UDID%2Ccommon.uuid&limit=200&offset=400")


def test_common_uuid_is_always_asked_for_and_counts_against_the_limit() -> None:
    assert r.device_search("", ["user.email_address"]).fields[0] == "common.uuid"
    assert len(r.device_search("", [f"a.f{i}" for i in range(511)]).fields) == 512
    with pytest.raises(ValidationError, match="at most 512"):
        r.device_search("", [f"a.f{i}" for i in range(512)])


@pytest.mark.parametrize("fields", [[], "common.uuid,common.status", ["common"],
                                    ["common."], ["a,b.c"], [""], [5], b"common.uuid",
                                    ["common.uuid\n"], [' common.uuid']])
def test_bad_fields_are_refused(fields: object) -> None:
    with pytest.raises(ValidationError):
        r.device_search("", fields)  # type: ignore[arg-type]


def test_a_lone_field_string_is_one_field() -> None:
    assert r.device_search("", "common.status").fields == ("common.uuid", "common.status")


def test_label_id_selects_alone() -> None:
    search = r.device_search("", ["common.uuid"], label_id=9)
    assert "labelId=9" in r.search_devices(1, search, offset=0, limit=5).query
    assert "query=" not in r.search_devices(1, search, offset=0, limit=5).query
    assert "query=&" in r.search_devices(1, SEARCH, offset=0, limit=5).query  # every device
    for bad in (0, -1, True, "9"):
        with pytest.raises(ValidationError):
            r.device_search("", ["common.uuid"], label_id=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("offset", "limit"), [(-1, 5), (0, 0), (True, 5), (0, 2.0)])
def test_bad_paging_is_refused(offset: object, limit: object) -> None:
    with pytest.raises(ValidationError):
        r.search_devices(1, SEARCH, offset=offset, limit=limit)  # type: ignore[arg-type]


def test_label_summary_limit_is_at_most_two_hundred() -> None:
    assert "limit=200" in r.label_summary(1, offset=0, limit=200).query
    with pytest.raises(ValidationError, match="at most 200"):
        r.label_summary(1, offset=0, limit=201)


@pytest.mark.parametrize("space", [0, -2, True, "1", None])
def test_a_bad_space_is_refused(space: object) -> None:
    with pytest.raises(ValidationError):
        r.search_fields(space)  # type: ignore[arg-type]


def test_label_names_are_quoted_as_segments_and_joined_by_commas() -> None:
    req = r.add_to_label(1, ["a b", "x/y", "é", ".", "..", "a b"], [A])
    assert req.path == "/devices/labels/a%20b,x%2Fy,%C3%A9,%2E,%2E%2E/add"
    assert req.method == "PUT" and req.device_count == 1
    one = r.remove_from_label(1, "..", [A, B])
    assert one.path == "/devices/labels/%2E%2E/remove" and one.device_count == 2
    assert json.loads(one.json or b"") == {"deviceUuids": [A, B]}


@pytest.mark.parametrize("names", [[], "", ["a,b"], [" "], ["ok", 3], None])
def test_bad_label_names_are_refused(names: object) -> None:
    with pytest.raises(ValidationError):
        r.add_to_label(1, names, [A])  # type: ignore[arg-type]


@pytest.mark.parametrize("uuids", [[], "", ["x"], [A, None], None, 7])
def test_bad_uuids_are_refused(uuids: object) -> None:
    with pytest.raises(ValidationError):
        r.add_to_label(1, "L", uuids)  # type: ignore[arg-type]


def test_uuids_are_normalised_and_deduplicated() -> None:
    assert r.check_uuids([A.upper(), f" {A} ", B]) == (A, B)
    assert r.check_uuids(A) == (A,)


def test_create_and_delete_bodies() -> None:
    create = r.create_label(4, "Kiosk", "shop floor", static=False)
    assert (create.method, create.path, create.query) == ("POST", "/labels",
                                                          "adminDeviceSpaceId=4")
    assert json.loads(create.json or b"") == {"name": "Kiosk", "description": "shop floor",
                                              "deviceSpaceId": 4, "static": False}
    delete = r.delete_labels(4, [3, " 4 ", 3], "retired")
    assert (delete.method, delete.path) == ("DELETE", "/labels")
    assert json.loads(delete.json or b"") == {"reason": "retired", "labelIds": [3, 4],
                                              "deviceSpaceId": 4}


def test_device_labels_path_takes_a_checked_uuid() -> None:
    assert r.device_labels(1, A.upper()).path == f"/devices/{A}/labels"
    with pytest.raises(ValidationError):
        r.device_labels(1, "../labels")


def test_count_checks_the_query_length() -> None:
    assert r.count_devices(1, "x" * 255).query.endswith("x" * 255)
    with pytest.raises(ValidationError, match="255"):
        r.count_devices(1, "x" * 256)
