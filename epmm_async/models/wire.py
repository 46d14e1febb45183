"""Wire types, and how a record settles them into its public types.

A field annotated :data:`WireText` is ``str`` to a type checker and to every caller, but
msgspec reads it as ``str | int | float | bool``: real servers (Jettison) send text that looks
numeric as a bare number, and decoding straight into the struct keeps 20,000-device lists on
msgspec's fast path. Each record's ``__post_init__`` (which msgspec runs for every struct it
decodes or converts, and Python for every struct built by hand) settles such values into the
public type before anyone sees the struct: a number becomes the text the server meant
(:func:`~epmm_async.core.scalars.scalar_text`), ``""`` becomes None, epoch numbers and
offset-less times become aware UTC datetimes (:data:`WireStamp`), ASCII-coded booleans become
``bool`` (:data:`WireFlag`) and the raw JSON of ``details`` becomes a lazy
:class:`~epmm_async.models.details.DeviceDetails`.
"""

from __future__ import annotations

import datetime as _dt
import operator
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import msgspec

from ..core.scalars import scalar_text
from ..enums import ComplianceReason
from .details import DeviceDetails

__all__ = ["WireBits", "WireDetails", "WireFlag", "WireStamp", "WireText"]


if TYPE_CHECKING:
    WireBits: TypeAlias = ComplianceReason
    WireDetails: TypeAlias = DeviceDetails
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
