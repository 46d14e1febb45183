"""The API v2 device fields: each dotted name, its type and how a :class:`SimDevice` gives
it, from the same data the V1 API serves, so v1 and v2 agree about every device."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from epmm_async.enums import ComplianceReason, DeviceStatus

from ..fleet import SimDevice

__all__ = ["FIELDS", "Field", "FieldKind", "Value", "platform_name", "v2_time"]

FieldKind = Literal["string", "number", "boolean", "timestamp", "array"]
Value = str | int | float | bool | list[str]
"""A field's value as the simulator holds it (a timestamp: epoch seconds)."""


def v2_time(ts: float) -> str:
    """A timestamp as v2 writes it: ``2020-11-09T07:38:22.000Z``."""
    ms = round((ts - int(ts)) * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(ts))) + f".{ms:03d}Z"


_PLATFORMS = {"android": "Android", "ios": "iOS", "windows": "Windows", "macos": "macOS"}


def platform_name(d: SimDevice) -> str:
    """``common.platform``: the platform without its version (``Android``, ``iOS``)."""
    return _PLATFORMS.get(d.kind, d.platform.split(" ", 1)[0])


@dataclass(frozen=True, slots=True)
class Field:
    """One v2 device field: ``get`` gives its value, or None when the device lacks it."""

    name: str
    kind: FieldKind
    get: Callable[[SimDevice], Value | None]

    def json(self, value: Value) -> object:
        """``value`` as the answer carries it (timestamps as text)."""
        if self.kind == "timestamp" and isinstance(value, int | float):
            return v2_time(value)
        return value


def _text(value: str | None) -> str | None:
    """An empty text is a field the device lacks."""
    return value or None


def _os_version(d: SimDevice) -> str | None:
    return _text(d.platform.partition(" ")[2])


def _mac(d: SimDevice) -> str:
    mac = d.wifi_mac.lower()
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2))


def _ip(d: SimDevice) -> str | None:
    if d.details_empty:
        return None
    return f"10.{(d.id >> 16) & 255}.{(d.id >> 8) & 255}.{d.id & 255}"


def _reasons(d: SimDevice) -> list[str]:
    return [str(r.name) for r in ComplianceReason(d.compliance).reasons]


def _detail(key: str, kind: str | None = None) -> Callable[[SimDevice], Value | None]:
    def get(d: SimDevice) -> Value | None:
        if kind is not None and d.kind != kind:
            return None
        return _text(d.details.get(key))

    return get


_TABLE: tuple[Field, ...] = (
    Field("common.uuid", "string", lambda d: d.uuid),
    Field("common.id", "number", lambda d: d.id),
    Field("common.status", "string", lambda d: d.status.value),
    Field("common.retired", "boolean", lambda d: d.status == DeviceStatus.RETIRED),
    Field("common.platform", "string", platform_name),
    Field("common.os_version", "string", _os_version),
    Field("common.manufacturer", "string", lambda d: _text(d.manufacturer)),
    Field("common.model", "string", lambda d: _text(d.model)),
    Field("common.compliant", "boolean", lambda d: d.compliance == 0),
    Field("common.quarantined", "boolean", lambda d: d.quarantined != 0),
    Field("common.noncompliance_reasons", "array", _reasons),
    Field("common.mdm_managed", "boolean", lambda d: d.mdm_managed),
    Field("common.employee_owned", "boolean", lambda d: d.employee_owned),
    Field("common.last_connected_at", "timestamp", lambda d: d.last_connected_at),
    Field("common.registration_date", "timestamp", lambda d: d.registered_at),
    Field("common.imei", "string", _detail("imei")),
    Field("common.wifi_mac_address", "string", _mac),
    Field("common.ip_address", "string", _ip),
    Field("common.phone_number", "string", lambda d: d.phone_number),
    Field("ios.iPhone UDID", "string", _detail("iPhone UDID", "ios")),
    Field("user.user_id", "string", lambda d: d.user.principal),
    Field("user.email_address", "string", lambda d: d.user.email),
    Field("user.display_name", "string", lambda d: f"{d.user.first} {d.user.last}"),
    Field("user.first_name", "string", lambda d: d.user.first),
    Field("user.last_name", "string", lambda d: d.user.last),
)

FIELDS: dict[str, Field] = {f.name: f for f in _TABLE}
"""Every v2 device field by its dotted name (names are matched exactly), in
``search_fields`` order."""
