"""One device of the fleet (:class:`SimDevice`) and the details map it reports.

Per-device state is kept compact (``__slots__``); the heavy ``details`` map is regenerated on
demand from the device's own seed instead of being stored.
"""

from __future__ import annotations

import random
import time

from epmm_async.enums import ComplianceReason, DeviceStatus

from .records import Fix, PendingFix, SimCountry, SimOperator, SimUser
from .reference import ANDROID_VERSIONS, IOS_VERSIONS

__all__ = ["SimDevice"]


class SimDevice:
    """One device of the fleet; the simulator's ground truth for it."""

    __slots__ = (
        "block_reason",
        "client_id",
        "comment",
        "compliance",
        "country",
        "detail_overrides",
        "details_empty",
        "eas_uuid",
        "employee_owned",
        "extras",
        "fix",
        "has_passcode",
        "id",
        "kind",
        "labels",
        "last_connected_at",
        "locked",
        "manufacturer",
        "mdm_managed",
        "model",
        "online",
        "operator",
        "pending_fix",
        "phone_number",
        "platform",
        "quarantined",
        "registered_at",
        "seed",
        "status",
        "user",
        "uuid",
        "wifi_mac",
    )

    def __init__(
        self,
        *,
        id: int,
        uuid: str,
        kind: str,
        platform: str,
        status: DeviceStatus,
        phone_number: str | None,
        wifi_mac: str,
        user: SimUser,
        country: SimCountry,
        operator: SimOperator | None,
        manufacturer: str,
        model: str,
        seed: int,
        registered_at: int,
        last_connected_at: int,
    ) -> None:
        self.id = id
        self.uuid = uuid
        self.kind = kind
        self.platform = platform
        self.status = status
        self.phone_number = phone_number
        self.wifi_mac = wifi_mac
        self.user = user
        self.country = country
        self.operator = operator
        self.manufacturer = manufacturer
        self.model = model
        self.seed = seed
        self.registered_at = registered_at
        self.last_connected_at = last_connected_at
        self.labels: tuple[int, ...] = ()
        self.compliance = 0
        self.quarantined = 0
        self.block_reason = 0
        self.employee_owned = False
        self.mdm_managed = kind == "ios"
        self.has_passcode = True
        self.online = True
        self.locked = False
        self.client_id = 1_073_741_824 + id
        self.comment: str | None = None
        self.eas_uuid: str | None = None
        self.extras: dict[str, str | int | bool] | None = None
        self.detail_overrides: dict[str, str] | None = None
        self.details_empty = status == DeviceStatus.VERIFICATION_PENDING
        self.fix: Fix | None = None
        self.pending_fix: PendingFix | None = None

    def __repr__(self) -> str:
        return f"SimDevice({self.uuid!r}, {self.kind}, {self.status.value})"

    @property
    def status_code(self) -> int:
        """The numeric ``statusCode`` of the current status."""
        return self.status.code or 0

    @property
    def principal(self) -> str:
        """The owning user's login name."""
        return self.user.principal

    @property
    def is_pda(self) -> bool:
        """A device without a phone number."""
        return self.phone_number is None

    @property
    def name(self) -> str:
        """The ``principal:Platform:phone`` name the server shows."""
        return f"{self.user.principal}:{self.platform}:{self.phone_number or f'PDA {self.id}'}"

    @property
    def compliance_flags(self) -> ComplianceReason:
        """``compliance`` as a :class:`ComplianceReason` bitmap."""
        return ComplianceReason(self.compliance)

    def current_fix(self) -> Fix | None:
        """The newest fix, promoting a due locate-now fix (capturedAt = when it appeared)."""
        pending = self.pending_fix
        if pending is not None:
            now = time.monotonic()
            if now >= pending.due:
                appeared = time.time() - (now - pending.due)
                pending.fix.captured_at_ms = int(appeared * 1000)
                self.fix = pending.fix
                self.pending_fix = None
        return self.fix

    @property
    def details(self) -> dict[str, str]:
        """The device's details key/value map (empty while registration is pending)."""
        if self.details_empty:
            return {}
        out = _details(self)
        if self.detail_overrides:
            out.update(self.detail_overrides)
        return out


# --------------------------------------------------------------------------------------------
# Details


def _details(d: SimDevice) -> dict[str, str]:
    rng = random.Random(d.seed)
    fix = d.current_fix()
    mac = d.wifi_mac
    op = d.operator
    if d.kind == "android":
        return _android(d, rng, fix, mac, op)
    if d.kind == "ios":
        return _ios(d, rng, fix, mac, op)
    return _desktop(d, rng, mac)


def _fix_entries(out: dict[str, str], fix: Fix | None) -> None:
    if fix is not None:
        out["latitude"] = f"{fix.latitude}"
        out["longitude"] = f"{fix.longitude}"
        out["lat_long_last_captured_at"] = str(fix.captured_at_ms)


def _android(
    d: SimDevice, rng: random.Random, fix: Fix | None, mac: str, op: SimOperator | None
) -> dict[str, str]:
    version = d.platform.split(" ", 1)[1]
    sdk = dict(ANDROID_VERSIONS).get(version, "34")
    imei = f"35{rng.randrange(10**12, 10**13)}"
    ram = rng.choice((4, 6, 8, 12)) * 1024**3
    storage = rng.choice((64, 128, 256)) * 1024**3
    free = rng.randrange(storage // 10, storage // 2)
    out = {
        "admin_activated": "true",
        "battery_life": str(rng.randrange(5, 101)),
        "board": d.model.lower().replace(" ", ""),
        "brand": d.manufacturer.split()[0].lower(),
        "client_name": "com.mobileiron",
        "client_version": f"12.{rng.randrange(0, 4)}.{rng.randrange(0, 10)}",
        "codename": "REL",
        "country_code": d.country.mcc,
        "device_id": f"{rng.getrandbits(64):016x}",
        "device_manufacturer": d.manufacturer,
        "device_model": d.model,
        "device_roaming_flag": "off",
        "device_type": "GSM",
        "display_size": rng.choice(("2400X1080", "2340X1080", "1920X1200")),
        "free_ram_size": f"{ram / 3 / 1024**2:.2f}M",
        "free_ram_size_bytes": str(ram // 3),
        "free_storage_size": f"{free / 1024**2:.2f}M",
        "free_storage_size_bytes": str(free),
        "imei": imei,
        "incremental": str(rng.randrange(100000, 999999)),
        "locale": d.country.locale,
        "mdm_enabled": "true",
        "os_version": sdk,
        "platform_name": version,
        "processor_architecture": "arm64-v8a",
        "prv_camera": "ON",
        "prv_device_encryption": "on",
        "prv_password_type": "2" if d.has_passcode else "-1",
        "regUuid": f"{rng.getrandbits(64):016x}",
        "security_state": "Compromised" if d.compliance & 1 or rng.random() < 0.02 else "Ok",
        "total_ram_size": f"{ram / 1024**2:.2f}M",
        "total_ram_size_bytes": str(ram),
        "total_storage_size": f"{storage / 1024**2:.2f}M",
        "total_storage_size_bytes": str(storage),
        "usb_debugging": "OFF",
        "wifi_mac_addr": mac.lower(),
    }
    if op is not None and d.phone_number:
        imsi = f"{d.country.mcc}{op.mnc}{rng.randrange(10**8, 10**9)}"
        out["current_mobile_number"] = d.phone_number
        out["current_operator_name"] = op.short_name
        out["home_operator"] = f"{op.short_name}::{d.country.mcc}{op.mnc}"
        out["imsi"] = imsi
        out["registration_operator_name"] = op.short_name
    _fix_entries(out, fix)
    return out


def _ios(
    d: SimDevice, rng: random.Random, fix: Fix | None, mac: str, op: SimOperator | None
) -> dict[str, str]:
    version = d.platform.split(" ", 1)[1]
    build = dict(IOS_VERSIONS).get(version, "21E236")
    capacity = rng.choice((64, 128, 256, 512)) * 0.93
    imei = f"35 {rng.randrange(100000, 999999)} {rng.randrange(100000, 999999)} {rng.randrange(10)}"
    is_ipad = d.model.startswith("iPad")
    out = {
        "AvailableDeviceCapacity": repr(capacity * rng.uniform(0.2, 0.9)),
        "Battery Level": repr(rng.randrange(5, 100) / 100),
        "BluetoothMAC": f"{(int(mac, 16) + 1) & 0xFFFFFFFFFFFF:012X}",
        "BuildVersion": build,
        "CellularTechnology": "GSM",
        "Client_version": f"12.{rng.randrange(0, 4)}.{rng.randrange(0, 10)}",
        "client_name": "com.mobileiron.phoneatwork",
        "Current MCC": d.country.mcc,
        "Current MNC": op.mnc if op else "",
        "DataRoamingEnabled": "false",
        "DeviceCapacity": repr(capacity),
        "DeviceCompromised": "false",
        "DeviceName": f"{d.user.first}'s {'iPad' if is_ipad else 'iPhone'}",
        "device_manufacturer": "Apple",
        "device_model": "iPad" if is_ipad else "iPhone",
        "imei": imei.replace(" ", ""),
        "iPhone IMEI": imei,
        "iPhone MAC_ADDRESS_EN0": ":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower(),
        "iPhone PRODUCT": d.model,
        "iPhone UDID": f"{rng.getrandbits(160):040x}",
        "iPhone VERSION": build,
        "ModelName": "iPad" if is_ipad else "iPhone",
        "os_version": f"iPhone OS {version} ({build})",
        "OSVersion": version,
        "PasscodeIsCompliant": "true",
        "PasscodePresent": "true" if d.has_passcode else "false",
        "platform_name": "iPhone",
        "platform_type": "iPad" if is_ipad else "iPhone",
        "processor_architecture": "ARM",
        "ProductName": d.model,
        "security_state": "0" if d.compliance & 1 else "1",
        "SerialNumber": f"{rng.getrandbits(48):012X}"[:11],
        "Voice Roaming Enabled": "true",
        "WiFiMAC": mac,
    }
    if op is not None and d.phone_number:
        phone = d.phone_number
        out["mobile_number"] = phone if phone.startswith(("+", "0")) else f"+{phone}"
        out["SIM MCC"] = d.country.mcc
        out["SIM MNC"] = op.mnc
        out["Subscriber Carrier Network"] = op.short_name
    _fix_entries(out, fix)
    return out


def _desktop(d: SimDevice, rng: random.Random, mac: str) -> dict[str, str]:
    storage = rng.choice((256, 512, 1024)) * 1024**3
    return {
        "device_manufacturer": d.manufacturer,
        "device_model": d.model,
        "platform_name": d.platform,
        "client_version": f"{rng.randrange(10, 12)}.{rng.randrange(0, 9)}.0",
        "os_version": d.platform.split(" ", 1)[1],
        "SerialNumber": f"{rng.getrandbits(48):012X}",
        "wifi_mac_addr": mac.lower(),
        "total_storage_size_bytes": str(storage),
        "free_storage_size_bytes": str(rng.randrange(storage // 10, storage // 2)),
        "battery_life": str(rng.randrange(5, 101)),
        "processor_architecture": "x64" if d.kind == "windows" else "arm64",
        "locale": d.country.locale,
        "security_state": "Ok",
        "device_encryption": "on" if rng.random() < 0.9 else "off",
    }
