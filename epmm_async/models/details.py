"""The key/value ``details`` of a device: a lazy read-only mapping over their raw JSON."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping

import msgspec

from ..core.scalars import scalar_text

__all__ = ["DeviceDetails"]


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
