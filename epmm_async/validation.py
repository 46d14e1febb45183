"""Validation of caller input: uuids, Wi-Fi MAC addresses, reasons, free text.

Pure functions with no I/O; each raises :class:`~epmm_async.errors.ValidationError` with a
message that says what is wrong, so bad input never reaches the wire.
"""

from __future__ import annotations

import re

from .errors import ValidationError

__all__ = [
    "MAX_REASON_LENGTH",
    "MacAddress",
    "device_key",
    "is_mac_key",
    "key_target",
    "validate_encodable",
    "validate_reason",
    "validate_text",
    "validate_uuid",
]

MAX_REASON_LENGTH = 512
"""The document's limit on the free-form ``Reason`` of retire, lock, unlock and wipe."""

# The document's own example uuid (12849438-0d74-3c30-6b7d-121a3da8645d) has no RFC 4122
# variant bits, so only the 8-4-4-4-12 hex shape is checked.
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_MAC_SEPARATORS = re.compile(r"[:\-.\s]")
_MAC_RE = re.compile(r"[0-9A-F]{12}")


def validate_uuid(value: object, *, what: str = "device uuid") -> str:
    """Return ``value`` as a lower-case uuid string, or raise if it is not 8-4-4-4-12 hex."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    text = value.strip()
    if not _UUID_RE.fullmatch(text):
        raise ValidationError(f"malformed {what} {value!r}: expected 8-4-4-4-12 hexadecimal")
    return text.lower()


class MacAddress(str):
    """A Wi-Fi MAC address, normalised to 12 upper-case hex digits without separators.

    Accepts ``38AA3C62BFAD``, ``38:aa:3c:62:bf:ad``, ``38-AA-3C-62-BF-AD`` or
    ``38aa.3c62.bfad``. A device given as a ``MacAddress`` routes to the ``/mac/`` endpoints.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> MacAddress:
        """Validate and normalise ``value``; raise ``ValidationError`` if it is not a MAC."""
        if isinstance(value, MacAddress):
            return value
        if not isinstance(value, str):
            raise ValidationError(f"MAC address must be a string, got {type(value).__name__}")
        text = _MAC_SEPARATORS.sub("", value.strip()).upper()
        if not _MAC_RE.fullmatch(text):
            raise ValidationError(f"malformed MAC address {value!r}: expected 12 hex digits")
        return super().__new__(cls, text)

    def __repr__(self) -> str:
        return f"MacAddress({str(self)!r})"


def validate_encodable(value: str, *, what: str) -> str:
    """Return ``value`` if it can be sent as UTF-8; raise ``ValidationError`` if not.

    A lone surrogate (``"\\udcff"``, which Python makes of undecodable bytes in command-line
    arguments and file names) cannot be encoded: left alone it would surface as a
    ``UnicodeEncodeError`` while the request is built. The message names the parameter, the
    position and the code point, never the text itself (it may be a secret).
    """
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise ValidationError(
            f"{what} has a character that cannot be encoded as UTF-8 at position {exc.start} "
            f"(U+{ord(bad):04X}, a lone surrogate: was it decoded with the wrong encoding?)"
        ) from None
    return value


def validate_reason(reason: object, *, required: bool, action: str) -> str | None:
    """Check a ``Reason``: a string of at most 512 characters, present when ``required``."""
    if reason is None:
        if required:
            raise ValidationError(f"{action} requires a reason (at most 512 characters)")
        return None
    if not isinstance(reason, str):
        raise ValidationError(f"{action} reason must be a string, got {type(reason).__name__}")
    if required and not reason.strip():
        raise ValidationError(f"{action} requires a non-empty reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(
            f"{action} reason is {len(reason)} characters; the limit is {MAX_REASON_LENGTH}"
        )
    return reason if reason.isascii() else validate_encodable(reason, what=f"{action} reason")


def validate_text(value: object, *, what: str, required: bool = True) -> str:
    """Check a free-text parameter (user id, label name, message...): a non-empty string
    that can be encoded as UTF-8 (see :func:`validate_encodable`)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ValidationError(f"{what} must not be empty")
    return validate_encodable(value, what=what)


def device_key(device: object) -> str:
    """The one key every layer names a device by: its uuid, lower-cased, or its Wi-Fi MAC as
    12 upper-case hex digits.

    Takes a uuid string, a :class:`MacAddress`, or a record with a ``uuid`` (a ``Device``);
    a plain string is a uuid, never a MAC (a MAC is said with :class:`MacAddress`).
    """
    if type(device) is str:  # the usual case, first: getattr on a str is a failed lookup
        return validate_uuid(device)
    if isinstance(device, MacAddress):
        return str(device)
    uuid = getattr(device, "uuid", None)
    if isinstance(uuid, str) and not isinstance(device, str):
        return validate_uuid(uuid)
    if not isinstance(device, str):
        raise ValidationError(
            "device must be a uuid string, a MacAddress or a Device, got "
            f"{type(device).__name__}"
        )
    return validate_uuid(device)


def is_mac_key(key: str) -> bool:
    """Whether a key from :func:`device_key` is a MAC: uuids have dashes, MACs none."""
    return "-" not in key


def key_target(key: str) -> str | MacAddress:
    """A key from :func:`device_key` as the API methods take it: a uuid, or a
    :class:`MacAddress` for the ``/mac/`` endpoints."""
    return MacAddress(key) if is_mac_key(key) else key
