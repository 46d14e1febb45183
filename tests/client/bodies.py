"""Response bodies for the client tests, rendered from one tree into XML and mapped JSON.

A body is written once as a Python tree (the children of the XML root element; repeated
elements as lists, attributes as ``@``-keys) and rendered as:

* ``xml(tree)``: ``<deviceManagementWebServiceResponse>...`` as the document shows it;
* ``jettison(tree)``: JSON the way real servers send it (field notes): no root wrapper,
  one-element lists as objects, every scalar a string, empty elements as ``""``;
* ``loose_json(tree)``: the other JSON quirks: numeric-looking strings as numbers, booleans
  as JSON booleans, real lists even for one element (the "inferred" shapes).
"""

from __future__ import annotations

import json
from typing import Any

import xmltodict

ROOT = "deviceManagementWebServiceResponse"

UUID1 = "8d711cdc-e93c-49b1-88d6-222f54132445"
UUID2 = "ab7e93f4-90e2-485b-82b9-7a030ef7d985"
UUID3 = "1ac8bd81-4ab9-4e3e-b3a8-0c4f70521d23"
USER_UUID = "de398fcb-a3a4-412c-a1dd-9be8bd46e728"
MAC = "38AA3C62BFAD"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_tree(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _xml_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_xml_tree(v) for v in obj]
    if obj is None:
        return None
    return _text(obj)


def xml(tree: dict[str, Any]) -> str:
    """The XML body, root element included."""
    return xmltodict.unparse({ROOT: _xml_tree(tree)}, pretty=True)


def _mapped(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _mapped(v) for k, v in obj.items()}
    if isinstance(obj, list):
        if len(obj) == 1:
            return _mapped(obj[0])  # a one-element list arrives as an object
        return [_mapped(v) for v in obj]
    if obj is None:
        return ""
    return _text(obj)


def jettison(tree: dict[str, Any], *, wrap: bool = False) -> str:
    """Mapped JSON as real servers send it (``wrap=True`` adds the root element)."""
    body = _mapped(tree)
    return json.dumps({ROOT: body} if wrap else body)


def _loose(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _loose(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_loose(v) for v in obj]
    if isinstance(obj, str):
        if obj.isdigit() and not obj.startswith("0"):
            return int(obj)
        if obj in ("true", "false"):
            return obj == "true"
    return obj


def loose_json(tree: dict[str, Any]) -> str:
    """JSON with numbers as numbers, booleans as booleans and real lists."""
    return json.dumps(_loose(tree))


def render(tree: dict[str, Any], fmt: str) -> str:
    """``fmt`` is ``xml``, ``json`` (mapped) or ``loose`` (JSON with typed scalars)."""
    if fmt == "xml":
        return xml(tree)
    if fmt == "json":
        return jettison(tree)
    if fmt == "loose":
        return loose_json(tree)
    raise ValueError(fmt)


# -- trees ---------------------------------------------------------------------------------


def device_tree(
    uuid: str = UUID1, *, ident: int = 2, principal: str = "jdoe", **extra: Any
) -> dict[str, Any]:
    """A device record with documented, undocumented and unknown fields."""
    record: dict[str, Any] = {
        "@id": str(ident),
        "uuid": uuid,
        "principal": principal,
        "blockReason": "512",
        "clientId": "1073741831",
        "comment": "comment for the device",
        "compliance": "3",
        "countryCode": "1",
        "countryId": "183",
        "countryName": "United States",
        "details": {
            "entry": [
                {"key": "device_model", "value": "DROIDX"},
                {"key": "platform_name", "value": "2.2"},
                {"key": "Client_version", "value": "4.2.0"},
                {"key": "Battery Level", "value": "0.85"},
                {"key": "wifi_mac_addr", "value": "38:aa:3c:62:bf:ad"},
                {"key": "security_state", "value": "Compromised"},
                {"key": "iPhone UDID", "value": "abc123"},
            ]
        },
        "deviceCount": "0",
        "easLastSyncAttempt": "2012-01-10T20:36:57+00:00",
        "easUuid": "4d22d6d7-29dc-4c35-8e67-23dee442cf85",
        "emailAddress": "jdoe@example.com",
        "emailDomain": "txt.att.net",
        "employeeOwned": "false",
        "homeOperator": "Verizon",
        "languageCountryId": "0",
        "languageId": "1",
        "lastConnectedAt": "1285802663000",
        "manufacturer": "Research In Motion",
        "mdmManaged": "true",
        "mdmProfileUrlId": None,
        "model": "8130",
        "name": "jdoe:Android 4.4:PDA 2",
        "notifyUser": "true",
        "operator": "AT&T",
        "operatorId": "269",
        "phoneNumber": "4085551212",
        "pin": "2732E6DB",
        "platform": "Android 4.4",
        "quarantinedStatus": "16",
        "regCount": "1",
        "regType": "DEFAULT",
        "status": "ACTIVE",
        "statusCode": "97",
        "userDisplayName": "Joe Doe",
        "userFirstName": "Joe",
        "userLastName": "Doe",
        "userSource": "76",
        "userUUID": USER_UUID,
        "iPhoneVersion": "8J2",
        # Seen on real servers, not in the document.
        "userId": "jdoe",
        "registeredAt": "2011-07-08T01:52:33+00:00",
        "wipeReason": None,
        "nonGMS": "false",
        "TLVVersion": "2",
        # Unknown to the client.
        "someNewField": "x",
        "someNewObject": {"a": "1", "b": ["2", "3"]},
    }
    record.update(extra)
    return record


def devices_tree(*devices: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    """A device list answer."""
    n = len(devices)
    return {
        "messages": {"message": f"{n} Device(s) returned"},
        "devices": {"device": list(devices)},
        "totalCount": str(n if total is None else total),
    }


def single_device_tree(device: dict[str, Any]) -> dict[str, Any]:
    """A device details answer."""
    return {"messages": {"message": "1 Device(s) returned"}, "device": device,
            "totalCount": "1"}


NO_DATA_TREE: dict[str, Any] = {"messages": {"message": "No devices found."}, "totalCount": "0"}


def error_tree(*messages: str) -> dict[str, Any]:
    """An error body: ``messages.message``."""
    return {"messages": {"message": list(messages)}}


HTML_404 = (
    "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head><title>404 Not Found"
    "</title></head><body><h1>Not Found</h1></body></html>\n"
)
HTML_404_NO_DOCTYPE = "<html><head><title>404 Not Found</title></head><body/></html>"

LABELS_TREE: dict[str, Any] = {
    "messages": {"message": "2 Label (s) returned"},
    "labels": {
        "label": [
            {
                "@id": "-3",
                "name": "iOS",
                "description": "Label for all iOS devices.",
                "staticLabel": "false",
                "query": '"common.platform"="iOS" AND "common.retired"=false',
                "deviceCount": "3",
                "isESSearch": "116",
            },
            {
                "@id": "12",
                "name": "Sales / EMEA",
                "description": None,
                "staticLabel": "true",
                "deviceCount": "0",
                "isESSearch": "102",
            },
        ]
    },
}

OPERATORS_TREE: dict[str, Any] = {
    "messages": {"message": "1 Operator (s) returned"},
    "operators": {
        "operator": [
            {
                "carrierShortName": "AT&T",
                "carrierType": "Mobile",
                "countryCode": "1",
                "countryId": "183",
                "countryName": "United States",
                "enabled": "true",
                "id": "269",
            }
        ]
    },
}

COUNTRIES_TREE: dict[str, Any] = {
    "messages": {"message": "2 Countries returned"},
    "countries": {
        "country": [
            {
                "countryName": "United States",
                "countryCode": "1",
                "isoAlpha2Code": "US",
                "enabledForRegistration": "102",
            },
            {
                "countryName": "India",
                "countryCode": "91",
                "isoAplha2Code": "IN",
                "enabledForRegistration": "116",
            },
        ]
    },
}


def registration_tree(status: str = "SUCESS") -> dict[str, Any]:
    """A registration answer (status misspelt as real servers do by default)."""
    return {
        "phoneNumber": "14085551212",
        "registration": {
            "messages": None,
            "deviceUuid": "caba40e7-f56b-44aa-ac70-79e32e91adf8",
            "status": status,
            "passcode": "63460",
            "passcodeTTL": "120",
            "registrationUrl": "http://app16.example.test:8080/v/75b13",
        },
    }


def action_tree(message: str, uuid: str = UUID1) -> dict[str, Any]:
    """A per-device action answer."""
    return {"messages": {"message": [message]}, "deviceUuid": uuid}


def unlock_tree(uuid: str = UUID1) -> dict[str, Any]:
    """An unlock answer with one passcode."""
    return {
        "messages": {"message": "1 passcode(s) sent."},
        "passcodes": {
            "passcode": [{"uuid": uuid, "name": "jdoe:Android:6505551212", "value": "6910"}]
        },
    }


def locate_tree(uuid: str = UUID1) -> dict[str, Any]:
    """A locate answer with two fixes, the older one first."""
    return {
        "deviceUuid": uuid,
        "messages": {"message": None},
        "locations": {
            "location": [
                {
                    "uuid": uuid,
                    "lookupResult": "Cell",
                    "latitude": "37.386433",
                    "longitude": "-122.053902",
                    "radius": "1500",
                    "capturedAt": "1285802663000",
                },
                {
                    "uuid": uuid,
                    "lookupResult": "GPS",
                    "latitude": "37.4",
                    "longitude": "-122.1",
                    "radius": "10",
                    "capturedAt": "1285802700000",
                },
            ]
        },
        "locateNow": "false",
    }


def roaming_tree(uuid: str = UUID1) -> dict[str, Any]:
    """An enable-roaming answer."""
    return {
        "deviceUuid": uuid,
        "messages": {
            "message": [
                "Device voice roaming settings updated successfully.",
                "Device data roaming settings updated successfully.",
            ]
        },
    }


PROFILES_TREE: dict[str, Any] = {
    "messages": None,
    "profiles": {
        "profile": [
            {
                "@id": "-7",
                "uuid": "misystem-default-docs-policy",
                "name": "Default Docs Policy",
                "policyType": "DOCS",
                "status": "Applied",
                "profileType": "POLICY",
                "lastUpdatedAt": "1347343156739",
            },
            {
                "@id": "-2",
                "name": " System - iOS MDM",
                "policyType": "MDM",
                "status": "Applied",
                "profileType": "APP",
                "lastUpdatedAt": "1347343165501",
            },
        ]
    },
}


def bulk_unlock_tree() -> dict[str, Any]:
    """A bulk UNLOCK answer: one invalid device, one passcode, one failed device."""
    return {
        "messages": {"message": None},
        "invalidDevices": {"uuid": [UUID3]},
        "passcodes": {"passcode": [{"uuid": UUID1, "name": "jdoe:Android:65055", "value": "Q"}]},
        "failedDevices": {"message": [f"Unlock failed for {UUID2}"]},
    }


def message_result_tree(invalid: list[str]) -> dict[str, Any]:
    """A send-message answer."""
    tree: dict[str, Any] = {
        "messages": {"message": "Message sent successfully for all devices."},
    }
    if invalid:
        tree["invalidDevices"] = {"uuid": invalid}
        tree["messageSentFailed"] = None
    return tree
