"""Typed results of the EPMM V1 Device Management API (msgspec structs).

Attributes are snake_case; the wire names (camelCase, ``@id`` attributes, the odd
``userUUID``) are mapped per field. Structs ignore fields they do not know, so the extra
fields real servers add never break decoding. Decoding lives in :mod:`epmm_async.core`.

The package splits along its ideas: :mod:`.wire` (the types msgspec reads, and how a record
settles them into the public ones), :mod:`.details` (a device's lazy ``details`` mapping),
:mod:`.records` (what the server sends) and :mod:`.results` (what the client returns). Every
name is re-exported here: import from ``epmm_async.models``.
"""

from .details import DeviceDetails
from .records import Country, Device, Label, Location, Operator, Passcode, Profile
from .results import (
    ActionResult,
    BulkResult,
    CsvDeviceRow,
    DevicePage,
    LocateResult,
    MessageResult,
    Registration,
    RoamingResult,
)
from .wire import WireBits, WireDetails, WireFlag, WireStamp, WireText

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
    "WireDetails",
    "WireFlag",
    "WireStamp",
    "WireText",
]
