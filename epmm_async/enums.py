"""Enumerations of the EPMM V1 Device Management API.

Every enum whose values come from the server tolerates values the document does not list
(``_missing_`` makes a pseudo-member), so a newer server never breaks decoding. Enums whose
values the *caller* supplies (``BulkAction``, ``MessageMode``, ``Platform`` ...) are strict:
an unknown value is a :class:`~epmm_async.errors.ValidationError` before any request is sent.
"""

from __future__ import annotations

import enum
from typing import Self

__all__ = [
    "AsciiFlag",
    "BulkAction",
    "ComplianceReason",
    "DeviceStatus",
    "DeviceType",
    "LookupResult",
    "MessageMode",
    "PasscodeMeaning",
    "Platform",
    "ProfileType",
    "RegType",
    "UserSource",
]


class _TolerantStrEnum(enum.StrEnum):
    """A str enum that turns unknown server values into pseudo-members instead of failing."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, str) or not value:
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member


class DeviceStatus(_TolerantStrEnum):
    """Registration/connection status of a device, with its numeric ``statusCode``."""

    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"
    IENROLL_VERIFIED = "IENROLL_VERIFIED"
    IENROLL_INPROGRESS = "IENROLL_INPROGRESS"
    IENROLL_COMPLETE = "IENROLL_COMPLETE"
    INFECTED = "INFECTED"
    LOST = "LOST"
    RETIRED = "RETIRED"
    RETIRE_PENDING = "RETIRE_PENDING"
    VERIFIED = "VERIFIED"
    VERIFICATION_PENDING = "VERIFICATION_PENDING"
    EXPIRED = "EXPIRED"
    WIPED = "WIPED"

    @property
    def code(self) -> int | None:
        """The numeric ``statusCode`` the document assigns to this status (None if unknown)."""
        return _STATUS_CODES.get(self.value)

    @classmethod
    def from_code(cls, code: int) -> DeviceStatus:
        """The status for a numeric ``statusCode``; raises ``ValueError`` for an unknown code."""
        for name, value in _STATUS_CODES.items():
            if value == code:
                return cls(name)
        raise ValueError(f"unknown device statusCode {code!r}")

    @classmethod
    def parse(cls, value: str | DeviceStatus) -> DeviceStatus:
        """Validate a caller-supplied status (case-insensitive); unknown names raise."""
        from .errors import ValidationError

        if isinstance(value, DeviceStatus) and value.value in _STATUS_CODES:
            return value
        name = str(value).strip().upper()
        if name not in _STATUS_CODES:
            known = ", ".join(_STATUS_CODES)
            raise ValidationError(f"unknown device status {value!r}; expected one of: {known}")
        return cls(name)


_STATUS_CODES: dict[str, int] = {
    "ACTIVE": 97,
    "BLOCKED": 98,
    "IENROLL_VERIFIED": 100,
    "IENROLL_INPROGRESS": 101,
    "IENROLL_COMPLETE": 102,
    "INFECTED": 105,
    "LOST": 108,
    "VERIFICATION_PENDING": 112,
    "RETIRED": 114,
    "RETIRE_PENDING": 117,
    "VERIFIED": 118,
    "WIPED": 119,
    "EXPIRED": 120,
}


class ComplianceReason(enum.IntFlag):
    """Bits of the ``compliance``, ``quarantinedStatus`` and ``blockReason`` bitmaps.

    Two decimal values in the document contradict their hex column (8256 for 0x2000 and 8272
    for 0x10); the hex values are used: they are single bits, as a bitmap requires (DESIGN.md).
    Bits the document does not name are kept (``boundary=KEEP``) rather than dropped.
    """

    COMPROMISED = 0x000001
    OS_VERSION_UNSUPPORTED = 0x000002
    HARDWARE_NOT_ALLOWED = 0x000004
    DATA_PROTECTION_DISABLED = 0x000008
    POLICY_OUT_OF_DATE = 0x000010
    OUT_OF_CONTACT = 0x000020
    APP_CONTROL_NONCOMPLIANT = 0x000040
    MAILBOX_LIMIT_EXCEEDED = 0x000080
    NOT_REGISTERED = 0x000100
    MANUALLY_BLOCKED = 0x000200
    EXCHANGE_REPORTED = 0x000400
    DEVICE_ADMIN_DEACTIVATED = 0x000800
    DISALLOWED_APP_NONCOMPLIANT = 0x001000
    REQUIRED_APP_NONCOMPLIANT = 0x002000
    ALLOWED_APP_NONCOMPLIANT = 0x004000
    USER_LOGGED_OUT = 0x008000
    ATTESTATION_FAILED = 0x010000
    UNKNOWN_REASON = 0x400000

    @property
    def reasons(self) -> list[ComplianceReason]:
        """The individual named reasons set in this bitmap, lowest bit first."""
        return [m for m in ComplianceReason if m.value & self.value]

    @property
    def unnamed_bits(self) -> int:
        """Bits set in the bitmap that the document does not name."""
        named = 0
        for member in ComplianceReason:
            named |= member.value
        return self.value & ~named

    def describe(self) -> list[str]:
        """Human-readable descriptions of every reason set (empty when compliant)."""
        out = [_REASON_TEXT[m.value] for m in self.reasons]
        if self.unnamed_bits:
            out.append(f"Undocumented reason bits 0x{self.unnamed_bits:06x}")
        return out


_REASON_TEXT: dict[int, str] = {
    0x000001: "Device is compromised.",
    0x000002: "OS version is less than the supported OS version.",
    0x000004: "Hardware version is not allowed.",
    0x000008: "Data Protection is not enabled.",
    0x000010: "Policy is out of date.",
    0x000020: "Device is out of contact.",
    0x000040: "App control policy is out of compliance.",
    0x000080: "Device exceeds per mailbox limit.",
    0x000100: "Device is not registered.",
    0x000200: "Device is manually blocked.",
    0x000400: "Exchange Reported.",
    0x000800: "Device administrator is deactivated.",
    0x001000: "Disallowed app control policy is out of compliance.",
    0x002000: "Required app control policy is out of compliance.",
    0x004000: "Allowed app control policy is out of compliance.",
    0x008000: "User logged out.",
    0x010000: "Attestation Failed.",
    0x400000: "Unknown reason.",
}


class _TolerantIntEnum(enum.IntEnum):
    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, int):
            return None
        member = int.__new__(cls, value)
        member._name_ = f"UNKNOWN_{value}"
        member._value_ = value
        return member


class UserSource(_TolerantIntEnum):
    """Where a device's user comes from: ASCII 'L' (76) local, ASCII 'D' (68) directory/LDAP."""

    LOCAL = 76
    LDAP = 68


class AsciiFlag(_TolerantIntEnum):
    """A boolean the server sends as an ASCII code: 116 ('t') true, 102 ('f') false.

    Used by ``enabledForRegistration`` (countries) and ``isESSearch`` (labels). ``bool()`` of a
    member is what it means, not whether the code is non-zero.
    """

    TRUE = 116
    FALSE = 102

    def __bool__(self) -> bool:
        return self is AsciiFlag.TRUE


class RegType(_TolerantStrEnum):
    """BlackBerry registration type configured on the server."""

    DEFAULT = "DEFAULT"
    BES = "BES"
    BESAUTO = "BESAUTO"


class LookupResult(_TolerantStrEnum):
    """How a location fix was obtained."""

    LOOKUP_FAILURE = "LookupFailure"
    GPS = "GPS"
    CELL = "Cell"


class PasscodeMeaning(enum.Enum):
    """What an unlock passcode ``value`` means (Q, F and NA for iOS/Android, else BlackBerry)."""

    HAS_PASSCODE = "Q"
    NO_PASSCODE = "F"
    UNLOCK_NOT_POSSIBLE = "NA"
    PASSCODE = "passcode"
    USER_SET_PASSCODE = "empty"


class _CallerEnum(enum.StrEnum):
    """A str enum for caller-supplied values: parsing is strict and the error lists choices."""

    @classmethod
    def parse(cls, value: object) -> Self:
        """Validate a caller-supplied value (member, value or name, case-insensitive)."""
        from .errors import ValidationError

        if isinstance(value, cls):
            return value
        text = str(value).strip()
        for member in cls:
            if text.lower() in (member.value.lower(), member.name.lower()):
                return member
        choices = ", ".join(m.value for m in cls)
        raise ValidationError(f"unknown {cls.__name__} {value!r}; expected one of: {choices}")


class BulkAction(_CallerEnum):
    """Actions of ``POST /api/v1/dm/bulk/devices/{actiontype}`` (sent upper-case)."""

    LOCK = "LOCK"
    UNLOCK = "UNLOCK"
    WAKEUP_DEVICE = "WAKEUP_DEVICE"
    RETIRE = "RETIRE"
    WIPE = "WIPE"


class MessageMode(_CallerEnum):
    """Delivery mode of ``bulk/sendmessage``."""

    SMS = "sms"
    EMAIL = "email"
    PNS = "pns"


class Platform(_CallerEnum):
    """Platform letter of the registration API."""

    ANDROID = "A"
    IOS = "I"
    WINDOWS = "E"
    WINDOWS_PHONE = "M"
    MACOS = "L"


class DeviceType(_CallerEnum):
    """Device type of the registration API: a PDA may have no phone number."""

    PHONE = "Phone"
    PDA = "PDA"


class ProfileType(_TolerantStrEnum):
    """Type of a profile: APP (configuration) or POLICY."""

    APP = "APP"
    POLICY = "POLICY"

    @classmethod
    def parse(cls, value: object) -> ProfileType:
        """Validate a caller-supplied profile type."""
        from .errors import ValidationError

        text = str(value).strip().upper()
        if text not in ("APP", "POLICY"):
            raise ValidationError(f"unknown profile type {value!r}; expected APP or POLICY")
        return cls(text)
