"""Reading v2 answers, pure: tolerance (unknown keys, missing keys, text numbers), wrong
shapes as DecodeError, and the device record's typed accessors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec
import pytest
from v2_support import uuid_of

from epmm_async.errors import DecodeError
from epmm_async.v2 import DeviceRecord
from epmm_async.v2.decode import (
    Where,
    decode_count,
    decode_created_label,
    decode_deleted,
    decode_device_labels,
    decode_device_spaces,
    decode_label_page,
    decode_membership,
    decode_ping,
    decode_search_fields,
    decode_search_page,
)

W = Where("GET", "/x", 200)
U = uuid_of(9)


def enc(obj: object) -> bytes:
    return msgspec.json.encode(obj)


def test_label_page_is_tolerant_of_unknown_missing_and_text_values() -> None:
    page = decode_label_page(enc({"totalCount": "2", "hasMore": "false", "other": [1], "results": [
        {"id": 1, "name": "A", "isStatic": True, "criteria": None, "new": {"x": 1}},
        {"id": "2", "name": "B", "criteria": {"all": ["common.platform"]}, "deviceCount": "3",
         "rowType": "SYSTEM"}]}), W)
    a, b = page.results
    assert (page.total_count, page.has_more, page.result_count) == (2, False, None)
    assert (a.id, a.name, a.is_static, a.description, a.device_count) == (1, "A", True, None,
                                                                          None)
    assert (b.id, b.device_count, b.row_type) == (2, 3, "SYSTEM")
    assert b.criteria == '{"all":["common.platform"]}'


@pytest.mark.parametrize("body", [
    b"[]", b"nope", b'{"results": {"id": 1}}', b'{"results": [{"name": "no id"}]}',
    b'{"results": [{"id": "x1", "name": "A"}]}', b'{"results": [{"id": 1}]}', b"{}",
    b'{"results": [5]}'])
def test_label_pages_of_the_wrong_shape(body: bytes) -> None:
    with pytest.raises(DecodeError, match=r"\(GET /x -> 200\)"):
        decode_label_page(body, W)


def test_search_page_keeps_dotted_names_and_needs_a_uuid() -> None:
    page = decode_search_page(enc({"resultCount": 1, "results": [
        {"common.uuid": U, "common.noncompliance_reasons": ["a", "b"], "ios.iPhone UDID": "x"}],
        "currentServerTimeMilliseconds": 1}), W)
    [rec] = page.results
    assert list(rec) == ["common.uuid", "common.noncompliance_reasons", "ios.iPhone UDID"]
    assert rec["common.noncompliance_reasons"] == ["a", "b"] and len(rec) == 3
    assert page.total_count is None and page.has_more is None
    with pytest.raises(DecodeError, match=r"common\.uuid"):
        decode_search_page(enc({"results": [{"common.uuid": ""}]}), W)
    assert decode_search_page(enc({"totalCount": 0}), W).results == ()


def test_device_record_accessors_read_tolerantly() -> None:
    rec = DeviceRecord({"common.uuid": U, "common.id": "12", "common.compliant": "TRUE",
                        "common.quarantined": None, "common.status": "ACTIVE",
                        "common.last_connected_at": "2020-11-09T07:38:22.000Z",
                        "common.os_version": 17.1, "user.user_id": 42})
    assert (rec.id, rec.compliant, rec.quarantined, rec.status) == (12, True, None, "ACTIVE")
    assert rec.last_connected_at == datetime(2020, 11, 9, 7, 38, 22, tzinfo=UTC)
    assert (rec.os_version, rec.user_id, rec.email, rec.platform) == ("17.1", "42", None, None)
    assert rec.get("nothing") is None and "common.id" in rec
    assert rec == DeviceRecord(dict(rec)) and repr(rec).startswith("DeviceRecord({")


@pytest.mark.parametrize(("value", "expected"), [
    ("2020-11-09T07:38:22.000Z", datetime(2020, 11, 9, 7, 38, 22, tzinfo=UTC)),
    ("2020-11-09T08:38:22+01:00", datetime(2020, 11, 9, 7, 38, 22, tzinfo=UTC)),
    ("2020-11-09T07:38:22", datetime(2020, 11, 9, 7, 38, 22, tzinfo=UTC)),
    (1604907502000, datetime(2020, 11, 9, 7, 38, 22, tzinfo=UTC)),
    ("1604907502000", datetime(2020, 11, 9, 7, 38, 22, tzinfo=UTC)),
    ("", None), (None, None)])
def test_timestamps_are_aware(value: object, expected: datetime | None) -> None:
    got = DeviceRecord({"common.uuid": U, "t.t": value}).timestamp("t.t")  # type: ignore[dict-item]
    assert got == expected
    assert got is None or got.tzinfo is UTC


@pytest.mark.parametrize(("field", "value", "accessor"), [
    ("common.compliant", "maybe", "compliant"), ("common.compliant", 1, "compliant"),
    ("common.id", "12a", "id"), ("common.id", 1.5, "id"), ("common.id", True, "id"),
    ("common.last_connected_at", "yesterday", "last_connected_at"),
    ("common.last_connected_at", True, "last_connected_at"),
    ("common.last_connected_at", 1e300, "last_connected_at"),
    ("common.status", ["A"], "status")])
def test_unreadable_values_are_decode_errors(field: str, value: object, accessor: str) -> None:
    rec = DeviceRecord({"common.uuid": U, field: value})  # type: ignore[dict-item]
    with pytest.raises(DecodeError, match=re.escape(field)):
        getattr(rec, accessor)


def test_a_record_needs_a_uuid() -> None:
    for fields in ({}, {"common.uuid": 5}, {"common.uuid": " "}):
        with pytest.raises(DecodeError):
            DeviceRecord(fields)


def test_small_answers() -> None:
    assert decode_ping(enc({"results": {"apiVersion": "2.0"}}), W).api_version == 2.0
    assert decode_ping(b"{}", W).vsp_version is None
    spaces = decode_device_spaces(enc({"results": [{"id": "3", "name": "EU", "x": 1}]}), W)
    assert [(s.id, s.name) for s in spaces] == [(3, "EU")]
    assert decode_device_spaces(b'{"results": []}', W) == []
    with pytest.raises(DecodeError):  # no results: not an answer, never "no space listed"
        decode_device_spaces(b'{"results": null}', W)
    assert decode_count(b'{"totalCount": 4, "x": 1}', W) == 4
    assert [f.name for f in decode_search_fields(enc({"results": [{"name": "a.b"}]}), W)] \
        == ["a.b"]
    [lab] = decode_device_labels(enc({"results": [{"id": 7, "name": "K", "static": False}]}), W)
    assert (lab.id, lab.static) == ("7", False)
    made = decode_created_label(enc({"results": {"id": 9}}), W)
    assert (made.id, made.name, made.static) == (9, None, None)
    assert decode_deleted(b" ", W) and decode_deleted(b'{"other": 1}', W)
    assert not decode_deleted(b'{"successful": "false"}', W)


@pytest.mark.parametrize(("decode", "body"), [
    (decode_count, b'{"totalCount": "many"}'), (decode_created_label, b'{"results": null}'),
    (decode_created_label, b"{}"), (decode_device_labels, b'{"results": [{"id": 1}]}'),
    (decode_device_spaces, b'{"results": [{"name": "no id"}]}'), (decode_deleted, b"[true]"),
    (decode_membership, b'{"successful": "perhaps"}'), (decode_membership, b"not json"),
    (decode_search_fields, b'{"results": [{}]}')])
def test_wrong_shapes_are_decode_errors(decode: object, body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(body, W)  # type: ignore[operator]


def test_membership_records_name_labels_and_devices_however_sent() -> None:
    result = decode_membership(enc({"successful": True, "results": {"records": [
        {"label": {"id": 4}, "device": {"deviceUuid": U}, "failureCode": None},
        {"label": 5, "device": U, "message": {"text": "odd"}}]}}), W)
    assert [(r.label, r.device, r.message) for r in result.records] == [
        ("4", U, None), ("5", U, '{"text":"odd"}')]
    assert result.successful and result.failures == ()
