"""Decode EPMM response bodies, JSON or XML, into the typed models.

Real servers send XML mapped to JSON by Jettison: no root wrapper, one-element lists as
objects, ``@``-prefixed attributes, text that looks like a number or boolean as a bare JSON
number or boolean (everything else quoted), empty elements as ``""`` or missing. Both formats
end in the same structs, by one of three routes, fastest first:

1. JSON straight into the structs with msgspec (lax mode). The envelope types take a list or
   a single object, the records' wire types (:data:`~epmm_async.models.WireText` and friends)
   take text, numbers and booleans alike, and each record settles its own fields into their
   public types as msgspec builds it. Typed and quoted bodies both stay on this route.
2. A JSON body with empty elements (``"countryId": ""``) where a number, time or object
   belongs: the same, after rewriting ``:""`` to ``:null`` in the bytes.
3. Everything else, and every XML body: the parsed tree, normalised once
   (:func:`normalise`), converted with :func:`msgspec.convert`. A scalar value that cannot be
   read (an odd timestamp, an unknown enum code) spoils that field in every record that has
   it, never the page: it is dropped (the field reads None) and a debug event names it.

A body of another shape (an unknown root element, a v2 ``{"results": [...]}`` page, ``{}``
where a list belongs) is a :class:`~epmm_async.errors.DecodeError`, never an empty result.
"""

from __future__ import annotations

import datetime as _dt
import re
import types
import typing
from typing import Any, Literal, TypeVar

import msgspec
import xmltodict
from msgspec import UNSET, UnsetType

from .._logging import get_logger
from ..errors import DecodeError
from ..models import (
    ActionResult,
    BulkResult,
    Country,
    Device,
    DevicePage,
    Label,
    LocateResult,
    Location,
    MessageResult,
    Operator,
    Passcode,
    Profile,
    Registration,
    RoamingResult,
    WireText,
)
from .scalars import scalar_text

__all__ = [
    "ResponseFormat",
    "decode_action",
    "decode_bulk",
    "decode_countries",
    "decode_device",
    "decode_devices",
    "decode_error_messages",
    "decode_labels",
    "decode_locate",
    "decode_message_result",
    "decode_operators",
    "decode_profiles",
    "decode_registration",
    "decode_roaming",
    "detect_format",
    "normalise",
    "parse_xml",
]

ResponseFormat = Literal["json", "xml"]
ROOT_ELEMENT = "deviceManagementWebServiceResponse"

T = TypeVar("T")

log = get_logger("epmm_async.decode")

# The document itself misspells isoAlpha2Code once.
_KEY_ALIASES = {"isoAplha2Code": "isoAlpha2Code"}
_EMPTY = re.compile(rb':""')
_EMPTY_SPACED = re.compile(rb': ""')
# msgspec's error messages end with the path of the value: "... - at `$.devices.device[3].x`"
_ERROR_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
# Spoiling is bounded: each round drops one field from every record of one list.
_MAX_SPOIL_ROUNDS = 64


# ---------------------------------------------------------------------------- envelopes
# Private wire shapes: each one is the root element's children. Fields that say whether the
# body is the API's at all default to UNSET, so "absent" and "empty" stay apart.


class _DeviceList(msgspec.Struct):
    device: list[Device] | Device | None = None


class _DevicesEnvelope(msgspec.Struct, rename="camel"):
    devices: _DeviceList | UnsetType | None = UNSET
    device: Device | UnsetType | None = UNSET
    messages: Any = UNSET
    total_count: int | UnsetType | None = UNSET
    results: Any = UNSET  # an API v2 page: refused
    phone_number: WireText | None = None
    wrapped: _DevicesEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _LabelList(msgspec.Struct):
    label: list[Label] | Label | None = None


class _LabelsEnvelope(msgspec.Struct, rename="camel"):
    labels: _LabelList | UnsetType | None = UNSET
    messages: Any = UNSET
    total_count: Any = UNSET
    results: Any = UNSET
    wrapped: _LabelsEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _OperatorList(msgspec.Struct):
    operator: list[Operator] | Operator | None = None


class _OperatorsEnvelope(msgspec.Struct, rename="camel"):
    operators: _OperatorList | UnsetType | None = UNSET
    messages: Any = UNSET
    total_count: Any = UNSET
    results: Any = UNSET
    wrapped: _OperatorsEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _CountryList(msgspec.Struct):
    country: list[Country] | Country | None = None


class _CountriesEnvelope(msgspec.Struct, rename="camel"):
    countries: _CountryList | UnsetType | None = UNSET
    messages: Any = UNSET
    total_count: Any = UNSET
    results: Any = UNSET
    wrapped: _CountriesEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _PasscodeList(msgspec.Struct):
    passcode: list[Passcode] | Passcode | None = None


class _ActionEnvelope(msgspec.Struct, rename="camel"):
    device_uuid: WireText | None = None
    messages: Any = None
    unlock_passcode: WireText | None = msgspec.field(default=None, name="unlockpasscode")
    passcodes: _PasscodeList | None = None
    wrapped: _ActionEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _LocationList(msgspec.Struct):
    location: list[Location] | Location | None = None


class _LocateEnvelope(msgspec.Struct, rename="camel"):
    device_uuid: WireText | None = None
    messages: Any = None
    locations: _LocationList | None = None
    locate_now: bool | None = None
    wrapped: _LocateEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _RegistrationBody(msgspec.Struct, rename="camel"):
    messages: Any = None
    device_uuid: WireText | None = None
    status: WireText | None = None
    passcode: WireText | None = None
    passcode_ttl: int | None = msgspec.field(default=None, name="passcodeTTL")
    registration_url: WireText | None = None


class _RegistrationEnvelope(msgspec.Struct, rename="camel"):
    phone_number: WireText | None = None
    registration: _RegistrationBody | None = None
    messages: Any = None
    wrapped: _RegistrationEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _BulkEnvelope(msgspec.Struct, rename="camel"):
    # A bulk success with nothing to report may omit every field (the field notes: an empty
    # element arrives empty or missing), so ``{}`` is a possible answer and is accepted.
    messages: Any = UNSET
    invalid_devices: Any = UNSET
    passcodes: _PasscodeList | None = None
    failed_devices: Any = UNSET
    message_sent_failed: Any = UNSET
    wrapped: _BulkEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _ProfileList(msgspec.Struct):
    profile: list[Profile] | Profile | None = None


class _ProfilesEnvelope(msgspec.Struct, rename="camel"):
    profiles: _ProfileList | UnsetType | None = UNSET
    messages: Any = UNSET
    total_count: Any = UNSET
    results: Any = UNSET
    wrapped: _ProfilesEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


# ---------------------------------------------------------------------------- generic steps


def detect_format(content_type: str | None, default: ResponseFormat) -> ResponseFormat:
    """The format of a body from its Content-Type (the server may not honour Accept)."""
    if content_type:
        lowered = content_type.lower()
        if "xml" in lowered:
            return "xml"
        if "json" in lowered:
            return "json"
    return default


def parse_xml(body: bytes) -> dict[str, object]:
    """Parse an XML body into xmltodict's dict form, refusing DTDs and entities.

    A DOCTYPE is refused outright, so neither entity expansion ("billion laughs") nor
    external entities can be reached; expat's entity handling is disabled as a second line.
    """
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise DecodeError("XML with a DOCTYPE or entity declaration refused")
    try:
        parsed = xmltodict.parse(body, disable_entities=True, strip_whitespace=False)
    except Exception as exc:  # expat raises ExpatError, ValueError and friends
        raise DecodeError(f"malformed XML body: {exc}") from None
    if not isinstance(parsed, dict):
        raise DecodeError("XML body has no root element")
    return parsed


def _unwrap(obj: object, fmt: ResponseFormat) -> object:
    """The root element's children. XML always has the root element, and it must be the
    API's; JSON from real servers has none, but some add it."""
    if fmt == "xml":
        if not isinstance(obj, dict) or len(obj) != 1 or ROOT_ELEMENT not in obj:
            names = ", ".join(map(str, obj)) if isinstance(obj, dict) else _kind(obj)
            raise DecodeError(f"XML root element is {names!r}, not {ROOT_ELEMENT}")
        value = obj[ROOT_ELEMENT]
        return {} if value is None or value == "" else value
    if isinstance(obj, dict) and len(obj) == 1 and ROOT_ELEMENT in obj:
        value = obj[ROOT_ELEMENT]
        return {} if value is None or value == "" else value
    return obj


def normalise(obj: object, parent: str = "", *, xml: bool = False) -> object:
    """The one normalisation step for mapped-XML quirks, on a parsed body (route 3).

    Scalars become text (numbers as the text the server meant), so XML and JSON trees
    converge and the lax conversion types them; empty elements become None; the document's
    misspelt keys get their right names; a device's ``details`` becomes raw JSON, as the
    fast route reads it.
    """
    if isinstance(obj, dict):
        out: dict[str, object] = {}
        for raw_key, value in obj.items():
            key = _KEY_ALIASES.get(str(raw_key), str(raw_key))
            if key == "#text" and isinstance(value, str) and value.isspace():
                continue  # indentation between child elements
            item = normalise(value, key, xml=xml)
            if key == "details" and parent != "details":
                item = msgspec.Raw(msgspec.json.encode(item))
            out[key] = item
        return out
    if isinstance(obj, list):
        return [normalise(item, parent, xml=xml) for item in obj]
    if obj is None or obj == "":
        return None
    if isinstance(obj, str):
        # Text is kept as sent, whitespace alone included (as the JSON routes keep it). In
        # XML, whitespace with a line break is a pretty-printer's indentation inside an empty
        # element, not data; whitespace where a record or list belongs is read as empty when
        # converting (:func:`_spoil`).
        if xml and "\n" in obj and obj.isspace():
            return None
        return obj
    return scalar_text(obj)


def _empty_as_null(body: bytes) -> bytes:
    """``body`` with every empty value ``:""`` rewritten as ``:null`` (route 2).

    A ``"`` cannot follow ``:""`` inside a JSON string, so only empty values match.
    Pretty-printed JSON (``"key": ""``) is detected from its first bytes.
    """
    if b'": ' in body[:4096]:
        return _EMPTY_SPACED.sub(b": null", body)
    return _EMPTY.sub(b":null", body)


def _decode(body: bytes, fmt: ResponseFormat, type_: type[T]) -> T:
    try:
        return _decode_body(body, fmt, type_)
    except RecursionError:
        raise DecodeError("body nested too deeply") from None
    except UnicodeDecodeError as exc:  # msgspec: invalid UTF-8 inside an object key
        raise DecodeError(f"malformed JSON body: {exc}") from None


def _parse_tree(body: bytes, fmt: ResponseFormat) -> object:
    """The parsed body (JSON or XML), every parse failure as :class:`DecodeError`."""
    if fmt == "xml":
        return parse_xml(body)
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"malformed JSON body: {exc}") from None
    except RecursionError:
        raise DecodeError("body nested too deeply") from None
    except UnicodeDecodeError as exc:  # invalid UTF-8 inside an object key
        raise DecodeError(f"malformed JSON body: {exc}") from None


def _decode_body(body: bytes, fmt: ResponseFormat, type_: type[T]) -> T:
    if fmt == "json":
        try:
            return msgspec.json.decode(body, type=type_, strict=False)
        except msgspec.ValidationError:
            pass  # a value the direct route cannot read: try the next route
        except msgspec.DecodeError as exc:
            raise DecodeError(f"malformed JSON body: {exc}") from None
        if b'""' in body:
            try:
                return msgspec.json.decode(
                    _empty_as_null(body), type=type_, strict=False
                )
            except msgspec.ValidationError:
                pass
            except msgspec.DecodeError as exc:  # a value read wrongly before the break
                raise DecodeError(f"malformed JSON body: {exc}") from None
    return _from_tree(_parse_tree(body, fmt), fmt, type_)


def _from_tree(tree: object, fmt: ResponseFormat, type_: type[T]) -> T:
    prepared = normalise(_unwrap(tree, fmt), xml=fmt == "xml")
    if not isinstance(prepared, dict):
        raise DecodeError(f"expected an object at the top of the body, got {_kind(prepared)}")
    for _ in range(_MAX_SPOIL_ROUNDS):
        try:
            return msgspec.convert(prepared, type_, strict=False)
        except msgspec.ValidationError as exc:
            if not _spoil(prepared, type_, str(exc)):
                raise DecodeError(f"unexpected body shape: {exc}") from None
    raise DecodeError(f"more than {_MAX_SPOIL_ROUNDS} unreadable fields in the body")


# ---------------------------------------------------------------------------- spoiling


def _spoil(tree: dict[str, object], root: type, message: str) -> bool:
    """Drop the unreadable scalar ``message`` points at, from every record that has it.

    Also reads whitespace where a record or list belongs as an empty element, and an
    element with attributes where text belongs (``<phoneNumber xsi:nil="true"/>``) as its
    text. Returns False when the failure is not one value (a record or list of the wrong
    shape, a required field missing): the body is then not the API's.
    """
    found = _ERROR_PATH.search(message)
    if found is None:
        return False
    steps: list[str | int] = [
        name if name else int(index) for name, index in _PATH_STEP.findall(found["path"])
    ]
    if not steps or not isinstance(steps[-1], str):
        return False
    expected = _type_at(root, steps)
    parent = _node_at(tree, steps[:-1])
    key = steps[-1]
    if expected is None or not isinstance(parent, dict) or key not in parent:
        return False
    value = parent[key]
    if not _is_scalar(expected):
        if isinstance(value, str) and value.isspace():
            parent[key] = None  # an empty element, pretty-printed
            return True
        return False
    if isinstance(value, dict) and "#text" in value:
        parent[key] = value["#text"]  # text with attributes: the text
        return True
    # Every record of the same list with the same unreadable field, in one round.
    siblings = _node_at(tree, steps[:-2]) if len(steps) > 1 and isinstance(steps[-2], int) else None
    records = siblings if isinstance(siblings, list) else [parent]
    dropped = 0
    for record in records:
        if isinstance(record, dict) and key in record and not _readable(record[key], expected):
            del record[key]
            dropped += 1
    if dropped == 0:
        return False
    field = ".".join(str(s) if isinstance(s, str) else "[]" for s in steps).replace(".[]", "[]")
    log.debug("decode.unreadable_field", field=field, records=dropped, example=repr(value)[:60])
    return True


def _readable(value: object, expected: object) -> bool:
    try:
        msgspec.convert(value, expected, strict=False)
    except (msgspec.ValidationError, TypeError):
        return False
    return True


def _node_at(tree: object, steps: list[str | int]) -> object:
    node = tree
    for step in steps:
        if isinstance(step, int):
            if isinstance(node, list) and step < len(node):
                node = node[step]
            elif step == 0 and isinstance(node, dict):
                continue  # a one-element list sent as the element itself
            else:
                return None
        elif isinstance(node, dict):
            node = node.get(step)
        else:
            return None
    return node


def _members(tp: object) -> tuple[object, ...]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return tuple(m for m in typing.get_args(tp) if m not in (type(None), UnsetType))
    return (tp,)


def _type_at(root: type, steps: list[str | int]) -> object | None:
    """The annotation msgspec checked at ``steps`` inside ``root``, or None if unknown."""
    tp: object = root
    for step in steps:
        members = _members(tp)
        if isinstance(step, int):
            lists = [m for m in members if typing.get_origin(m) is list]
            if not lists:
                return None
            tp = typing.get_args(lists[0])[0]
            continue
        structs = [m for m in members if isinstance(m, type) and issubclass(m, msgspec.Struct)]
        if not structs:
            return None
        cls = structs[0]
        fields = {f.encode_name: f.name for f in msgspec.structs.fields(cls)}
        if step not in fields:
            return None
        tp = typing.get_type_hints(cls)[fields[step]]
    return tp


def _is_scalar(tp: object) -> bool:
    for member in _members(tp):
        if member is Any or member is msgspec.Raw or typing.get_origin(member) is not None:
            return False
        if isinstance(member, type) and issubclass(member, msgspec.Struct):
            return False
    return True


# ---------------------------------------------------------------------------- helpers


def _kind(obj: object) -> str:
    return "nothing" if obj is None else type(obj).__name__


def _as_list(value: list[T] | T | None) -> list[T]:
    if value is None or value is UNSET:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _texts(raw: object) -> tuple[str, ...]:
    """Strings out of a messages-like value: a string, a list, or ``{"message": ...}``."""
    if raw is None or raw is UNSET:
        return ()
    if isinstance(raw, str):
        text = raw.strip()
        return (text,) if text else ()
    if isinstance(raw, bool | int | float):
        return (scalar_text(raw),)
    if isinstance(raw, list):
        out: list[str] = []
        for item in raw:
            out.extend(_texts(item))
        return tuple(out)
    if isinstance(raw, dict):
        for key in ("message", "uuid", "macAddress", "deviceWiFiMacAddress", "#text"):
            if key in raw:
                return _texts(raw[key])
    return ()


def _unwrapped(envelope: T) -> T:
    inner = getattr(envelope, "wrapped", None)
    return inner if inner is not None else envelope


def _text(value: object) -> str | None:
    """A wire-typed envelope text as its public value (numbers as text, blank as None)."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else scalar_text(value)
    return text or None


def _listing(env: Any, container: object, what: str) -> None:
    """Refuse a body that is not the API's answer for a list of ``what``."""
    if env.results is not UNSET:
        raise DecodeError(f"an API v2 page ('results'), not a v1 list of {what}")
    if container is UNSET:
        if env.messages is UNSET and env.total_count is UNSET:
            raise DecodeError(f"the body holds no list of {what} (none of the API's fields)")
        if env.total_count not in (UNSET, None, 0, "0"):
            raise DecodeError(f"the body holds no list of {what} but says totalCount "
                              f"{env.total_count}")


# ---------------------------------------------------------------------------- per endpoint


def decode_devices(body: bytes, fmt: ResponseFormat) -> DevicePage:
    """A device list (list, search by phone/user/label/MAC) into a :class:`DevicePage`.

    A body without a device list is a DecodeError unless it says ``totalCount`` 0: ``{}``,
    a v2 page or an unknown wrapper never reads as "no devices".
    """
    env = _unwrapped(_decode(body, fmt, _DevicesEnvelope))
    if env.results is not UNSET:
        raise DecodeError("an API v2 page ('results'), not a v1 device list")
    total = env.total_count if isinstance(env.total_count, int) else None
    if env.devices is UNSET and env.device is UNSET and total != 0:
        raise DecodeError(
            "the body holds no device list"
            + (f" (totalCount {total})" if total is not None else "")
        )
    devices = _as_list(env.devices.device) if isinstance(env.devices, _DeviceList) else []
    if not devices and isinstance(env.device, Device):
        devices = [env.device]
    return DevicePage(devices=devices, total_count=total, messages=_texts(env.messages))


def decode_device(body: bytes, fmt: ResponseFormat) -> Device | None:
    """The single device of a details answer (None when the body holds none)."""
    env = _unwrapped(_decode(body, fmt, _DevicesEnvelope))
    if env.results is not UNSET:
        raise DecodeError("an API v2 page ('results'), not a v1 device")
    if isinstance(env.device, Device):
        return env.device
    listed = _as_list(env.devices.device) if isinstance(env.devices, _DeviceList) else []
    if listed:
        return listed[0]
    if env.devices is UNSET and env.device is UNSET and env.messages is UNSET:
        raise DecodeError("the body holds no device (none of the API's fields)")
    return None


def decode_labels(body: bytes, fmt: ResponseFormat) -> list[Label]:
    """All labels."""
    env = _unwrapped(_decode(body, fmt, _LabelsEnvelope))
    _listing(env, env.labels, "labels")
    return _as_list(env.labels.label) if isinstance(env.labels, _LabelList) else []


def decode_operators(body: bytes, fmt: ResponseFormat) -> list[Operator]:
    """All operators."""
    env = _unwrapped(_decode(body, fmt, _OperatorsEnvelope))
    _listing(env, env.operators, "operators")
    return _as_list(env.operators.operator) if isinstance(env.operators, _OperatorList) else []


def decode_countries(body: bytes, fmt: ResponseFormat) -> list[Country]:
    """All countries (always normalised: the document misspells one of their keys)."""
    try:
        env = _unwrapped(_from_tree(_parse_tree(body, fmt), fmt, _CountriesEnvelope))
    except RecursionError:
        raise DecodeError("body nested too deeply") from None
    _listing(env, env.countries, "countries")
    return _as_list(env.countries.country) if isinstance(env.countries, _CountryList) else []


def decode_action(body: bytes, fmt: ResponseFormat) -> ActionResult:
    """The answer of retire, lock, unlock, wipe, wakeup or re-push.

    The document's answers always carry the device's uuid or a message (unlock: passcodes);
    a 2xx with none of them (``{}``, a login page's JSON) is not an answer: DecodeError, so
    an outcome built on it is UNKNOWN, never SUCCEEDED.
    """
    env = _unwrapped(_decode(body, fmt, _ActionEnvelope))
    device_uuid = _text(env.device_uuid)
    passcodes = _as_list(env.passcodes.passcode) if env.passcodes is not None else []
    if not device_uuid and not _texts(env.messages) and not passcodes and (
        env.unlock_passcode is None
    ):
        raise DecodeError("the answer carries none of the API's fields (deviceUuid, messages)")
    return ActionResult(
        device_uuid=device_uuid,
        messages=_texts(env.messages),
        unlock_passcode=_text(env.unlock_passcode),
        passcodes=passcodes,
    )


def decode_roaming(body: bytes, fmt: ResponseFormat) -> RoamingResult:
    """The answer of enable-roaming."""
    env = _unwrapped(_decode(body, fmt, _ActionEnvelope))
    return RoamingResult(device_uuid=_text(env.device_uuid), messages=_texts(env.messages))


def decode_locate(body: bytes, fmt: ResponseFormat) -> LocateResult:
    """The answer of locate: fixes newest first."""
    env = _unwrapped(_decode(body, fmt, _LocateEnvelope))
    locations = _as_list(env.locations.location) if env.locations is not None else []
    floor = _dt.datetime.min.replace(tzinfo=_dt.UTC)
    locations.sort(key=lambda loc: loc.captured_at or floor, reverse=True)
    return LocateResult(
        device_uuid=_text(env.device_uuid),
        locations=locations,
        locate_now=env.locate_now,
        messages=_texts(env.messages),
    )


def decode_registration(body: bytes, fmt: ResponseFormat) -> Registration:
    """The answer of register."""
    env = _unwrapped(_decode(body, fmt, _RegistrationEnvelope))
    reg = env.registration or _RegistrationBody()
    return Registration(
        device_uuid=_text(reg.device_uuid),
        status=_text(reg.status),
        passcode=_text(reg.passcode),
        passcode_ttl_hours=reg.passcode_ttl,
        registration_url=_text(reg.registration_url),
        phone_number=_text(env.phone_number),
        messages=_texts(reg.messages) + _texts(env.messages),
    )


def _given(value: object) -> object:
    return None if value is UNSET else value


def _invalid_list(env: _BulkEnvelope) -> list[str]:
    found = list(_texts(_given(env.invalid_devices)))
    # The document's layout can be read as invalidDevices nested inside messages.
    if isinstance(env.messages, dict) and "invalidDevices" in env.messages:
        found.extend(_texts(env.messages["invalidDevices"]))
    return found


def _message_only(raw: object) -> tuple[str, ...]:
    if isinstance(raw, dict):
        return _texts(raw.get("message"))
    return _texts(raw)


def decode_bulk(body: bytes, fmt: ResponseFormat) -> BulkResult:
    """The answer of one bulk-action request."""
    env = _unwrapped(_decode(body, fmt, _BulkEnvelope))
    return BulkResult(
        messages=_message_only(_given(env.messages)),
        invalid_devices=_invalid_list(env),
        passcodes=_as_list(env.passcodes.passcode) if env.passcodes is not None else [],
        failed_devices=list(_texts(_given(env.failed_devices))),
    )


def decode_message_result(body: bytes, fmt: ResponseFormat) -> MessageResult:
    """The answer of send-message."""
    env = _unwrapped(_decode(body, fmt, _BulkEnvelope))
    failed = env.message_sent_failed
    # The element's presence is the flag: <messageSentFailed/> parses as None (XML) or ""
    # (mapped JSON); only an explicit "false" clears it.
    flag = failed is not UNSET and (
        failed is not False and str(failed).strip().lower() != "false"
    )
    invalid = _invalid_list(env)
    return MessageResult(
        messages=_message_only(_given(env.messages)),
        invalid_devices=invalid,
        message_sent_failed=flag,
    )


def decode_profiles(body: bytes, fmt: ResponseFormat) -> list[Profile]:
    """The profiles of a device."""
    env = _unwrapped(_decode(body, fmt, _ProfilesEnvelope))
    _listing(env, env.profiles, "profiles")
    return _as_list(env.profiles.profile) if isinstance(env.profiles, _ProfileList) else []


def decode_error_messages(body: bytes, fmt: ResponseFormat) -> tuple[str, ...] | None:
    """The messages of an API error/empty body, or None when the body is not the API's.

    A 404 whose body is an HTML page from the web server means a wrong URL, not "no data".
    """
    stripped = body.lstrip()
    if not stripped or stripped[:1] not in (b"{", b"<"):
        return None
    fmt = "xml" if stripped[:1] == b"<" else "json"
    try:
        tree = msgspec.json.decode(stripped) if fmt == "json" else parse_xml(stripped)
        inner = _unwrap(tree, fmt)
    except (msgspec.DecodeError, DecodeError, RecursionError, UnicodeDecodeError):
        return None
    if not isinstance(inner, dict) or not ({"messages", "totalCount"} & inner.keys()):
        return None
    try:
        return _texts(inner.get("messages"))
    except RecursionError:
        return None
