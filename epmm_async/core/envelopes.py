"""The envelope: the root element's children, one generic struct for every answer.

Jettison maps a repeated XML element to a JSON list, but a list of one to the element itself
and an empty list to ``""`` or nothing: ``<devices><device/>..</devices>`` arrives as
``{"devices": {"device": [..]}}``, ``{"devices": {"device": {..}}}`` or ``{"devices": ""}``.
So every list reads ``list[R] | R``. That shape is written once (:class:`Listing`), the
fields every answer shares once (:class:`Envelope`), and which elements repeat once
(:data:`REPEATED`); :func:`wire_type` joins them into the struct msgspec decodes, once per
answer type. Answers with fields of their own subclass :class:`Envelope`.
"""

from __future__ import annotations

import typing
from typing import Any, Generic, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from ..models import Country, Device, Label, Location, Operator, Passcode, Profile, WireText
from .decode_routes import ROOT_ELEMENT

__all__ = [
    "REPEATED",
    "ActionAnswer",
    "BulkAnswer",
    "DeviceAnswer",
    "Envelope",
    "Listing",
    "LocateAnswer",
    "RegistrationAnswer",
    "RegistrationBody",
    "records",
    "wire_type",
]

R = TypeVar("R", bound=msgspec.Struct)
E = TypeVar("E", bound="Envelope[Any]")

REPEATED: dict[type[msgspec.Struct], tuple[str, str]] = {
    Device: ("devices", "device"),
    Label: ("labels", "label"),
    Operator: ("operators", "operator"),
    Country: ("countries", "country"),
    Profile: ("profiles", "profile"),
    Location: ("locations", "location"),
    Passcode: ("passcodes", "passcode"),
}
"""Which elements repeat: for each record, its list element and the child repeated in it."""


class Listing(msgspec.Struct, Generic[R]):
    """A list element: its one child, repeated or sent once as itself.

    On the wire, ``items`` is named after the child (:data:`REPEATED`, :func:`wire_type`).
    """

    items: list[R] | R | None = None


class Envelope(msgspec.Struct, Generic[R], rename="camel"):
    """The root element's children, for an answer carrying a list of ``R`` records.

    Fields that say whether the body is the API's at all default to UNSET, so "absent" and
    "empty" stay apart. On the wire, ``listed`` is named after ``R``'s list element, and
    ``wrapped`` (the root element some JSON servers add) holds this same type: both are set
    per answer type by :func:`wire_type`.
    """

    listed: Listing[R] | UnsetType | None = UNSET
    messages: Any = UNSET
    total_count: Any = UNSET
    results: Any = UNSET  # an API v2 page: refused
    wrapped: Envelope[R] | None = msgspec.field(default=None, name=ROOT_ELEMENT)


class DeviceAnswer(Envelope[Device]):
    """A device list, details or search answer: the list, or (a MAC look-up) one device."""

    device: Device | UnsetType | None = UNSET
    total_count: int | UnsetType | None = UNSET
    phone_number: WireText | None = None


class ActionAnswer(Envelope[Passcode]):
    """The answer of a per-device action; unlock's carries passcodes."""

    device_uuid: WireText | None = None
    unlock_passcode: WireText | None = msgspec.field(default=None, name="unlockpasscode")


class LocateAnswer(Envelope[Location]):
    """The answer of locate: the device's fixes."""

    device_uuid: WireText | None = None
    locate_now: bool | None = None


class BulkAnswer(Envelope[Passcode]):
    """The answer of a bulk action or of send-message.

    A bulk success with nothing to report may omit every field (the field notes: an empty
    element arrives empty or missing), so ``{}`` is a possible answer and is accepted.
    """

    invalid_devices: Any = UNSET
    failed_devices: Any = UNSET
    message_sent_failed: Any = UNSET


class RegistrationBody(msgspec.Struct, rename="camel"):
    """The ``registration`` element of the answer of register."""

    messages: Any = None
    device_uuid: WireText | None = None
    status: WireText | None = None
    passcode: WireText | None = None
    passcode_ttl: int | None = msgspec.field(default=None, name="passcodeTTL")
    registration_url: WireText | None = None


class RegistrationAnswer(msgspec.Struct, rename="camel"):
    """The answer of register, the one answer without a list: decoded as it is."""

    phone_number: WireText | None = None
    registration: RegistrationBody | None = None
    messages: Any = None
    wrapped: RegistrationAnswer | None = msgspec.field(default=None, name=ROOT_ELEMENT)


def _named(base: type, name: str, *fields: tuple[str, object, str, object]) -> type[Any]:
    """A subclass of ``base`` whose ``fields`` (attribute, type, wire name, default) are set."""
    built: type[Any] = msgspec.defstruct(
        name,
        [(attr, tp, msgspec.field(default=default, name=wire)) for attr, tp, wire, default
         in fields],
        bases=(base,),
        module=__name__,
    )
    return built


# One list element struct per record: ``items`` named after the child that repeats.
_LISTINGS = {
    record: _named(
        Listing,
        f"{record.__name__}List",
        ("items", list[record] | record | None, child, None),  # type: ignore[valid-type]
    )
    for record, (_, child) in REPEATED.items()
}
_WIRE: dict[object, type[Any]] = {}


def wire_type(answer: type[E]) -> type[E]:
    """The struct msgspec decodes ``answer`` as (``Envelope[Label]``, ``DeviceAnswer``...).

    Built on first use and kept: ``answer`` with ``listed`` named after its record's list
    element and ``wrapped`` holding the built type itself.
    """
    found = _WIRE.get(answer)
    if found is None:
        if typing.get_origin(answer) is Envelope:  # Envelope[R] itself
            base, record = Envelope, typing.get_args(answer)[0]
        else:  # an answer with fields of its own: class XAnswer(Envelope[R])
            base, record = answer, typing.get_args(answer.__orig_bases__[0])[0]  # type: ignore[attr-defined]
        found = _WIRE[answer] = _named(
            base,
            f"{base.__name__}[{record.__name__}]",
            ("listed", _LISTINGS[record] | UnsetType | None, REPEATED[record][0], UNSET),
            ("wrapped", object, ROOT_ELEMENT, None),
        )
        # A class cannot name itself before it exists; msgspec reads annotations on first use.
        found.__annotations__["wrapped"] = found | None
    return found


def records(listed: Listing[R] | UnsetType | None) -> list[R]:
    """The records of a list element: none when it is absent or empty."""
    if not isinstance(listed, Listing) or listed.items is None:
        return []
    items = listed.items
    return items if isinstance(items, list) else [items]
