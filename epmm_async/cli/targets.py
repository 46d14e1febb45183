"""Which devices a command is about: --uuid, --mac, --from-file, or a selection."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..client import EpmmClient
from ..enums import DeviceStatus
from ..errors import ValidationError
from ..models import Device
from ..validation import MacAddress, validate_uuid
from .common import EXIT_USAGE, CliError

__all__ = [
    "DeviceFilter",
    "Target",
    "TargetSpec",
    "check_given",
    "parse_target",
    "read_targets_file",
    "resolve_targets",
    "select_devices",
]

Target = str | MacAddress
"""A device to act on: a lower-case uuid string or a :class:`MacAddress`."""

_UUID_COLUMNS = ("uuid", "device uuid", "device_uuid", "deviceuuid")
_MAC_COLUMNS = ("mac", "wifi_mac", "wi-fi mac address", "wifi mac address", "mac address")


def parse_target(value: str) -> Target:
    """A uuid (8-4-4-4-12 hex) or a Wi-Fi MAC (any common notation); raises ValidationError."""
    text = value.strip()
    if text.count("-") == 4 and len(text) == 36:
        return validate_uuid(text)
    try:
        return MacAddress(text)
    except ValidationError:
        raise ValidationError(
            f"malformed device {value!r}: expected a uuid (8-4-4-4-12 hex) or a Wi-Fi MAC"
        ) from None


def read_targets_file(path: Path) -> list[Target]:
    """Devices listed in a file: one uuid or MAC per line, or a CSV with a ``uuid`` column.

    Blank lines and lines starting with ``#`` are ignored. A malformed entry is a usage
    error that names the file and the line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    lines = text.splitlines()
    numbered = [
        (n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip()
        .startswith("#")
    ]
    if not numbered:
        return []
    first = numbered[0][1]
    if "," in first or "\t" in first:
        return _read_csv(path, numbered)
    targets: list[Target] = []
    for lineno, line in numbered:
        try:
            targets.append(parse_target(line))
        except ValidationError as exc:
            raise CliError(f"{path}, line {lineno}: {exc}", EXIT_USAGE) from None
    return targets


def _read_csv(path: Path, numbered: list[tuple[int, str]]) -> list[Target]:
    delimiter = "\t" if "\t" in numbered[0][1] else ","
    header = [h.strip().lower() for h in next(csv.reader([numbered[0][1]], delimiter=delimiter))]
    column = next((header.index(c) for c in _UUID_COLUMNS if c in header), None)
    mac_column = next((header.index(c) for c in _MAC_COLUMNS if c in header), None)
    if column is None and mac_column is None:
        raise CliError(
            f"{path}, line {numbered[0][0]}: a CSV needs a 'uuid' (or 'mac') column; "
            f"found {', '.join(header)}",
            EXIT_USAGE,
        )
    targets: list[Target] = []
    for lineno, line in numbered[1:]:
        row = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
        value = ""
        if column is not None and column < len(row):
            value = row[column].strip()
        if not value and mac_column is not None and mac_column < len(row):
            value = row[mac_column].strip()
        if not value:
            raise CliError(f"{path}, line {lineno}: no uuid in this row", EXIT_USAGE)
        try:
            targets.append(parse_target(value))
        except ValidationError as exc:
            raise CliError(f"{path}, line {lineno}: {exc}", EXIT_USAGE) from None
    return targets


@dataclass(slots=True)
class DeviceFilter:
    """A selection of devices by status, label, user, phone number or MAC (all must match)."""

    status: str | None = None
    label: str | None = None
    user: str | None = None
    phone: str | None = None
    mac: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None:
            try:
                self.status = DeviceStatus.parse(self.status).value
            except ValidationError as exc:
                raise CliError(str(exc), EXIT_USAGE) from None
        if self.mac is not None:
            try:
                self.mac = str(MacAddress(self.mac))
            except ValidationError as exc:
                raise CliError(str(exc), EXIT_USAGE) from None

    @property
    def empty(self) -> bool:
        """True when nothing selects devices."""
        return not any((self.status, self.label, self.user, self.phone, self.mac))

    def matches(self, device: Device) -> bool:
        """Whether a device found by the most specific search passes the other filters."""
        if self.status is not None:
            status = device.status or device.status_from_code
            if status is None or status.value != self.status:
                return False
        if self.user is not None and self.user not in (device.principal, device.user_id):
            return False
        if self.phone is not None and self.phone not in (
            device.phone_number, device.current_phone_number
        ):
            return False
        return not (self.mac is not None and (device.details.wifi_mac or "") != self.mac)


async def select_devices(epmm: EpmmClient, selection: DeviceFilter) -> AsyncIterator[Device]:
    """Devices matching ``selection``, found with the most specific search the API has.

    MAC, then phone, then user, then label searches; otherwise the (paged) device list by
    status (ACTIVE when no status is given). The other filters are applied to the results.
    A label search only covers registered devices, so ``--label`` with ``--status RETIRED``
    finds nothing.
    """
    found: Sequence[Device] | None = None
    if selection.mac is not None:
        found = await epmm.devices.by_mac(selection.mac)
    elif selection.phone is not None:
        found = await epmm.devices.by_phone(selection.phone)
    elif selection.user is not None:
        found = await epmm.devices.by_user(selection.user)
    elif selection.label is not None:
        found = await epmm.devices.by_label(selection.label)
    if found is None:
        async for device in epmm.devices.iter(selection.status):
            yield device
        return
    for device in found:
        if selection.matches(device):
            yield device


@dataclass(slots=True)
class TargetSpec:
    """The target options of an action command, as given."""

    uuids: list[str] = field(default_factory=list)
    macs: list[str] = field(default_factory=list)
    from_file: Path | None = None
    selection: DeviceFilter = field(default_factory=DeviceFilter)

    def explicit(self) -> list[Target]:
        """The devices named on the command line and in the file (validated, in order)."""
        targets: list[Target] = []
        for value in self.uuids:
            try:
                targets.append(validate_uuid(value))
            except ValidationError as exc:
                raise CliError(f"--uuid: {exc}", EXIT_USAGE) from None
        for value in self.macs:
            try:
                targets.append(MacAddress(value))
            except ValidationError as exc:
                raise CliError(f"--mac: {exc}", EXIT_USAGE) from None
        if self.from_file is not None:
            targets.extend(read_targets_file(self.from_file))
        return targets

    @property
    def given(self) -> bool:
        """Whether any target option was given."""
        return bool(self.uuids or self.macs or self.from_file) or not self.selection.empty


def check_given(spec: TargetSpec) -> None:
    """Refuse a command with no target option at all."""
    if not spec.given:
        raise CliError(
            "no devices: give --uuid, --mac, --from-file, or a selection "
            "(--label, --status, --user)",
            EXIT_USAGE,
        )


async def resolve_targets(
    epmm: EpmmClient, spec: TargetSpec, explicit: list[Target] | None = None
) -> list[Target]:
    """Every device the options name, deduplicated (first mention wins).

    ``explicit`` is ``spec.explicit()`` if already read (it is checked before any request);
    a selection lists devices.
    """
    check_given(spec)
    targets = list(explicit) if explicit is not None else spec.explicit()
    if not spec.selection.empty:
        async for device in select_devices(epmm, spec.selection):
            targets.append(device.uuid.lower())
    return list(dict.fromkeys(targets))
