"""Typed results of API v2 (msgspec structs, and the device-search record). No I/O.

How they are read from the server's JSON, tolerantly: :mod:`epmm_async.v2.decode`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Generic, TypeAlias, TypeVar

import msgspec

from ..errors import DecodeError

__all__ = [
    "CreatedLabel",
    "DeviceLabel",
    "DeviceRecord",
    "DeviceSpace",
    "JsonValue",
    "LabelSummary",
    "MembershipRecord",
    "MembershipResult",
    "Page",
    "Ping",
    "SearchField",
]

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A value of a search result's field, as JSON gave it."""

R = TypeVar("R")


def _text(value: object) -> str | None:
    """A scalar as text; a JSON object or array as its JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return msgspec.json.encode(value).decode()


# -- public models ------------------------------------------------------------------------


class Ping(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What ``/api/v2/ping`` says about the server."""

    api_version: float | None = None
    vsp_version: str | None = None


class DeviceSpace(msgspec.Struct, frozen=True, kw_only=True):
    """A device space of the account (``adminDeviceSpaceId``: the global space is 1)."""

    id: int
    name: str | None = None


class SearchField(msgspec.Struct, frozen=True, kw_only=True):
    """A field the device search can ask for and query on (a dotted name)."""

    name: str


class Page(msgspec.Struct, Generic[R], frozen=True, kw_only=True):
    """One page of a v2 list: its records and the server's paging signals."""

    results: tuple[R, ...] = ()
    total_count: int | None = None
    """``totalCount``: records in the whole listing, if said."""
    result_count: int | None = None
    """``resultCount``: records on this page, as the server counts them."""
    has_more: bool | None = None
    """``hasMore``: whether pages follow, if said."""


class LabelSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A label as ``label_summary`` lists it."""

    id: int
    name: str
    description: str | None = None
    is_static: bool | None = None
    """Static labels take manual membership; dynamic ones follow their criteria."""
    criteria: str | None = None
    """A dynamic label's criteria (as text; JSON text if the server sent a structure)."""
    device_count: int | None = None
    device_space_id: int | None = None
    device_space_name: str | None = None
    row_type: str | None = None
    """``ADMIN`` or ``SYSTEM``."""


class DeviceLabel(msgspec.Struct, frozen=True, kw_only=True):
    """A label a device belongs to. ``id`` is text (servers send it as a number or as text):
    compare with ``str(summary.id)``."""

    id: str
    name: str
    static: bool | None = None


class CreatedLabel(msgspec.Struct, frozen=True, kw_only=True):
    """The label a create made."""

    id: int
    name: str | None = None
    static: bool | None = None


class MembershipRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a membership answer: a label, a device, and what happened to it."""

    label: str | None = None
    device: str | None = None
    message: str | None = None
    failure_code: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the line reports a failure (it carries a failure code)."""
        return self.failure_code is not None


class MembershipResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to adding devices to labels or removing them.

    ``successful`` is the server's top-level flag; an answer without it is read as successful
    when no line carries a failure code (an empty 2xx body: successful, no lines).
    """

    successful: bool
    records: tuple[MembershipRecord, ...] = ()

    @property
    def failures(self) -> tuple[MembershipRecord, ...]:
        """The lines that report a failure."""
        return tuple(r for r in self.records if r.failed)


class DeviceRecord(Mapping[str, JsonValue]):
    """One device-search result: a read-only mapping of the dotted field names asked for
    (``"common.uuid"``, ``"ios.iPhone UDID"``...) to their values, with typed accessors.

    A field the device lacks may be absent (``record.get(name)`` is then None). The typed
    accessors read tolerantly (``"true"`` is True, ``"12"`` is 12) and raise
    :class:`~epmm_async.errors.DecodeError` for a value they cannot read.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, JsonValue]) -> None:
        """Keep a copy of ``fields``, which must hold ``common.uuid`` as text."""
        uuid = fields.get("common.uuid")
        if not isinstance(uuid, str) or not uuid.strip():
            raise DecodeError("a device-search result has no common.uuid")
        self._fields: dict[str, JsonValue] = dict(fields)

    def __getitem__(self, name: str) -> JsonValue:
        """The value of field ``name``."""
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        """The field names, in the server's order."""
        return iter(self._fields)

    def __len__(self) -> int:
        """How many fields the record holds."""
        return len(self._fields)

    def __repr__(self) -> str:
        """``DeviceRecord({...})``."""
        return f"DeviceRecord({self._fields!r})"

    def _bad(self, name: str, kind: str) -> DecodeError:
        return DecodeError(f"field {name!r} of device {self.uuid} is not {kind}: "
                           f"{self._fields.get(name)!r}")

    def text(self, name: str) -> str | None:
        """Field ``name`` as text (numbers and booleans converted), None if absent."""
        value = self._fields.get(name)
        if isinstance(value, list | dict):
            raise self._bad(name, "text")
        return _text(value)

    def flag(self, name: str) -> bool | None:
        """Field ``name`` as a boolean (``true``/``false``, also as text), None if absent."""
        value = self._fields.get(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", ""):
            return {"true": True, "false": False}.get(value.strip().lower())
        raise self._bad(name, "a boolean")

    def integer(self, name: str) -> int | None:
        """Field ``name`` as an integer (also as text), None if absent."""
        value = self._fields.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
            return int(value.strip())
        raise self._bad(name, "an integer")

    def timestamp(self, name: str) -> datetime | None:
        """Field ``name`` as an aware datetime in UTC: ISO text (``2020-11-09T07:38:22.000Z``;
        UTC when it names no zone) or milliseconds since the epoch. None if absent."""
        value = self._fields.get(name)
        if value is None or value == "":
            return None
        try:
            if isinstance(value, str) and not value.strip().isdecimal():
                parsed = datetime.fromisoformat(value.strip())
                if parsed.tzinfo is None:
                    return parsed.replace(tzinfo=UTC)
                return parsed.astimezone(UTC)
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValueError(value)
            millis = float(value)
            if not math.isfinite(millis):
                raise ValueError(value)
            return datetime.fromtimestamp(millis / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            raise self._bad(name, "a timestamp") from None

    @property
    def uuid(self) -> str:
        """``common.uuid``, as the server wrote it."""
        value = self._fields["common.uuid"]
        assert isinstance(value, str)
        return value

    @property
    def id(self) -> int | None:
        """``common.id``: the server's number for the device."""
        return self.integer("common.id")

    @property
    def status(self) -> str | None:
        """``common.status`` (``ACTIVE``, ``RETIRED``...)."""
        return self.text("common.status")

    @property
    def platform(self) -> str | None:
        """``common.platform``."""
        return self.text("common.platform")

    @property
    def compliant(self) -> bool | None:
        """``common.compliant``."""
        return self.flag("common.compliant")

    @property
    def quarantined(self) -> bool | None:
        """``common.quarantined``."""
        return self.flag("common.quarantined")

    @property
    def last_connected_at(self) -> datetime | None:
        """``common.last_connected_at``, an aware datetime."""
        return self.timestamp("common.last_connected_at")

    @property
    def os_version(self) -> str | None:
        """``common.os_version``."""
        return self.text("common.os_version")

    @property
    def user_id(self) -> str | None:
        """``user.user_id``."""
        return self.text("user.user_id")

    @property
    def email(self) -> str | None:
        """``user.email_address``."""
        return self.text("user.email_address")
