"""Decode EPMM response bodies, JSON or XML, into the typed models.

Real servers send XML mapped to JSON (Jettison "mapped" style): no root wrapper, one-element
lists as objects, ``@``-prefixed attributes, numbers and booleans as strings, empty elements
as ``""``. Both formats end in the same structs:

* JSON takes a fast path first: msgspec decodes straight into the structs in lax mode, which
  already absorbs quoted scalars; the envelope types accept a list or a single object, and
  ``details``/``messages`` accept any shape.
* Anything the fast path rejects (a number where text belongs, ``""`` in a typed field, an
  epoch-millisecond timestamp), and every XML body, goes through :func:`normalise`, the one
  normalisation step, and then ``msgspec.convert``.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Literal, TypeVar

import msgspec
import xmltodict

from ..errors import DecodeError
from ..models import (
    ActionResult,
    BulkResult,
    Country,
    Device,
    DeviceDetails,
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
)

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

# (container element, repeated child): the repeated elements that arrive as an object when
# there is only one of them.
_LIST_CHILDREN: dict[str, frozenset[str]] = {
    "devices": frozenset({"device"}),
    "labels": frozenset({"label"}),
    "operators": frozenset({"operator"}),
    "countries": frozenset({"country"}),
    "messages": frozenset({"message"}),
    "failedDevices": frozenset({"message"}),
    "locations": frozenset({"location"}),
    "passcodes": frozenset({"passcode"}),
    "profiles": frozenset({"profile"}),
    "invalidDevices": frozenset({"uuid", "macAddress", "deviceWiFiMacAddress"}),
    "details": frozenset({"entry"}),
}
_TIMESTAMP_KEYS = frozenset(
    {"easLastSyncAttempt", "lastConnectedAt", "registeredAt", "createdAt", "capturedAt",
     "lastUpdatedAt"}
)
# The document itself misspells isoAlpha2Code once.
_KEY_ALIASES = {"isoAplha2Code": "isoAlpha2Code"}
# An epoch-millisecond value of a key ending in "At"/"Attempt" (the timestamp keys).
_EMPTY = re.compile(rb':""')
_EMPTY_SPACED = re.compile(rb': ""')
_EPOCH_VALUE = re.compile(rb'At(?:tempt)?":(?:"([0-9]+)"|([0-9]+)(?=[,}\]\s]))')


def _dec_hook(type_: type, obj: object) -> object:
    if type_ is DeviceDetails:
        return DeviceDetails(obj)
    raise NotImplementedError(f"cannot decode {type_!r}")


# ---------------------------------------------------------------------------- envelopes
# Private wire shapes: each one is the root element's children.


class _DeviceList(msgspec.Struct):
    device: list[Device] | Device | None = None


class _DevicesEnvelope(msgspec.Struct, rename="camel"):
    devices: _DeviceList | None = None
    device: Device | None = None
    messages: Any = None
    total_count: int | None = None
    phone_number: str | None = None
    wrapped: _DevicesEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _LabelList(msgspec.Struct):
    label: list[Label] | Label | None = None


class _LabelsEnvelope(msgspec.Struct):
    labels: _LabelList | None = None
    messages: Any = None
    wrapped: _LabelsEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _OperatorList(msgspec.Struct):
    operator: list[Operator] | Operator | None = None


class _OperatorsEnvelope(msgspec.Struct):
    operators: _OperatorList | None = None
    messages: Any = None
    wrapped: _OperatorsEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _CountryList(msgspec.Struct):
    country: list[Country] | Country | None = None


class _CountriesEnvelope(msgspec.Struct):
    countries: _CountryList | None = None
    messages: Any = None
    wrapped: _CountriesEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _PasscodeList(msgspec.Struct):
    passcode: list[Passcode] | Passcode | None = None


class _ActionEnvelope(msgspec.Struct, rename="camel"):
    device_uuid: str | None = None
    messages: Any = None
    unlock_passcode: str | None = msgspec.field(default=None, name="unlockpasscode")
    passcodes: _PasscodeList | None = None
    wrapped: _ActionEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _LocationList(msgspec.Struct):
    location: list[Location] | Location | None = None


class _LocateEnvelope(msgspec.Struct, rename="camel"):
    device_uuid: str | None = None
    messages: Any = None
    locations: _LocationList | None = None
    locate_now: bool | None = None
    wrapped: _LocateEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _RegistrationBody(msgspec.Struct, rename="camel"):
    messages: Any = None
    device_uuid: str | None = None
    status: str | None = None
    passcode: str | None = None
    passcode_ttl: int | None = msgspec.field(default=None, name="passcodeTTL")
    registration_url: str | None = None


class _RegistrationEnvelope(msgspec.Struct, rename="camel"):
    phone_number: str | None = None
    registration: _RegistrationBody | None = None
    messages: Any = None
    wrapped: _RegistrationEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _BulkEnvelope(msgspec.Struct, rename="camel"):
    # A bulk success with nothing to report may omit every field (the field notes: an empty
    # element arrives empty or missing), so ``{}`` is a possible answer and is accepted.
    messages: Any = msgspec.UNSET
    invalid_devices: Any = msgspec.UNSET
    passcodes: _PasscodeList | None = None
    failed_devices: Any = msgspec.UNSET
    message_sent_failed: Any = msgspec.UNSET
    wrapped: _BulkEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _ProfileList(msgspec.Struct):
    profile: list[Profile] | Profile | None = None


class _ProfilesEnvelope(msgspec.Struct):
    profiles: _ProfileList | None = None
    messages: Any = None
    wrapped: _ProfilesEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class _ErrorEnvelope(msgspec.Struct, rename="camel"):
    messages: Any = msgspec.UNSET
    total_count: Any = msgspec.UNSET
    wrapped: _ErrorEnvelope | None = msgspec.field(default=None, name=ROOT_ELEMENT)


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


def _unwrap(obj: object) -> object:
    # XML always has a root element; JSON from real servers does not, but some add it.
    if isinstance(obj, dict) and len(obj) == 1:
        (key, value), = obj.items()
        if key == ROOT_ELEMENT or key.endswith("Response"):
            return {} if value is None or value == "" else value
    return obj


def normalise(obj: object, parent: str = "") -> object:
    """The one normalisation step for mapped-XML quirks, on a parsed body.

    Scalars become text (so numbers sent as strings and strings sent as numbers converge and
    the lax conversion types them), empty elements become None, repeated elements that came
    as a single object become one-element lists, epoch-millisecond timestamps become ISO-8601
    and the document's misspelt keys get their right names.
    """
    if isinstance(obj, dict):
        children = _LIST_CHILDREN.get(parent, frozenset())
        out: dict[str, object] = {}
        for raw_key, value in obj.items():
            key = _KEY_ALIASES.get(str(raw_key), str(raw_key))
            if key == "#text" and isinstance(value, str) and value.isspace():
                continue  # indentation between child elements
            item = normalise(value, key)
            if key in children and not isinstance(item, list):
                item = [] if item is None else [item]
            elif key in _TIMESTAMP_KEYS and isinstance(item, str) and item.isdigit():
                item = _epoch_to_iso(item)
            out[key] = item
        return out
    if isinstance(obj, list):
        return [normalise(item, parent) for item in obj]
    if obj is None or obj == "":
        return None
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int | float):
        return repr(obj) if isinstance(obj, float) else str(obj)
    if isinstance(obj, str):
        # Text is kept as sent; only whitespace alone (an XML element holding nothing but
        # the document's indentation) counts as empty.
        return obj if obj and not obj.isspace() else None
    return str(obj)


def _epoch_to_iso(digits: str) -> str:
    if not digits.isascii() or len(digits) > 18:
        return digits  # "²" is a digit to str.isdigit(); 4,300+ digits make int() raise
    value = int(digits)
    seconds = value / 1000 if value >= 10**11 else value
    try:
        return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return digits


def _fast_json(body: bytes) -> bytes:
    """``body`` with two quirks rewritten in the bytes, as :func:`normalise` would read them.

    An empty element, ``:""``, becomes ``:null`` (a ``"`` cannot follow ``:""`` inside a JSON
    string, so only empty values match), and an epoch-millisecond value of a timestamp key
    becomes its ISO-8601 text. Pretty-printed JSON (``"key": ""``) is detected from its first
    bytes. Anything else the fast path cannot absorb makes it fail validation, and the
    normalising path takes over.
    """
    spaced = b'": ' in body[:4096]
    # re.sub with a literal replacement beats bytes.replace on many matches (one pass).
    body = (_EMPTY_SPACED if spaced else _EMPTY).sub(b": null" if spaced else b":null", body)
    # Few timestamps match: collecting them and joining once beats re.sub's callback path.
    pieces: list[bytes] = []
    done = 0
    for match in _EPOCH_VALUE.finditer(body):
        pieces += (body[done : match.start()], _epoch_bytes(match))
        done = match.end()
    if not pieces:
        return body
    pieces.append(body[done:])
    return b"".join(pieces)


def _epoch_bytes(match: re.Match[bytes]) -> bytes:
    whole = match.group(0)
    start = match.string.rfind(b'"', 0, match.start())
    key = match.string[start + 1 : match.start()].decode("utf-8", "replace") + (
        "Attempt" if whole.startswith(b"Attempt") else "At"
    )
    if key not in _TIMESTAMP_KEYS:
        return whole
    digits = (match.group(1) or match.group(2)).decode("ascii")
    iso = _epoch_to_iso(digits)
    if iso == digits:
        return whole  # out of range: left for the fast path to refuse
    head = b'Attempt":"' if whole.startswith(b"Attempt") else b'At":"'
    return head + iso.encode("ascii") + b'"'


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
            return msgspec.json.decode(
                _fast_json(body), type=type_, strict=False, dec_hook=_dec_hook
            )
        except msgspec.ValidationError:
            pass  # a quirk the fast path does not absorb: take the normalising path
        except msgspec.DecodeError as exc:
            raise DecodeError(f"malformed JSON body: {exc}") from None
    if fmt == "json":
        try:
            tree: object = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise DecodeError(f"malformed JSON body: {exc}") from None
    else:
        tree = parse_xml(body)
    prepared = normalise(_unwrap(tree))
    if not isinstance(prepared, dict):
        raise DecodeError(f"expected an object at the top of the body, got {_kind(prepared)}")
    try:
        return msgspec.convert(prepared, type_, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise DecodeError(f"unexpected body shape: {exc}") from None


def _kind(obj: object) -> str:
    return "nothing" if obj is None else type(obj).__name__


def _as_list(value: list[T] | T | None) -> list[T]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _texts(raw: object) -> tuple[str, ...]:
    """Strings out of a messages-like value: a string, a list, or ``{"message": ...}``."""
    if raw is None or raw is msgspec.UNSET:
        return ()
    if isinstance(raw, str):
        text = raw.strip()
        return (text,) if text else ()
    if isinstance(raw, bool):
        return ("true" if raw else "false",)
    if isinstance(raw, int | float):
        return (str(raw),)
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


# ---------------------------------------------------------------------------- per endpoint


def decode_devices(body: bytes, fmt: ResponseFormat) -> DevicePage:
    """A device list (list, search by phone/user/label/MAC) into a :class:`DevicePage`."""
    env = _unwrapped(_decode(body, fmt, _DevicesEnvelope))
    devices = _as_list(env.devices.device) if env.devices is not None else []
    if not devices and env.device is not None:
        devices = [env.device]
    return DevicePage(devices=devices, total_count=env.total_count, messages=_texts(env.messages))


def decode_device(body: bytes, fmt: ResponseFormat) -> Device | None:
    """The single device of a details answer (None when the body holds none)."""
    env = _unwrapped(_decode(body, fmt, _DevicesEnvelope))
    if env.device is not None:
        return env.device
    listed = _as_list(env.devices.device) if env.devices is not None else []
    return listed[0] if listed else None


def decode_labels(body: bytes, fmt: ResponseFormat) -> list[Label]:
    """All labels."""
    env = _unwrapped(_decode(body, fmt, _LabelsEnvelope))
    return _as_list(env.labels.label) if env.labels is not None else []


def decode_operators(body: bytes, fmt: ResponseFormat) -> list[Operator]:
    """All operators."""
    env = _unwrapped(_decode(body, fmt, _OperatorsEnvelope))
    return _as_list(env.operators.operator) if env.operators is not None else []


def decode_countries(body: bytes, fmt: ResponseFormat) -> list[Country]:
    """All countries (always normalised: the document misspells one of their keys)."""
    tree = _parse_tree(body, fmt)
    try:
        env = msgspec.convert(normalise(_unwrap(tree)), _CountriesEnvelope, strict=False)
    except msgspec.ValidationError as exc:
        raise DecodeError(f"unexpected body shape: {exc}") from None
    except RecursionError:
        raise DecodeError("body nested too deeply") from None
    return _as_list(env.countries.country) if env.countries is not None else []


def decode_action(body: bytes, fmt: ResponseFormat) -> ActionResult:
    """The answer of retire, lock, unlock, wipe, wakeup or re-push.

    The document's answers always carry the device's uuid or a message (unlock: passcodes);
    a 2xx with none of them (``{}``, a login page's JSON) is not an answer: DecodeError, so
    an outcome built on it is UNKNOWN, never SUCCEEDED.
    """
    env = _unwrapped(_decode(body, fmt, _ActionEnvelope))
    if (
        not _strip(env.device_uuid)
        and not _texts(env.messages)
        and (env.passcodes is None or not _as_list(env.passcodes.passcode))
        and env.unlock_passcode is None
    ):
        raise DecodeError("the answer carries none of the API's fields (deviceUuid, messages)")
    return ActionResult(
        device_uuid=_strip(env.device_uuid),
        messages=_texts(env.messages),
        unlock_passcode=env.unlock_passcode,
        passcodes=_as_list(env.passcodes.passcode) if env.passcodes is not None else [],
    )


def decode_roaming(body: bytes, fmt: ResponseFormat) -> RoamingResult:
    """The answer of enable-roaming."""
    env = _unwrapped(_decode(body, fmt, _ActionEnvelope))
    return RoamingResult(device_uuid=_strip(env.device_uuid), messages=_texts(env.messages))


def decode_locate(body: bytes, fmt: ResponseFormat) -> LocateResult:
    """The answer of locate: fixes newest first."""
    env = _unwrapped(_decode(body, fmt, _LocateEnvelope))
    locations = _as_list(env.locations.location) if env.locations is not None else []
    floor = _dt.datetime.min.replace(tzinfo=_dt.UTC)
    locations.sort(key=lambda loc: loc.captured_at or floor, reverse=True)
    return LocateResult(
        device_uuid=_strip(env.device_uuid),
        locations=locations,
        locate_now=env.locate_now,
        messages=_texts(env.messages),
    )


def decode_registration(body: bytes, fmt: ResponseFormat) -> Registration:
    """The answer of register."""
    env = _unwrapped(_decode(body, fmt, _RegistrationEnvelope))
    reg = env.registration or _RegistrationBody()
    return Registration(
        device_uuid=_strip(reg.device_uuid),
        status=_strip(reg.status),
        passcode=_strip(reg.passcode),
        passcode_ttl_hours=reg.passcode_ttl,
        registration_url=_strip(reg.registration_url),
        phone_number=env.phone_number,
        messages=_texts(reg.messages) + _texts(env.messages),
    )


def _given(value: object) -> object:
    return None if value is msgspec.UNSET else value


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
    flag = failed is not msgspec.UNSET and str(failed).strip().lower() != "false"
    invalid = _invalid_list(env)
    return MessageResult(
        messages=_message_only(_given(env.messages)),
        invalid_devices=invalid,
        message_sent_failed=flag,
    )


def decode_profiles(body: bytes, fmt: ResponseFormat) -> list[Profile]:
    """The profiles of a device."""
    env = _unwrapped(_decode(body, fmt, _ProfilesEnvelope))
    return _as_list(env.profiles.profile) if env.profiles is not None else []


def decode_error_messages(body: bytes, fmt: ResponseFormat) -> tuple[str, ...] | None:
    """The messages of an API error/empty body, or None when the body is not the API's.

    A 404 whose body is an HTML page from the web server means a wrong URL, not "no data".
    """
    stripped = body.lstrip()
    if not stripped or stripped[:1] not in (b"{", b"<"):
        return None
    if stripped[:1] == b"<":
        fmt = "xml"
    elif stripped[:1] == b"{":
        fmt = "json"
    try:
        tree = msgspec.json.decode(stripped) if fmt == "json" else parse_xml(stripped)
    except (msgspec.DecodeError, DecodeError, RecursionError, UnicodeDecodeError):
        return None
    inner = _unwrap(tree)
    if not isinstance(inner, dict) or not ({"messages", "totalCount"} & inner.keys()):
        return None
    try:
        return _texts(inner.get("messages"))
    except RecursionError:
        return None


def _strip(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None

