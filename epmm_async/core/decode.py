"""Decode EPMM response bodies, JSON or XML, into the typed models.

Real servers send XML mapped to JSON by Jettison: no root wrapper, one-element lists as
objects, ``@``-prefixed attributes, text that looks like a number or boolean as a bare JSON
number or boolean (everything else quoted), empty elements as ``""`` or missing. Both formats
end in the same structs: the answer's envelope (:mod:`.envelopes`) is decoded by the first of
three routes that reads it (:mod:`.decode_routes`), and one function per endpoint turns it into
the model the client returns.

A body of another shape (an unknown root element, a v2 ``{"results": [...]}`` page, ``{}``
where a list belongs) is a :class:`~epmm_async.errors.DecodeError`, never an empty result.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET

from ..errors import DecodeError
from ..models import (
    ActionResult,
    BulkResult,
    Country,
    Device,
    DevicePage,
    Label,
    LocateResult,
    MessageResult,
    Operator,
    Profile,
    Registration,
    RoamingResult,
)
from .decode_routes import (
    ROOT_ELEMENT,
    ResponseFormat,
    decode,
    detect_format,
    from_tree,
    normalise,
    parse_tree,
    parse_xml,
    unwrap,
)
from .envelopes import (
    ActionAnswer,
    BulkAnswer,
    DeviceAnswer,
    Envelope,
    LocateAnswer,
    RegistrationAnswer,
    RegistrationBody,
    records,
    wire_type,
)
from .scalars import scalar_text

__all__ = [
    "ROOT_ELEMENT",
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

T = TypeVar("T")
E = TypeVar("E", bound=Envelope[Any])
R = TypeVar("R", bound=msgspec.Struct)


# ---------------------------------------------------------------------------- helpers


# v2's error messages say it in localizedMessage (messageKey when that is missing).
_MESSAGE_KEYS = ("message", "uuid", "macAddress", "deviceWiFiMacAddress", "#text",
                 "localizedMessage", "messageKey")


def _texts(raw: object) -> tuple[str, ...]:
    """Strings out of a messages-like value: a string, a list, or ``{"message": ...}``."""
    # The usual shapes first: this runs on every answer.
    if isinstance(raw, dict):
        for key in _MESSAGE_KEYS:
            if key in raw:
                return _texts(raw[key])
        return ()
    if isinstance(raw, str):
        text = raw.strip()
        return (text,) if text else ()
    if raw is None or raw is UNSET:
        return ()
    if isinstance(raw, list):
        out: list[str] = []
        for item in raw:
            out.extend(_texts(item))
        return tuple(out)
    if isinstance(raw, bool | int | float):
        return (scalar_text(raw),)
    return ()


def _unwrapped(envelope: T) -> T:
    inner = getattr(envelope, "wrapped", None)
    return inner if inner is not None else envelope


def _answer(body: bytes, fmt: ResponseFormat, answer: type[E]) -> E:
    """``body`` as an ``answer`` envelope, the root element some JSON servers add unwrapped."""
    return _unwrapped(decode(body, fmt, wire_type(answer)))


def _text(value: object) -> str | None:
    """A wire-typed envelope text as its public value (numbers as text, blank as None)."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else scalar_text(value)
    return text or None


def _listed(env: Envelope[R], what: str) -> list[R]:
    """The records of a list answer; a body that is not the API's answer for a list of
    ``what`` is refused."""
    if env.results is not UNSET:
        raise DecodeError(f"an API v2 page ('results'), not a v1 list of {what}")
    if env.listed is UNSET:
        if env.messages is UNSET and env.total_count is UNSET:
            raise DecodeError(f"the body holds no list of {what} (none of the API's fields)")
        if env.total_count not in (UNSET, None, 0, "0"):
            raise DecodeError(f"the body holds no list of {what} but says totalCount "
                              f"{env.total_count}")
    return records(env.listed)


# ---------------------------------------------------------------------------- per endpoint


def decode_devices(body: bytes, fmt: ResponseFormat) -> DevicePage:
    """A device list (list, search by phone/user/label/MAC) into a :class:`DevicePage`.

    A body without a device list is a DecodeError unless it says ``totalCount`` 0: ``{}``,
    a v2 page or an unknown wrapper never reads as "no devices".
    """
    env = _answer(body, fmt, DeviceAnswer)
    if env.results is not UNSET:
        raise DecodeError("an API v2 page ('results'), not a v1 device list")
    total = env.total_count if isinstance(env.total_count, int) else None
    if env.listed is UNSET and env.device is UNSET and total != 0:
        raise DecodeError(
            "the body holds no device list"
            + (f" (totalCount {total})" if total is not None else "")
        )
    devices = records(env.listed)
    if not devices and isinstance(env.device, Device):
        devices = [env.device]
    return DevicePage(devices=devices, total_count=total, messages=_texts(env.messages))


def decode_device(body: bytes, fmt: ResponseFormat) -> Device | None:
    """The single device of a details answer (None when the body holds none)."""
    env = _answer(body, fmt, DeviceAnswer)
    if env.results is not UNSET:
        raise DecodeError("an API v2 page ('results'), not a v1 device")
    if isinstance(env.device, Device):
        return env.device
    listed = records(env.listed)
    if listed:
        return listed[0]
    if env.listed is UNSET and env.device is UNSET and env.messages is UNSET:
        raise DecodeError("the body holds no device (none of the API's fields)")
    return None


def decode_labels(body: bytes, fmt: ResponseFormat) -> list[Label]:
    """All labels."""
    return _listed(_answer(body, fmt, Envelope[Label]), "labels")


def decode_operators(body: bytes, fmt: ResponseFormat) -> list[Operator]:
    """All operators."""
    return _listed(_answer(body, fmt, Envelope[Operator]), "operators")


def decode_countries(body: bytes, fmt: ResponseFormat) -> list[Country]:
    """All countries (always normalised: the document misspells one of their keys)."""
    try:
        env = _unwrapped(from_tree(parse_tree(body, fmt), fmt, wire_type(Envelope[Country])))
    except RecursionError:
        raise DecodeError("body nested too deeply") from None
    return _listed(env, "countries")


_ACTION_ANSWER = wire_type(ActionAnswer)


class _PlainActionAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """A JSON action answer as servers send nearly every one (``{"messages": {"message":
    "..."}, "deviceUuid": "..."}``): nothing else in it, every value a string."""

    messages: dict[str, str] | None = None
    device_uuid: str | None = msgspec.field(default=None, name="deviceUuid")


_PLAIN_ACTION = msgspec.json.Decoder(_PlainActionAnswer)


def decode_action(body: bytes, fmt: ResponseFormat) -> ActionResult:
    """The answer of retire, lock, unlock, wipe, wakeup or re-push.

    The document's answers always carry the device's uuid or a message (unlock: passcodes);
    a 2xx with none of them (``{}``, a login page's JSON) is not an answer: DecodeError, so
    an outcome built on it is UNKNOWN, never SUCCEEDED.
    """
    if fmt == "json":
        # The plain shape is read at once; anything else (a root element, passcodes, a
        # number, an unknown field, a malformed body) takes the general route below, which
        # reads the plain shape alike (a property test holds the two to the same answers).
        try:
            plain: _PlainActionAnswer | None = _PLAIN_ACTION.decode(body)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            plain = None
        if plain is not None:
            device_uuid, messages = _text(plain.device_uuid), _texts(plain.messages)
            if device_uuid or messages:
                return ActionResult(device_uuid=device_uuid, messages=messages)
    return _decode_action_answer(body, fmt)


def _decode_action_answer(body: bytes, fmt: ResponseFormat) -> ActionResult:
    """:func:`decode_action` by the general route: any shape, JSON or XML."""
    env = _unwrapped(decode(body, fmt, _ACTION_ANSWER))  # _answer without its look-up
    device_uuid = _text(env.device_uuid)
    passcodes = records(env.listed)
    messages = _texts(env.messages)
    if not device_uuid and not messages and not passcodes and env.unlock_passcode is None:
        raise DecodeError("the answer carries none of the API's fields (deviceUuid, messages)")
    return ActionResult(
        device_uuid=device_uuid,
        messages=messages,
        unlock_passcode=_text(env.unlock_passcode),
        passcodes=passcodes,
    )


def decode_roaming(body: bytes, fmt: ResponseFormat) -> RoamingResult:
    """The answer of enable-roaming."""
    env = _answer(body, fmt, ActionAnswer)
    return RoamingResult(device_uuid=_text(env.device_uuid), messages=_texts(env.messages))


def decode_locate(body: bytes, fmt: ResponseFormat) -> LocateResult:
    """The answer of locate: fixes newest first."""
    env = _answer(body, fmt, LocateAnswer)
    locations = records(env.listed)
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
    env = _unwrapped(decode(body, fmt, RegistrationAnswer))
    reg = env.registration or RegistrationBody()
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


def _invalid_list(env: BulkAnswer) -> list[str]:
    found = list(_texts(_given(env.invalid_devices)))
    # The document's layout can be read as invalidDevices nested inside messages.
    if isinstance(env.messages, dict) and "invalidDevices" in env.messages:
        found.extend(_texts(env.messages["invalidDevices"]))
    return found


def _message_only(raw: object) -> tuple[str, ...]:
    if isinstance(raw, dict):
        return _texts(raw.get("message"))
    return _texts(raw)


def _bulk_answer(body: bytes, fmt: ResponseFormat) -> BulkAnswer:
    """A bulk or send-message answer. ``{}`` (an empty root) is one: a success with nothing
    to report may omit every element. A body holding only other keys (a login page's JSON,
    ``{"successful": false}``) or a v2 page is not: a DecodeError, so no device of it reads
    SUCCEEDED."""
    env = _answer(body, fmt, BulkAnswer)
    if env.results is not UNSET:
        raise DecodeError("an API v2 page ('results'), not a bulk answer")
    known = (env.listed, env.messages, env.total_count, env.invalid_devices,
             env.failed_devices, env.message_sent_failed)
    if all(value is UNSET for value in known) and not _empty_root(body, fmt):
        raise DecodeError("the answer carries none of the API's fields (messages, "
                          "invalidDevices)")
    return env


def _empty_root(body: bytes, fmt: ResponseFormat) -> bool:
    """Whether the body is an empty answer: ``{}``, an empty root element, or either
    wrapped in the root element."""
    tree = parse_tree(body, fmt)
    if isinstance(tree, dict) and list(tree) == [ROOT_ELEMENT]:
        tree = tree[ROOT_ELEMENT]
    if isinstance(tree, dict):  # an element's attributes (xmlns...) are not content
        tree = {k: v for k, v in tree.items() if not str(k).startswith("@")}
    return tree in ({}, None, "")


def decode_bulk(body: bytes, fmt: ResponseFormat) -> BulkResult:
    """The answer of one bulk-action request."""
    env = _bulk_answer(body, fmt)
    return BulkResult(
        messages=_message_only(_given(env.messages)),
        invalid_devices=_invalid_list(env),
        passcodes=records(env.listed),
        failed_devices=list(_texts(_given(env.failed_devices))),
    )


def decode_message_result(body: bytes, fmt: ResponseFormat) -> MessageResult:
    """The answer of send-message."""
    env = _bulk_answer(body, fmt)
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
    return _listed(_answer(body, fmt, Envelope[Profile]), "profiles")


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
        inner = unwrap(tree, fmt)
    except (msgspec.DecodeError, DecodeError, RecursionError, UnicodeDecodeError):
        return None
    if not isinstance(inner, dict) or not ({"messages", "totalCount"} & inner.keys()):
        return None
    try:
        return _texts(inner.get("messages"))
    except RecursionError:
        return None
