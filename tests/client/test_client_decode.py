"""Decoding: JSON and XML give equal structs; field mapping, flags, timestamps, details."""

from __future__ import annotations

import datetime as dt
import json

import bodies as b
import pytest

from epmm_async import ComplianceReason, DeviceDetails, UserSource
from epmm_async.core import decode

DECODERS = {
    "devices": (decode.decode_devices, b.devices_tree(b.device_tree(), b.device_tree(b.UUID2))),
    "one_device": (decode.decode_devices, b.devices_tree(b.device_tree())),
    "device": (decode.decode_device, b.single_device_tree(b.device_tree())),
    "labels": (decode.decode_labels, b.LABELS_TREE),
    "operators": (decode.decode_operators, b.OPERATORS_TREE),
    "countries": (decode.decode_countries, b.COUNTRIES_TREE),
    "registration": (decode.decode_registration, b.registration_tree()),
    "action": (decode.decode_action, b.action_tree("Device is retired successfully.")),
    "unlock": (decode.decode_action, b.unlock_tree()),
    "locate": (decode.decode_locate, b.locate_tree()),
    "roaming": (decode.decode_roaming, b.roaming_tree()),
    "profiles": (decode.decode_profiles, b.PROFILES_TREE),
    "bulk": (decode.decode_bulk, b.bulk_unlock_tree()),
    "message": (decode.decode_message_result, b.message_result_tree([b.UUID1])),
    "message_ok": (decode.decode_message_result, b.message_result_tree([])),
}


@pytest.mark.parametrize("name", list(DECODERS))
def test_json_and_xml_decode_equal(name: str) -> None:
    fn, tree = DECODERS[name]
    from_xml = fn(b.xml(tree).encode(), "xml")  # type: ignore[operator]
    from_json = fn(b.jettison(tree).encode(), "json")  # type: ignore[operator]
    from_loose = fn(b.loose_json(tree).encode(), "json")  # type: ignore[operator]
    from_wrapped = fn(b.jettison(tree, wrap=True).encode(), "json")  # type: ignore[operator]
    assert from_xml == from_json
    assert from_xml == from_loose
    assert from_xml == from_wrapped
    assert from_xml not in (None, [], ())


def test_empty_string_text_field_is_none_in_both_formats() -> None:
    # A label with an empty <description/> (mapped JSON: "") must not be "" in one format only.
    tree = {"labels": {"label": [{"@id": "1", "name": "x", "description": None}]}}
    assert decode.decode_labels(b.jettison(tree).encode(), "json")[0].description is None
    assert decode.decode_labels(b.xml(tree).encode(), "xml")[0].description is None


def test_edge_whitespace_is_kept_alike_in_both_formats() -> None:
    # The document's own example has " System - iOS MDM": text is data, kept as sent.
    tree = {"profiles": {"profile": [{"@id": "-2", "name": " System - iOS MDM"}]}}
    from_json = decode.decode_profiles(b.jettison(tree).encode(), "json")
    assert from_json == decode.decode_profiles(b.xml(tree).encode(), "xml")
    assert from_json[0].name == " System - iOS MDM"


def test_indented_xml_decodes_like_compact_json() -> None:
    tree = b.devices_tree(b.device_tree(b.UUID1), b.device_tree(b.UUID2))
    pretty = b.xml(tree).replace("><", ">\n    <").encode()
    assert decode.decode_devices(pretty, "xml") == decode.decode_devices(
        b.jettison(tree).encode(), "json"
    )


def test_device_fields() -> None:
    d = decode.decode_device(b.jettison(b.single_device_tree(b.device_tree())).encode(), "json")
    assert d is not None
    assert d.id == 2  # from "@id"
    assert d.user_uuid == b.USER_UUID  # from userUUID
    assert d.iphone_version == "8J2"  # from iPhoneVersion
    assert d.client_id == 1073741831
    assert d.country_code == "1" and d.country_id == 183
    assert d.email_address == "jdoe@example.com"
    assert d.operator == "AT&T" and d.operator_id == 269
    assert d.phone_number == "4085551212"
    assert d.user_id == "jdoe" and d.tlv_version == "2" and d.non_gms is False
    assert d.user_source is UserSource.LOCAL
    assert d.wipe_reason is None
    assert d.compliance == ComplianceReason(3)
    assert not d.compliant
    assert d.compliance.describe() == [
        "Device is compromised.", "OS version is less than the supported OS version."
    ]
    assert d.quarantined_status is ComplianceReason.POLICY_OUT_OF_DATE
    assert d.block_reason.describe() == ["Device is manually blocked."]
    assert d.eas_last_sync_attempt == dt.datetime(2012, 1, 10, 20, 36, 57, tzinfo=dt.UTC)
    assert d.last_connected_at == dt.datetime.fromtimestamp(1285802663, tz=dt.UTC)
    assert d.registered_at is not None and d.registered_at.tzinfo is not None
    assert not hasattr(d, "some_new_field")


def test_user_source_ldap_and_unknown() -> None:
    for value, expected in (("68", UserSource.LDAP), ("76", UserSource.LOCAL)):
        tree = b.single_device_tree(b.device_tree(userSource=value))
        d = decode.decode_device(b.xml(tree).encode(), "xml")
        assert d is not None and d.user_source is expected
    tree = b.single_device_tree(b.device_tree(userSource="85"))
    d = decode.decode_device(b.jettison(tree).encode(), "json")
    assert d is not None and d.user_source == 85


def test_compliance_undocumented_bits_kept() -> None:
    tree = b.single_device_tree(b.device_tree(compliance=str(0x400000 | 0x80000 | 1)))
    d = decode.decode_device(b.jettison(tree).encode(), "json")
    assert d is not None
    assert ComplianceReason.UNKNOWN_REASON in d.compliance
    assert d.compliance.unnamed_bits == 0x80000
    assert d.compliance.describe()[-1].startswith("Undocumented")


DETAIL_SHAPES = {
    "entries": {"entry": [{"key": "Battery Level", "value": "0.5"}, {"key": "x", "value": "y"}]},
    "single_entry": {"entry": {"key": "Battery Level", "value": "0.5"}},
    "wrapped_list": [{"entry": [{"key": "Battery Level", "value": "0.5"}]}],
}


@pytest.mark.parametrize("shape", list(DETAIL_SHAPES))
def test_details_shapes(shape: str) -> None:
    record = b.device_tree()
    record["details"] = DETAIL_SHAPES[shape]
    body = json.dumps({"device": {**b._mapped(record), "details": DETAIL_SHAPES[shape]}})
    d = decode.decode_device(body.encode(), "json")
    assert d is not None
    assert d.details["Battery Level"] == "0.5"
    assert d.details.battery_percent == 50.0


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_details_empty(fmt: str) -> None:
    tree = b.single_device_tree(b.device_tree(details=None))
    d = decode.decode_device(b.render(tree, fmt).encode(), fmt)  # type: ignore[arg-type]
    assert d is not None
    assert len(d.details) == 0 and dict(d.details) == {}
    assert d.details.battery_percent is None and d.details.compromised is None


def test_details_accessors() -> None:
    details = DeviceDetails.from_mapping(
        {
            "Battery Level": "0.85",
            "wifi_mac_addr": "38:aa:3c:62:bf:ad",
            "security_state": "Compromised",
            "device_model": "DROIDX",
            "iPhone UDID": "abc",
            "device_roaming_flag": "on",
            "lat_long_last_captured_at": "1285802663000",
            "latitude": "37.5",
        }
    )
    assert details.battery_percent == 85.0
    assert details.wifi_mac == b.MAC
    assert details.compromised is True
    assert details.model == "DROIDX"
    assert details.udid == "abc"
    assert details.roaming is True
    assert details.latitude == 37.5
    assert details.location_captured_at == dt.datetime.fromtimestamp(1285802663, tz=dt.UTC)
    ios = DeviceDetails.from_mapping({"DeviceCompromised": "false", "security_state": "0"})
    assert ios.compromised is False
    assert DeviceDetails.from_mapping({"security_state": "1"}).compromised is False
    assert DeviceDetails.from_mapping({"security_state": "Ok"}).compromised is False


def test_root_wrapper_in_json() -> None:
    tree = b.devices_tree(b.device_tree())
    page = decode.decode_devices(b.jettison(tree, wrap=True).encode(), "json")
    assert [d.uuid for d in page.devices] == [b.UUID1]
    assert page.total_count == 1


def test_unknown_fields_everywhere_ignored() -> None:
    tree = dict(b.LABELS_TREE)
    tree["newTopLevel"] = {"deep": ["1", "2"]}
    labels = decode.decode_labels(b.jettison(tree).encode(), "json")
    assert len(labels) == 2


def test_normalise_scalars_as_text_and_empty_as_none() -> None:
    # One-element lists are left to the envelope types (``list[X] | X``); epoch times to the
    # records' settling: normalise only makes every scalar text.
    out = decode.normalise({"devices": {"device": {"uuid": "u", "statusCode": 97, "x": ""}}})
    assert out == {"devices": {"device": {"uuid": "u", "statusCode": "97", "x": None}}}
    assert decode.normalise({"v": 1e-4, "b": True}) == {"v": "1.0E-4", "b": "true"}
    assert decode.normalise({"isoAplha2Code": "IN"}) == {"isoAlpha2Code": "IN"}


def test_xml_doctype_refused() -> None:
    from epmm_async import DecodeError

    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
    with pytest.raises(DecodeError):
        decode.decode_labels(body, "xml")
