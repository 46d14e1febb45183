"""Typed results of the EPMM V1 Device Management API (msgspec structs).

Attributes are snake_case; the wire names (camelCase, ``@id`` attributes, the odd
``userUUID``) are mapped per field. Structs ignore fields they do not know, so the extra
fields real servers add never break decoding. Decoding lives in :mod:`epmm_async.core`.

Wire types and public types. A field annotated :data:`WireText` is ``str`` to a type checker
and to every caller, but msgspec reads it as ``str | int | float | bool``: real servers
(Jettison) send text that looks numeric as a bare number, and decoding straight into the
struct keeps 20,000-device lists on msgspec's fast path. Each record's ``__post_init__``
(which msgspec runs for every struct it decodes or converts, and Python for every struct built
by hand) settles such values into the public type before anyone sees the struct: a number
becomes the text the server meant (:func:`~epmm_async.core.scalars.scalar_text`), ``""``
becomes None, epoch numbers and offset-less times become aware UTC datetimes
(:data:`WireStamp`), ASCII-coded booleans become ``bool`` (:data:`WireFlag`) and the raw JSON
of ``details`` becomes a lazy :class:`DeviceDetails`.
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, TypeAlias

import msgspec

from .core.scalars import scalar_text
from .enums import (
    ComplianceReason,
    DeviceStatus,
    LookupResult,
    PasscodeMeaning,
    ProfileType,
    RegType,
    UserSource,
)

__all__ = [
    "ActionResult",
    "BulkResult",
    "Country",
    "CsvDeviceRow",
    "Device",
    "DeviceDetails",
    "DevicePage",
    "Label",
    "LocateResult",
    "Location",
    "MessageResult",
    "Operator",
    "Passcode",
    "Profile",
    "Registration",
    "RoamingResult",
    "WireBits",
    "WireFlag",
    "WireStamp",
    "WireText",
]


if TYPE_CHECKING:
    WireBits: TypeAlias = ComplianceReason
    WireDetails: TypeAlias = "DeviceDetails"
    WireText: TypeAlias = str
    WireStamp: TypeAlias = _dt.datetime
    WireFlag: TypeAlias = bool
else:
    WireText = str | int | float | bool
    """Text: what msgspec reads is wider (see the module docstring); callers see ``str``."""
    WireStamp = _dt.datetime | int | float
    """A timestamp: ISO-8601 text, or epoch seconds/milliseconds; callers see an aware
    ``datetime``."""
    WireFlag = bool | int | str
    """A boolean the server may send as an ASCII code (116 't', 102 'f'); callers see
    ``bool``."""
    WireDetails = msgspec.Raw
    """A device's ``details``: kept as raw JSON; callers see :class:`DeviceDetails`."""
    WireBits = typing.NewType("WireBits", int)
    """A compliance bitmap: msgspec reads an int (an ``IntFlag | None`` field costs it ~3 us
    a value), callers see :class:`ComplianceReason`."""


class DeviceDetails(Mapping[str, str]):
    """The key/value ``details`` of a device, as a read-only mapping with typed accessors.

    The server sends ``{"entry": [{"key": .., "value": ..}, ...]}``, a single entry as an
    object, an empty string when there are none, or the whole thing wrapped in a one-element
    list (``[{"entry": [...]}]``, ``[""]``). Values sent as JSON numbers or booleans read as
    the text the server meant (``87`` -> ``"87"``). The raw JSON is kept and parsed on first
    access, so listing 20,000 devices does not pay for details nobody reads.
    """

    __slots__ = ("_map", "_raw")

    def __init__(self, raw: object = None) -> None:
        """Wrap a raw ``details`` value (any of the shapes above) or a plain mapping."""
        self._raw = raw
        self._map: dict[str, str] | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> DeviceDetails:
        """Details from a plain ``{key: value}`` mapping."""
        details = cls()
        details._map = dict(values)
        return details

    def _entries(self) -> dict[str, str]:
        if self._map is None:
            raw = self._raw
            try:
                if isinstance(raw, msgspec.Raw):
                    self._map = _parse_raw_details(raw)
                else:
                    self._map = _parse_details(raw)
            except (RecursionError, msgspec.DecodeError):
                self._map = {}  # absurdly nested garbage: no usable details
            self._raw = None
        return self._map

    def __getitem__(self, key: str) -> str:
        return self._entries()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DeviceDetails):
            return self._entries() == other._entries()
        if isinstance(other, Mapping):
            return self._entries() == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._entries().items())))

    def __repr__(self) -> str:
        return f"DeviceDetails({self._entries()!r})"

    def _first(self, *keys: str) -> str | None:
        entries = self._entries()
        for key in keys:
            value = entries.get(key)
            if value not in (None, "", "na", "(null)"):
                return value
        return None

    def _float(self, *keys: str) -> float | None:
        value = self._first(*keys)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    @property
    def model(self) -> str | None:
        """Device model (Android ``device_model``, iOS ``device_model``/``ModelName``)."""
        return self._first("device_model", "ModelName", "Model")

    @property
    def os_version(self) -> str | None:
        """OS version (iOS ``OSVersion``, Android ``platform_name``)."""
        return self._first("OSVersion", "platform_name", "os_version")

    @property
    def client_version(self) -> str | None:
        """EPMM client version (``client_version`` or iOS ``Client_version``)."""
        return self._first("client_version", "Client_version")

    @property
    def imei(self) -> str | None:
        """IMEI (``imei`` or ``iPhone IMEI``)."""
        return self._first("imei", "iPhone IMEI")

    @property
    def imsi(self) -> str | None:
        """IMSI of the SIM, if any."""
        return self._first("imsi", "registration_imsi")

    @property
    def serial_number(self) -> str | None:
        """Serial number (iOS ``SerialNumber``)."""
        return self._first("SerialNumber", "serial_number")

    @property
    def udid(self) -> str | None:
        """iOS UDID (``iPhone UDID``)."""
        return self._first("iPhone UDID")

    @property
    def wifi_mac(self) -> str | None:
        """Wi-Fi MAC, normalised to 12 upper-case hex digits."""
        value = self._first("wifi_mac_addr", "WiFiMAC", "iPhone MAC_ADDRESS_EN0")
        return value.replace(":", "").replace("-", "").upper() if value else None

    @property
    def battery_percent(self) -> float | None:
        """Battery charge in percent (Android ``battery_life``, iOS ``Battery Level`` x 100)."""
        level = self._float("Battery Level")
        if level is not None and level >= 0:
            return round(level * 100, 1)
        return self._float("battery_life")

    @property
    def compromised(self) -> bool | None:
        """Whether the device reports itself compromised (rooted/jailbroken).

        Android ``security_state`` is ``Ok``/``Compromised``; iOS ``security_state`` is
        ``0`` (compromised) / ``1`` (not), and ``DeviceCompromised`` is true/false.
        """
        flag = self._first("DeviceCompromised")
        if flag is not None:
            return flag.lower() == "true"
        state = self._first("security_state")
        if state is None:
            return None
        return state.lower() in ("compromised", "0")

    @property
    def roaming(self) -> bool | None:
        """Whether the device is roaming (Android ``device_roaming_flag`` on/off)."""
        flag = self._first("device_roaming_flag")
        return None if flag is None else flag.lower() == "on"

    @property
    def voice_roaming_enabled(self) -> bool | None:
        """iOS ``Voice Roaming Enabled``."""
        flag = self._first("Voice Roaming Enabled")
        return None if flag is None else flag.lower() == "true"

    @property
    def data_roaming_enabled(self) -> bool | None:
        """iOS ``DataRoamingEnabled``."""
        flag = self._first("DataRoamingEnabled")
        return None if flag is None else flag.lower() == "true"

    @property
    def latitude(self) -> float | None:
        """Last recorded latitude."""
        return self._float("latitude")

    @property
    def longitude(self) -> float | None:
        """Last recorded longitude."""
        return self._float("longitude")

    @property
    def location_captured_at(self) -> _dt.datetime | None:
        """When the last location was recorded (``lat_long_last_captured_at``).

        The document says seconds but both its examples have 13 digits: milliseconds. Values
        below 10^11 are taken as seconds (DESIGN.md).
        """
        value = self._float("lat_long_last_captured_at")
        if value is None:
            return None
        seconds = value / 1000 if value >= 1e11 else value
        return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)


class _Entry(msgspec.Struct):
    key: str | int | float | bool | None = None
    value: str | int | float | bool | None = None


class _EntryBlock(msgspec.Struct):
    entry: list[_Entry] | _Entry | None = None


_DETAILS_SHAPE = msgspec.json.Decoder(list[_EntryBlock | str] | _EntryBlock | str | None)


def _parse_raw_details(raw: msgspec.Raw) -> dict[str, str]:
    """Raw details JSON into a mapping: the usual shapes typed by msgspec, others generic."""
    try:
        shape = _DETAILS_SHAPE.decode(raw)
    except msgspec.ValidationError:
        return _parse_details(msgspec.json.decode(raw))
    blocks = shape if isinstance(shape, list) else [shape]
    out: dict[str, str] = {}
    for block in blocks:
        if not isinstance(block, _EntryBlock):
            continue  # "" or None: an empty element
        entries = block.entry
        if entries is None:
            return _parse_details(msgspec.json.decode(raw))  # not the entry layout
        for entry in entries if isinstance(entries, list) else (entries,):
            key, value = entry.key, entry.value
            if key is None:
                continue
            out[key if key.__class__ is str else scalar_text(key)] = (
                "" if value is None else value if value.__class__ is str else scalar_text(value)
            )
    return out


def _parse_details(raw: object) -> dict[str, str]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, list):
        merged: dict[str, str] = {}
        for item in raw:
            merged.update(_parse_details(item))
        return merged
    if isinstance(raw, Mapping):
        if "entry" in raw:
            return _parse_details(raw["entry"])
        if "key" in raw:
            key = raw.get("key")
            value = raw.get("value")
            if key is None:
                return {}
            return {scalar_text(key): "" if value is None else scalar_text(value)}
        return {str(k): scalar_text(v) for k, v in raw.items() if not isinstance(v, dict)}
    return {}




# ---------------------------------------------------------------------------- settling
_NOT_TEXT = frozenset({int, float, bool})
_ASCII_TRUE = (116, "116", "t", "true")
_ASCII_FALSE = (102, "102", "f", "false")
_EPOCH_MS_FROM = 10**11  # 10^11 seconds is the year 5138: larger numbers are milliseconds


def _aware(value: object) -> _dt.datetime | None:
    """A timestamp value as an aware datetime: naive ones are UTC, numbers are epoch time."""
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_FROM else value
        try:
            return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _flag(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    key = value.strip().lower() if isinstance(value, str) else value
    if key in _ASCII_TRUE:
        return True
    if key in _ASCII_FALSE:
        return False
    return None


_BITMAPS: dict[int, ComplianceReason] = {}


def _bitmap(value: int) -> ComplianceReason | None:
    """``ComplianceReason(value)``, cached (a fleet repeats a few bitmaps many times); None
    for a value no bitmap has (negative)."""
    found = _BITMAPS.get(value)
    if found is None:
        if value < 0:
            return None
        try:
            found = ComplianceReason(value)
        except (ValueError, OverflowError):
            return None
        if len(_BITMAPS) < 4096:
            _BITMAPS[value] = found
    return found


def _getter(names: tuple[str, ...]) -> Callable[[object], tuple[object, ...]]:
    if len(names) < 2:  # attrgetter of one name returns the value itself, not a tuple
        return lambda obj: tuple(getattr(obj, name) for name in names)
    getter: Callable[[object], tuple[object, ...]] = operator.attrgetter(*names)
    return getter


class _Settle:
    """Narrows a record's wire-typed fields to their public types, in place (one per class).

    Which fields need it is read once from the class's runtime annotations, so a new
    :data:`WireText` field is settled without being listed anywhere else.
    """

    __slots__ = ("bits", "details", "flags", "get_texts", "required", "stamps", "texts")

    def __init__(self, cls: type) -> None:
        hints = typing.get_type_hints(cls)

        def having(alias: typing.Any) -> tuple[str, ...]:
            return tuple(n for n, h in hints.items() if h in (alias, typing.Optional[alias]))  # noqa: UP045

        self.texts = having(WireText)
        self.required = frozenset(
            f.name for f in msgspec.structs.fields(cls) if f.required and f.name in self.texts
        )
        self.get_texts = _getter(self.texts)
        self.stamps = having(WireStamp)
        self.flags = having(WireFlag)
        self.bits = having(WireBits)
        self.details = "details" in hints and hints["details"] is WireDetails

    def __call__(self, obj: object) -> None:
        texts = self.get_texts(obj)
        # One pass in C decides whether any text field needs work (most records: none).
        if "" in texts or not _NOT_TEXT.isdisjoint(map(type, texts)):
            for name, value in zip(self.texts, texts, strict=True):
                if value is not None and (value.__class__ is not str or not value):
                    if value == "" and name in self.required:
                        # A record without its identity (uuid, name) is not a record: the
                        # decoder refuses the body rather than drop it or invent one.
                        raise ValueError(f"{type(obj).__name__}.{name} is empty")
                    setattr(obj, name, scalar_text(value) if value != "" else None)
        for name in self.stamps:
            value = getattr(obj, name)
            if value is not None and (value.__class__ is not _dt.datetime or value.tzinfo is None):
                setattr(obj, name, _aware(value))
        for name in self.flags:
            value = getattr(obj, name)
            if value.__class__ is not bool and value is not None:
                setattr(obj, name, _flag(value))
        for name in self.bits:
            value = getattr(obj, name)
            if value.__class__ is int:
                setattr(obj, name, _bitmap(value))
        if self.details:
            raw = obj.details  # type: ignore[attr-defined]
            if raw.__class__ is not DeviceDetails:
                # copy(): the Raw is a view of the whole response body, which must not be
                # kept alive by one device.
                obj.details = DeviceDetails(  # type: ignore[attr-defined]
                    raw.copy() if isinstance(raw, msgspec.Raw) else raw
                )


class _Record(msgspec.Struct, kw_only=True):
    """Base of the API's records: settles wire-typed fields on construction."""

    def __post_init__(self) -> None:
        settle = _SETTLE.get(type(self))
        if settle is None:  # first record of this class (or of a caller's subclass)
            settle = _SETTLE[type(self)] = _Settle(type(self))
        settle(self)


_SETTLE: dict[type, _Settle] = {}


class Device(_Record, rename="camel", kw_only=True):
    """A device record as returned by the list, details and search endpoints.

    Every field the document lists, plus the undocumented ones real servers send. Bitmaps
    (``compliance``, ``quarantined_status``, ``block_reason``) are :class:`ComplianceReason`
    flags (None when the server sent none, or one that could not be read); ``user_source``
    is :class:`UserSource`; timestamps are aware datetimes.
    """

    id: int | None = msgspec.field(default=None, name="@id")
    uuid: WireText
    principal: WireText | None = None
    block_reason: WireBits | None = None
    client_id: int | None = None
    comment: WireText | None = None
    compliance: WireBits | None = None
    country_code: WireText | None = None
    country_id: int | None = None
    country_name: WireText | None = None
    details: WireDetails = msgspec.field(default_factory=DeviceDetails)
    device_count: int | None = None
    eas_last_sync_attempt: WireStamp | None = None
    eas_uuid: WireText | None = None
    email_address: WireText | None = None
    email_domain: WireText | None = None
    employee_owned: bool | None = None
    home_operator: WireText | None = None
    language_country_id: int | None = None
    language_id: int | None = None
    last_connected_at: WireStamp | None = None
    manufacturer: WireText | None = None
    mdm_managed: bool | None = None
    mdm_profile_url_id: WireText | None = None
    model: WireText | None = None
    name: WireText | None = None
    notify_user: bool | None = None
    operator: WireText | None = None
    operator_id: int | None = None
    phone_number: WireText | None = None
    current_phone_number: WireText | None = None
    pin: WireText | None = None
    platform: WireText | None = None
    quarantined_status: WireBits | None = None
    reg_count: int | None = None
    reg_type: RegType | None = None
    status: DeviceStatus | None = None
    status_code: int | None = None
    user_display_name: WireText | None = None
    user_first_name: WireText | None = None
    user_last_name: WireText | None = None
    user_source: UserSource | None = None
    user_uuid: WireText | None = msgspec.field(default=None, name="userUUID")
    iphone_version: WireText | None = msgspec.field(default=None, name="iPhoneVersion")
    registered_at: WireStamp | None = None
    # Seen on real servers, not in the document.
    user_id: WireText | None = None
    platform_type: WireText | None = None
    created_at: WireStamp | None = None
    wipe_reason: WireText | None = None
    non_gms: bool | None = msgspec.field(default=None, name="nonGMS")
    auth_only: bool | None = None
    multi_user: bool | None = None
    tlv_version: WireText | None = msgspec.field(default=None, name="TLVVersion")
    migration_status: WireText | None = None
    temporary_session_only: bool | None = None


    @property
    def compliant(self) -> bool:
        """True when the ``compliance`` bitmap is zero; False when it is unknown (missing, or
        a value that could not be read): an unreadable bitmap never reads as compliant."""
        return self.compliance is not None and not self.compliance

    @property
    def status_from_code(self) -> DeviceStatus | None:
        """The status implied by ``status_code`` (useful when ``status`` is absent)."""
        if self.status_code is None:
            return None
        try:
            return DeviceStatus.from_code(self.status_code)
        except ValueError:
            return None

    def __repr__(self) -> str:
        """Short: uuid, principal, platform and status (:meth:`as_dict` has every field)."""
        status = self.status or self.status_from_code
        shown = str(status) if status is not None else None
        return (
            f"Device(uuid={self.uuid!r}, principal={self.principal!r}, "
            f"platform={self.platform!r}, status={shown!r})"
        )

    def as_dict(self) -> dict[str, typing.Any]:
        """The full record: every field by attribute name, ``details`` as a plain dict."""
        record = msgspec.structs.asdict(self)
        record["details"] = dict(self.details)
        return record


class DevicePage(msgspec.Struct, kw_only=True):
    """One page of a device list: the devices, the server's ``totalCount`` and messages."""

    devices: list[Device]
    total_count: int | None = None
    messages: tuple[str, ...] = ()


class Label(_Record, rename="camel", kw_only=True):
    """A label (device group). Negative ids are the default labels."""

    id: int | None = msgspec.field(default=None, name="@id")
    name: WireText
    description: WireText | None = None
    static_label: bool | None = None
    query: WireText | None = None
    device_count: int | None = None
    is_es_search: WireFlag | None = msgspec.field(default=None, name="isESSearch")

    @property
    def is_default(self) -> bool:
        """Default labels have negative ids."""
        return self.id is not None and self.id < 0


class Operator(_Record, rename="camel", kw_only=True):
    """A mobile or fixed operator known to the server."""

    id: int | None = None
    carrier_short_name: WireText | None = None
    carrier_type: WireText | None = None
    country_code: WireText | None = None
    country_id: int | None = None
    country_name: WireText | None = None
    enabled: bool | None = None


class Country(_Record, rename="camel", kw_only=True):
    """A country known to the server.

    ``iso_alpha2_code`` is also read from the document's misspelt ``isoAplha2Code``.
    """

    country_name: WireText | None = None
    country_code: WireText | None = None
    iso_alpha2_code: WireText | None = msgspec.field(default=None, name="isoAlpha2Code")
    enabled_for_registration: WireFlag | None = None

    @property
    def enabled(self) -> bool:
        """Whether registration is enabled for the country (sent as ASCII 't')."""
        return bool(self.enabled_for_registration)


class Location(_Record, rename="camel", kw_only=True):
    """One location fix of a device."""

    uuid: WireText | None = None
    lookup_result: LookupResult | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius: float | None = None
    captured_at: WireStamp | None = None


    @property
    def found(self) -> bool:
        """False when the server could not locate the device (``LookupFailure``)."""
        return (
            self.lookup_result is not LookupResult.LOOKUP_FAILURE
            and self.latitude is not None
            and self.longitude is not None
            and math.isfinite(self.latitude)
            and math.isfinite(self.longitude)
        )


class LocateResult(msgspec.Struct, kw_only=True):
    """The answer of the locate endpoint: its fixes, newest first."""

    device_uuid: str | None
    locations: list[Location]
    locate_now: bool | None
    messages: tuple[str, ...] = ()
    attempts: int = 0
    """HTTP attempts the client made for this answer (set by the client, not the server)."""

    @property
    def latest(self) -> Location | None:
        """The newest fix (by ``captured_at``), or None when there is none."""
        dated = [loc for loc in self.locations if loc.captured_at is not None]
        if dated:
            return max(dated, key=lambda loc: loc.captured_at or _dt.datetime.min)
        return self.locations[0] if self.locations else None


class Passcode(_Record, kw_only=True):
    """An unlock passcode entry: ``value`` is Q, F, NA (iOS/Android) or a BlackBerry code."""

    uuid: WireText | None = None
    name: WireText | None = None
    value: WireText | None = None

    @property
    def meaning(self) -> PasscodeMeaning:
        """What ``value`` means; see :class:`PasscodeMeaning`."""
        text = (self.value or "").strip()
        if not text:
            return PasscodeMeaning.USER_SET_PASSCODE
        for meaning in (
            PasscodeMeaning.HAS_PASSCODE,
            PasscodeMeaning.NO_PASSCODE,
            PasscodeMeaning.UNLOCK_NOT_POSSIBLE,
        ):
            if text.upper() == meaning.value:
                return meaning
        return PasscodeMeaning.PASSCODE


class Registration(msgspec.Struct, kw_only=True):
    """The answer of the registration API."""

    device_uuid: str | None
    status: str | None
    passcode: str | None
    passcode_ttl_hours: int | None
    registration_url: str | None
    phone_number: str | None = None
    messages: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        """True for ``SUCCESS`` (and the misspelt ``SUCESS`` real servers send)."""
        return (self.status or "").upper() in ("SUCCESS", "SUCESS")


class Profile(_Record, rename="camel", kw_only=True):
    """A configuration or policy applied to a device."""

    id: int | None = msgspec.field(default=None, name="@id")
    uuid: WireText | None = None
    name: WireText | None = None
    policy_type: WireText | None = None
    status: WireText | None = None
    profile_type: ProfileType | None = None
    last_updated_at: WireStamp | None = None



class ActionResult(msgspec.Struct, kw_only=True):
    """The answer of a per-device action (retire, lock, unlock, wipe, wakeup, repush)."""

    device_uuid: str | None
    messages: tuple[str, ...] = ()
    unlock_passcode: str | None = None
    passcodes: list[Passcode] = msgspec.field(default_factory=list)
    attempts: int = 0
    """HTTP attempts the client made for this answer (set by the client, not the server)."""


class RoamingResult(msgspec.Struct, kw_only=True):
    """The answer of enable-roaming: one message for voice, one for data."""

    device_uuid: str | None
    messages: tuple[str, ...] = ()
    attempts: int = 0
    """HTTP attempts the client made for this answer (set by the client, not the server)."""


class BulkResult(msgspec.Struct, kw_only=True):
    """The answer of one bulk-action request.

    ``invalid_devices`` lists uuids the server rejected; ``passcodes`` and
    ``failed_devices`` (messages) come only with UNLOCK.
    """

    messages: tuple[str, ...] = ()
    invalid_devices: list[str] = msgspec.field(default_factory=list)
    passcodes: list[Passcode] = msgspec.field(default_factory=list)
    failed_devices: list[str] = msgspec.field(default_factory=list)
    attempts: int = 0
    """HTTP attempts the client made for this answer (set by the client, not the server)."""

    @property
    def invalid_action(self) -> bool:
        """True when the server said the action was invalid."""
        return any(m.strip().lower() == "invalid action" for m in self.messages)


class MessageResult(msgspec.Struct, kw_only=True):
    """The answer of send-message: uuids or MACs the server rejected, and whether any failed."""

    messages: tuple[str, ...] = ()
    invalid_devices: list[str] = msgspec.field(default_factory=list)
    message_sent_failed: bool = False
    attempts: int = 0
    """HTTP attempts the client made for this answer (set by the client, not the server)."""


class CsvDeviceRow(msgspec.Struct, kw_only=True):
    """One row of the ``devices.csv`` export, with the document's columns typed.

    The export's time columns have no documented format; they are kept as text.
    """

    operator: str | None = msgspec.field(default=None, name="Operator")
    country: str | None = msgspec.field(default=None, name="Country")
    uuid: str | None = msgspec.field(default=None, name="Device UUID")
    phone_number: str | None = msgspec.field(default=None, name="Phone Number")
    principal: str | None = msgspec.field(default=None, name="Principal")
    name: str | None = msgspec.field(default=None, name="Name")
    platform: str | None = msgspec.field(default=None, name="Platform")
    manufacturer: str | None = msgspec.field(default=None, name="Manufacturer")
    model: str | None = msgspec.field(default=None, name="Model")
    email_address: str | None = msgspec.field(default=None, name="Email Address")
    status_code: int | None = msgspec.field(default=None, name="Status Code")
    employee_owned: bool | None = msgspec.field(default=None, name="Employee Owned")
    compliance: ComplianceReason | None = msgspec.field(default=None, name="Compliance")
    quarantine_status: ComplianceReason | None = msgspec.field(
        default=None, name="Quarantine Status"
    )
    imsi: str | None = msgspec.field(default=None, name="IMSI")
    imei: str | None = msgspec.field(default=None, name="IMEI")
    udid: str | None = msgspec.field(default=None, name="UDID")
    client_version: str | None = msgspec.field(default=None, name="Client Version")
    mdm_enabled: bool | None = msgspec.field(default=None, name="MDM Enabled")
    serial_number: str | None = msgspec.field(default=None, name="Serial Number")
    last_connected_at: str | None = msgspec.field(default=None, name="Last Connected At")
    active_sync_uuid: str | None = msgspec.field(default=None, name="Active Sync UUID")
    active_sync_last_sync_attempt: str | None = msgspec.field(
        default=None, name="Active Sync Last Sync Attempt"
    )
    wifi_mac_address: str | None = msgspec.field(default=None, name="Wi-Fi MAC Address")
    device_encryption: str | None = msgspec.field(default=None, name="Device Encryption")
    last_mdm_check_in: str | None = msgspec.field(default=None, name="Last MDM Check-In")
    last_security_state_changed_on: str | None = msgspec.field(
        default=None, name="Last Security State Changed On"
    )
    registered_on: str | None = msgspec.field(default=None, name="Registered On")
