"""Decoding the typed (Jettison) wire: numbers and booleans bare, text quoted.

Bodies here are written out literally, as field-notes.md's "Typed JSON" describes real
replies, so the rules are checked against the evidence rather than against an encoder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from epmm_async import ComplianceReason, DecodeError, Device
from epmm_async.core import decode
from epmm_async.core.scalars import java_double_text, scalar_text
from epmm_async.models import DeviceDetails

UTC = dt.UTC


def _device(i: int, **extra: Any) -> dict[str, Any]:
    """One device as Jettison writes it: numbers and booleans bare, other text quoted."""
    record: dict[str, Any] = {
        "@id": i,
        "uuid": f"00000000-0000-4000-8000-{i:012d}",
        "principal": f"user{i}",
        "blockReason": 0,
        "compliance": 0,
        "countryCode": 1,
        "countryId": 183,
        "details": [
            {
                "entry": [
                    {"key": "imei", "value": 356938035643809},
                    {"key": "battery_life", "value": 87},
                    {"key": "Battery Level", "value": 0.85},
                    {"key": "OSVersion", "value": "4.5.0"},
                    {"key": "DeviceCompromised", "value": False},
                ]
            }
        ],
        "employeeOwned": False,
        "lastConnectedAt": "2024-06-01T00:00:00+00:00",
        "mdmManaged": True,
        "notifyUser": True,
        "phoneNumber": 4085551212,
        "quarantinedStatus": 0,
        "status": "ACTIVE",
        "statusCode": 97,
        "userId": 1001,
        "userSource": 76,
        "wipeReason": 0,
    }
    record.update(extra)
    return record


def _page(*devices: dict[str, Any]) -> bytes:
    body: dict[str, Any] = {
        "messages": {"message": f"{len(devices)} Device(s) returned"},
        "devices": {"device": list(devices) if len(devices) != 1 else devices[0]},
        "totalCount": len(devices),
    }
    return msgspec.json.encode(body)


def test_text_fields_read_from_numbers_give_the_text_meant() -> None:
    (device,) = decode.decode_devices(_page(_device(1)), "json").devices
    assert device.phone_number == "4085551212"
    assert device.user_id == "1001"
    assert device.wipe_reason == "0"
    assert device.country_code == "1"
    assert device.status_code == 97 and device.id == 1
    assert device.employee_owned is False and device.mdm_managed is True
    assert device.details["imei"] == "356938035643809"
    assert device.details["battery_life"] == "87"
    assert device.details["Battery Level"] == "0.85"
    assert device.details["DeviceCompromised"] == "false"
    assert device.details.imei == "356938035643809"
    assert device.details.battery_percent == 85.0
    assert device.details.compromised is False


def test_leading_zero_phone_stays_text() -> None:
    (device,) = decode.decode_devices(
        _page(_device(1, phoneNumber="0612345678", principal="007")), "json"
    ).devices
    assert device.phone_number == "0612345678"
    assert device.principal == "007"


def test_doubles_read_back_as_java_writes_them() -> None:
    (device,) = decode.decode_devices(
        _page(_device(1, model=100.0, name=1.0e-4, comment=37.386433)), "json"
    ).devices
    assert (device.model, device.name, device.comment) == ("100.0", "1.0E-4", "37.386433")


def test_quoted_and_typed_bodies_decode_to_equal_structs() -> None:
    typed = _device(1)

    def quote(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: quote(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [quote(v) for v in obj]
        return scalar_text(obj)

    a = decode.decode_devices(_page(typed), "json").devices
    b = decode.decode_devices(_page(quote(typed)), "json").devices
    assert a == b


def test_numeric_fields_accept_text_and_numbers() -> None:
    quoted = _device(1, statusCode="97", compliance="3", mdmManaged="true", **{"@id": "1"})
    (device,) = decode.decode_devices(_page(quoted), "json").devices
    assert device.status_code == 97 and device.id == 1 and device.mdm_managed is True
    assert int(device.compliance) == 3


def test_details_shapes_all_read_the_same() -> None:
    entries = [{"key": "imei", "value": 1}, {"key": "x", "value": "y"}]
    shapes = [
        [{"entry": entries}],
        {"entry": entries},
        [{"entry": entries[0]}, {"entry": entries[1]}],
    ]
    for shape in shapes:
        (device,) = decode.decode_devices(_page(_device(1, details=shape)), "json").devices
        assert dict(device.details) == {"imei": "1", "x": "y"}, shape
    for empty in ([""], "", None):
        (device,) = decode.decode_devices(_page(_device(1, details=empty)), "json").devices
        assert dict(device.details) == {}


def test_details_do_not_keep_the_body_alive() -> None:
    (device,) = decode.decode_devices(_page(_device(1)), "json").devices
    raw = device.details._raw
    assert isinstance(raw, msgspec.Raw)
    # A copy holds only its own bytes, not a view of the whole response body.
    assert len(bytes(raw)) < 400


def test_empty_text_is_none_and_empty_typed_value_too() -> None:
    body = _page(_device(1, comment="", countryId="", lastConnectedAt="", mdmManaged=""))
    (device,) = decode.decode_devices(body, "json").devices
    assert device.comment is None and device.country_id is None
    assert device.last_connected_at is None and device.mdm_managed is None


# ----------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2024-06-01T00:00:00+00:00", dt.datetime(2024, 6, 1, tzinfo=UTC)),
        ("2024-06-01T02:00:00+02:00", dt.datetime(2024, 6, 1, tzinfo=UTC)),
        ("2024-06-01T00:00:00", dt.datetime(2024, 6, 1, tzinfo=UTC)),
        ("2024-06-01T00:00:00Z", dt.datetime(2024, 6, 1, tzinfo=UTC)),
        (1717200000000, dt.datetime(2024, 6, 1, tzinfo=UTC)),
        ("1717200000000", dt.datetime(2024, 6, 1, tzinfo=UTC)),
        (1717200000, dt.datetime(2024, 6, 1, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_datetime_is_aware(sent: object, expected: dt.datetime, fmt: str) -> None:
    record = _device(1, registeredAt=sent, lastConnectedAt=sent)
    body = _page(record) if fmt == "json" else _xml_page(record)
    (device,) = decode.decode_devices(body, fmt).devices  # type: ignore[arg-type]
    for value in (device.registered_at, device.last_connected_at):
        assert value is not None and value.tzinfo is not None
        assert value == expected


def _xml_text(value: Any) -> str:
    return scalar_text(value)


def _xml_element(tag: str, value: Any) -> str:
    if isinstance(value, list):
        return "".join(_xml_element(tag, v) for v in value)
    if isinstance(value, dict):
        attrs = "".join(f' {k[1:]}="{_xml_text(v)}"' for k, v in value.items() if k[0] == "@")
        inner = "".join(_xml_element(k, v) for k, v in value.items() if k[0] != "@")
        return f"<{tag}{attrs}>{inner}</{tag}>"
    if value is None or value == "":
        return f"<{tag}/>"
    text = _xml_text(value).replace("&", "&amp;").replace("<", "&lt;")
    return f"<{tag}>{text}</{tag}>"


def _xml_page(*devices: dict[str, Any]) -> bytes:
    inner = (
        _xml_element("messages", {"message": f"{len(devices)} Device(s) returned"})
        + _xml_element("devices", {"device": list(devices)})
        + _xml_element("totalCount", len(devices))
    )
    return f'<?xml version="1.0"?><{decode.ROOT_ELEMENT}>{inner}</{decode.ROOT_ELEMENT}>'.encode()


def test_json_and_xml_decode_to_equal_structs() -> None:
    devices = [_device(1), _device(2, phoneNumber="0612345678", details=[""]), _device(3)]
    a = decode.decode_devices(_page(*devices), "json").devices
    b = decode.decode_devices(_xml_page(*devices), "xml").devices
    assert a == b


_text_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)


@settings(max_examples=150, deadline=None)
@given(phone=_text_values, name=_text_values, value=_text_values)
def test_json_xml_agree_for_any_scalar(phone: object, name: object, value: object) -> None:
    record = _device(
        1, phoneNumber=phone, name=name, details=[{"entry": {"key": "k", "value": value}}]
    )
    (a,) = decode.decode_devices(_page(record), "json").devices
    (b,) = decode.decode_devices(_xml_page(record), "xml").devices
    assert a.phone_number == b.phone_number
    assert a.name == b.name
    assert dict(a.details) == dict(b.details)
    for decoded in (a, b):
        assert decoded.phone_number is None or isinstance(decoded.phone_number, str)


# ----------------------------------------------------------------------- public types


def _assert_public_types(device: Device) -> None:
    """Every field holds what its annotation promises a caller (no wire type leaks)."""
    for field in msgspec.structs.fields(Device):
        value = getattr(device, field.name)
        if value is None:
            continue
        kind = {
            "details": DeviceDetails,
        }.get(field.name)
        if kind is not None:
            assert isinstance(value, kind)
        elif field.name.endswith("_at") or field.name == "eas_last_sync_attempt":
            assert isinstance(value, dt.datetime) and value.tzinfo is not None, field.name
        elif field.name in {
            "employee_owned",
            "mdm_managed",
            "notify_user",
            "non_gms",
            "auth_only",
            "multi_user",
            "temporary_session_only",
        }:
            assert isinstance(value, bool), field.name
        elif field.name in {
            "id",
            "client_id",
            "country_id",
            "device_count",
            "language_country_id",
            "language_id",
            "operator_id",
            "reg_count",
            "status_code",
        }:
            assert type(value) is int, field.name
        elif field.name in {
            "compliance",
            "quarantined_status",
            "block_reason",
            "status",
            "user_source",
            "reg_type",
        }:
            continue  # enums, typed by msgspec itself
        else:
            assert type(value) is str and value, field.name


def test_no_wire_type_leaks_into_a_decoded_device() -> None:
    record = _device(
        1,
        registeredAt=1717200000000,
        createdAt="2024-06-01T00:00:00",
        TLVVersion=3,
        nonGMS=True,
        pin=1234,
        name=True,
        comment="",
    )
    for fmt, body in (("json", _page(record)), ("xml", _xml_page(record))):
        (device,) = decode.decode_devices(body, fmt).devices  # type: ignore[arg-type]
        _assert_public_types(device)
        assert device.name == "true" and device.pin == "1234" and device.tlv_version == "3"


def test_a_device_built_by_hand_is_settled_too() -> None:
    device = Device(uuid="u", phone_number=4085551212, registered_at=0)  # type: ignore[arg-type]
    assert device.phone_number == "4085551212"
    assert device.registered_at == dt.datetime(1970, 1, 1, tzinfo=UTC)


# ----------------------------------------------------------------------- ascii booleans


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("sent", "expected"),
    [(116, True), (102, False), ("116", True), ("t", True), ("f", False), (True, True)],
)
def test_ascii_coded_booleans_are_bool(fmt: str, sent: object, expected: bool) -> None:
    tree = {"labels": {"label": [{"@id": 1, "name": "Sales", "isESSearch": sent}]}}
    countries = {
        "countries": {
            "country": [{"countryName": "India", "countryCode": 91, "enabledForRegistration": sent}]
        }
    }
    if fmt == "json":
        labels = decode.decode_labels(msgspec.json.encode(tree), "json")
        found = decode.decode_countries(msgspec.json.encode(countries), "json")
    else:
        labels = decode.decode_labels(_xml_body(tree), "xml")
        found = decode.decode_countries(_xml_body(countries), "xml")
    assert labels[0].is_es_search is expected
    assert found[0].enabled_for_registration is expected and found[0].enabled is expected
    assert found[0].country_code == "91"


def _xml_body(tree: dict[str, Any]) -> bytes:
    inner = "".join(_xml_element(k, v) for k, v in tree.items())
    return f"<{decode.ROOT_ELEMENT}>{inner}</{decode.ROOT_ELEMENT}>".encode()


def test_a_numeric_label_name_is_text() -> None:
    tree = {"labels": {"label": {"@id": 7, "name": 2024, "description": 1.5}}}
    (label,) = decode.decode_labels(msgspec.json.encode(tree), "json")
    assert label.name == "2024" and label.description == "1.5"


# ----------------------------------------------------------------------- other shapes


WRONG_SHAPES = [
    {},
    {"results": [{"common.uuid": "u"}], "totalCount": 1, "hasMore": False},
    {"someOtherResponse": {"devices": {"device": [_device(1)]}, "totalCount": 1}},
    {"totalCount": 3},
]


@pytest.mark.parametrize("tree", WRONG_SHAPES, ids=["empty", "v2", "wrapper", "no-list"])
def test_another_shape_is_a_decode_error_never_an_empty_list(tree: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        decode.decode_devices(msgspec.json.encode(tree), "json")


@pytest.mark.parametrize(
    "tree", WRONG_SHAPES[:2] + WRONG_SHAPES[3:], ids=["empty", "v2", "no-list"]
)
def test_another_shape_xml_agrees(tree: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        decode.decode_devices(_xml_body(tree), "xml")


def test_an_unknown_xml_root_is_a_decode_error() -> None:
    body = (
        b"<someOtherResponse><devices><device><uuid>u</uuid></device></devices></someOtherResponse>"
    )
    with pytest.raises(DecodeError, match="root element"):
        decode.decode_devices(body, "xml")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_other_lists_refuse_empty_and_v2_bodies(fmt: str) -> None:
    for tree in ({}, {"results": [{"id": 1}], "totalCount": 1}):
        body = msgspec.json.encode(tree) if fmt == "json" else _xml_body(tree)
        for read in (
            decode.decode_labels,
            decode.decode_operators,
            decode.decode_profiles,
            decode.decode_countries,
        ):
            with pytest.raises(DecodeError):
                read(body, fmt)  # type: ignore[arg-type]


def test_an_empty_list_said_so_is_still_empty() -> None:
    for tree in (
        {"devices": "", "totalCount": 0},
        {"messages": {"message": "none"}, "totalCount": 0},
    ):
        assert decode.decode_devices(msgspec.json.encode(tree), "json").devices == []
    assert decode.decode_labels(b'{"labels":""}', "json") == []


# ----------------------------------------------------------------------- one bad value


def test_one_odd_timestamp_in_20000_devices_spoils_that_field_only() -> None:
    devices = [_device(i) for i in range(20_000)]
    devices[12_345]["lastConnectedAt"] = "last Tuesday"
    devices[777]["phoneNumber"] = "0612345678"
    with structlog.testing.capture_logs() as logs:
        page = decode.decode_devices(_page(*devices), "json")
    assert len(page.devices) == 20_000
    assert page.devices[12_345].last_connected_at is None
    assert page.devices[12_344].last_connected_at == dt.datetime(2024, 6, 1, tzinfo=UTC)
    assert page.devices[777].phone_number == "0612345678"
    assert page.devices[778].phone_number == "4085551212"
    events = [e for e in logs if e["event"] == "decode.unreadable_field"]
    assert [e["field"] for e in events] == ["devices.device[].lastConnectedAt"]
    assert events[0]["records"] == 1 and events[0]["log_level"] == "debug"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_enum_code_spoils_that_field_only(fmt: str) -> None:
    devices = [_device(1, userSource="X", reg_type="NEW"), _device(2)]
    body = _page(*devices) if fmt == "json" else _xml_page(*devices)
    a, b = decode.decode_devices(body, fmt).devices  # type: ignore[arg-type]
    assert a.user_source is None and b.user_source is not None
    assert a.phone_number == b.phone_number == "4085551212"


def test_an_odd_value_in_every_device_costs_one_round() -> None:
    devices = [_device(i, registeredAt="soon", createdAt="never") for i in range(500)]
    with structlog.testing.capture_logs() as logs:
        page = decode.decode_devices(_page(*devices), "json")
    assert all(d.registered_at is None and d.created_at is None for d in page.devices)
    events = [e for e in logs if e["event"] == "decode.unreadable_field"]
    assert sorted(e["records"] for e in events) == [500, 500]


def test_a_record_of_the_wrong_shape_is_still_an_error() -> None:
    with pytest.raises(DecodeError):
        decode.decode_devices(
            b'{"devices":{"device":[{"uuid":"u"},"oops"]},"totalCount":2}', "json"
        )
    with pytest.raises(DecodeError):
        decode.decode_devices(b'{"devices":"garbage","totalCount":2}', "json")


def test_java_double_text_examples() -> None:
    assert java_double_text(100.0) == "100.0"
    assert java_double_text(1e-4) == "1.0E-4"
    assert java_double_text(1.2345e10) == "1.2345E10"
    assert java_double_text(-0.0) == "-0.0"
    assert java_double_text(0.001) == "0.001"
    assert java_double_text(9999999.0) == "9999999.0"
    assert java_double_text(1e7) == "1.0E7"


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_java_double_text_round_trips(x: float) -> None:
    text = java_double_text(x)
    assert float(text) == x
    mantissa = text.split("E")[0].lstrip("-")
    assert "." in mantissa and mantissa.split(".")[1]
    assert ("E" in text) == (x != 0 and not 1e-3 <= abs(x) < 1e7)


# ----------------------------------------------------------------------- found by review


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_device_without_its_uuid_is_a_decode_error_in_both_formats(fmt: str) -> None:
    devices = [_device(1), _device(2, uuid="")]
    body = _page(*devices) if fmt == "json" else _xml_page(*devices)
    with pytest.raises(DecodeError):
        decode.decode_devices(body, fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("sent", ["x", "1.5", 1.5, -1, "", None])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unreadable_compliance_never_reads_as_compliant(sent: object, fmt: str) -> None:
    devices = [_device(1, compliance=sent), _device(2)]
    body = _page(*devices) if fmt == "json" else _xml_page(*devices)
    a, b = decode.decode_devices(body, fmt).devices  # type: ignore[arg-type]
    assert a.compliance is None and a.compliant is False
    assert b.compliant is True


def test_an_odd_top_level_value_spoils_only_itself() -> None:
    body = (
        b'{"deviceUuid":"u1","locateNow":"yes","locations":{"location":{"uuid":"u1",'
        b'"latitude":1.5,"longitude":2.5,"capturedAt":1717200000000}}}'
    )
    result = decode.decode_locate(body, "json")
    assert result.locate_now is None and result.latest is not None
    page = msgspec.json.decode(_page(_device(1), _device(2)))
    page["totalCount"] = "n/a"
    found = decode.decode_devices(msgspec.json.encode(page), "json")
    assert len(found.devices) == 2 and found.total_count is None


def test_xml_scalars_with_attributes_or_repeated_read_as_one_value() -> None:
    root = decode.ROOT_ELEMENT
    body = (
        f'<{root}><devices><device id="1"><uuid>00000000-0000-4000-8000-000000000001</uuid>'
        '<phoneNumber xsi:nil="true"/><name lang="en">phone</name>'
        "<comment>a</comment><comment>b</comment></device></devices>"
        f"<totalCount>1</totalCount></{root}>"
    ).encode()
    (device,) = decode.decode_devices(body, "xml").devices
    assert device.phone_number is None and device.name == "phone" and device.comment is None


def test_whitespace_text_reads_the_same_on_every_route() -> None:
    odd = _device(2, lastConnectedAt="never")  # forces the JSON body onto the tree route
    details = [{"entry": {"key": "k", "value": " "}}]
    plain = [_device(1, comment=" ", details=details)]
    for body, fmt in (
        (_page(*plain), "json"),
        (_page(*plain, odd), "json"),
        (_xml_page(*plain), "xml"),
    ):
        device = decode.decode_devices(body, fmt).devices[0]  # type: ignore[arg-type]
        assert device.comment == " " and device.details["k"] == " ", fmt


def test_a_list_said_to_have_items_but_holding_none_is_an_error() -> None:
    for read in (decode.decode_labels, decode.decode_operators, decode.decode_profiles):
        with pytest.raises(DecodeError):
            read(b'{"totalCount":3}', "json")


def test_a_location_of_nan_is_not_found() -> None:
    body = (
        b'{"deviceUuid":"u1","locations":{"location":{"uuid":"u1","latitude":"NaN",'
        b'"longitude":"Infinity","capturedAt":1717200000000}}}'
    )
    assert decode.decode_locate(body, "json").latest.found is False  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bitmaps_are_compliance_reasons_from_numbers_or_text(fmt: str) -> None:
    devices = [_device(1, compliance=3, blockReason="512"), _device(2, compliance=-4)]
    body = _page(*devices) if fmt == "json" else _xml_page(*devices)
    a, b = decode.decode_devices(body, fmt).devices  # type: ignore[arg-type]
    assert type(a.compliance) is ComplianceReason and int(a.compliance) == 3
    assert a.block_reason is ComplianceReason.MANUALLY_BLOCKED
    assert b.compliance is None and b.compliant is False
