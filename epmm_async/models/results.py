"""What the client's methods return: pages and answers built from the records, CSV rows."""

from __future__ import annotations

import datetime as _dt

import msgspec

from ..enums import ComplianceReason
from .records import Device, Location, Passcode

__all__ = [
    "ActionResult",
    "BulkResult",
    "CsvDeviceRow",
    "DevicePage",
    "LocateResult",
    "MessageResult",
    "Registration",
    "RoamingResult",
]


class DevicePage(msgspec.Struct, kw_only=True):
    """One page of a device list: the devices, the server's ``totalCount`` and messages."""

    devices: list[Device]
    total_count: int | None = None
    messages: tuple[str, ...] = ()


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
