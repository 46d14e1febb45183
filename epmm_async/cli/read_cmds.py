"""Reading commands: devices list/show/export, labels, operators, countries, profiles."""

from __future__ import annotations

import csv
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from ..client import EpmmClient
from ..enums import ComplianceReason
from ..errors import ValidationError
from ..models import CsvDeviceRow, Device
from ..validation import MacAddress, validate_uuid
from .apps import app, devices_app
from .common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, CliError, err, out
from .output import Column, OutputFormat, RecordWriter, cell, choose_format, encode_json, to_plain
from .runner import run_with_client
from .targets import DeviceFilter, select_devices

__all__ = ["OutputOpt", "device_record", "show_device", "show_labels"]


OutputOpt = Annotated[OutputFormat | None, typer.Option(
    "--output", "-o", help="table (default on a terminal), json, jsonl (default in a pipe) "
    "or csv.")]

DEVICE_COLUMNS: list[Column] = [
    ("uuid", lambda d: d.uuid),
    ("user", lambda d: d.principal),
    ("platform", lambda d: d.platform),
    ("status", lambda d: d.status or d.status_from_code),
    ("model", lambda d: d.model),
    ("phone", lambda d: d.phone_number),
    ("last connected", lambda d: d.last_connected_at.strftime("%Y-%m-%d %H:%M")
     if d.last_connected_at else None),
    ("compliant", lambda d: "yes" if d.compliant else "NO"),
]


@devices_app.command("list")
def devices_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="ACTIVE (default), LOST, RETIRED...")] = None,
    label: Annotated[str | None, typer.Option(help="Devices with this label.")] = None,
    user: Annotated[str | None, typer.Option(help="Devices of this user id.")] = None,
    phone: Annotated[str | None, typer.Option(help="Devices with this phone number.")] = None,
    mac: Annotated[str | None, typer.Option(help="The device with this Wi-Fi MAC.")] = None,
    output: OutputOpt = None,
) -> None:
    """List devices (ACTIVE unless --status), filtered; rows are written as they arrive."""
    selection: list[DeviceFilter] = []

    async def job(epmm: EpmmClient) -> int:
        writer = RecordWriter(choose_format(output), DEVICE_COLUMNS, title="Devices")
        try:
            async for device in select_devices(epmm, selection[0]):
                writer.write(device)
        finally:
            writer.close()
        return EXIT_OK

    run_with_client(ctx, job, prepare=lambda: selection.append(
        DeviceFilter(status=status, label=label, user=user, phone=phone, mac=mac)))


def _reasons(flags: ComplianceReason) -> list[str]:
    return flags.describe()


@devices_app.command("show")
def devices_show(
    ctx: typer.Context,
    device: Annotated[str, typer.Argument(help="Device uuid (or Wi-Fi MAC).")],
    output: OutputOpt = None,
) -> None:
    """Every field of one device, its details, and its compliance reasons spelled out."""
    key: list[str | MacAddress] = []

    def prepare() -> None:
        text = device.strip()
        try:
            key.append(validate_uuid(text) if len(text) == 36 else MacAddress(text))
        except ValidationError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None

    async def job(epmm: EpmmClient) -> int:
        target = key[0]
        if isinstance(target, MacAddress):
            found = await epmm.devices.by_mac(target)
            if not found:
                raise CliError(f"no device with MAC {target}", EXIT_SOME_FAILED)
            dev = found[0]
        else:
            dev = await epmm.devices.get(target)
        show_device(dev, choose_format(output))
        return EXIT_OK

    run_with_client(ctx, job, prepare=prepare)


def device_record(dev: Device) -> dict[str, Any]:
    """A device as plain data, with the compliance bitmaps described."""
    plain: dict[str, Any] = to_plain(dev)
    plain["compliance_reasons"] = _reasons(dev.compliance)
    plain["quarantine_reasons"] = _reasons(dev.quarantined_status)
    plain["block_reasons"] = _reasons(dev.block_reason)
    return plain


def show_device(dev: Device, fmt: OutputFormat) -> None:
    """Print one device in ``fmt``."""
    if fmt in (OutputFormat.JSON, OutputFormat.JSONL):
        out.file.write(encode_json(device_record(dev)) + "\n")
        return
    if fmt is OutputFormat.CSV:
        plain = device_record(dev)
        writer = csv.DictWriter(out.file, fieldnames=list(plain), lineterminator="\n")
        writer.writeheader()
        writer.writerow({k: cell(v) for k, v in plain.items()})
        return
    fields = Table(title=f"Device {dev.uuid}", show_header=False, title_justify="left")
    fields.add_column("field", style="bold")
    fields.add_column("value", overflow="fold")
    for f in msgspec.structs.fields(Device):
        if f.name == "details":
            continue
        value = getattr(dev, f.name)
        if isinstance(value, ComplianceReason):
            text = "; ".join(value.describe()) or "none"
            fields.add_row(f.name, f"{int(value)} ({text})")
        else:
            fields.add_row(f.name, cell(value))
    out.print(fields)
    d = dev.details
    typed = Table(title="Details (interpreted)", show_header=False, title_justify="left")
    typed.add_column("what", style="bold")
    typed.add_column("value")
    for name in ("model", "os_version", "client_version", "imei", "imsi", "serial_number",
                 "udid", "wifi_mac", "battery_percent", "compromised", "roaming",
                 "voice_roaming_enabled", "data_roaming_enabled", "latitude", "longitude",
                 "location_captured_at"):
        value = getattr(d, name)
        if value is not None:
            typed.add_row(name, cell(value.isoformat() if hasattr(value, "isoformat")
                                     else value))
    out.print(typed)
    raw = Table(title=f"Details ({len(d)} entries)", show_header=False, title_justify="left")
    raw.add_column("key", style="bold")
    raw.add_column("value", overflow="fold")
    for k in sorted(d):
        raw.add_row(k, d[k])
    out.print(raw)


_CSV_HEADER = [f.encode_name for f in msgspec.structs.fields(CsvDeviceRow)]
_CSV_ATTRS = [f.name for f in msgspec.structs.fields(CsvDeviceRow)]


@devices_app.command("export")
def devices_export(
    ctx: typer.Context,
    to: Annotated[Path | None, typer.Option("--to", help="Write the CSV to this file "
                  "(default: stdout).")] = None,
) -> None:
    """Export every device (every status) as CSV, streamed: rows are written as they arrive."""

    async def job(epmm: EpmmClient) -> int:
        stream = to.open("w", encoding="utf-8", newline="") if to is not None else sys.stdout
        count = 0
        try:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(_CSV_HEADER)
            async for row in epmm.devices.export_csv():
                writer.writerow([cell(getattr(row, a)) for a in _CSV_ATTRS])
                count += 1
        finally:
            if to is not None:
                stream.close()
            else:
                stream.flush()
        if to is not None:
            err.print(f"{count:,} devices exported to {to}")
        return EXIT_OK

    run_with_client(ctx, job)


LABEL_COLUMNS: list[Column] = [
    ("id", lambda x: x.id),
    ("name", lambda x: x.name),
    ("devices", lambda x: f"{x.device_count:,}" if x.device_count is not None else ""),
    ("kind", lambda x: "default" if x.is_default else "custom"),
    ("static", lambda x: x.static_label),
    ("description", lambda x: x.description),
]


async def show_labels(epmm: EpmmClient, fmt: OutputFormat) -> list[Any]:
    """Print every label with its device count; returns the labels."""
    labels = await epmm.labels.list()
    writer = RecordWriter(fmt, LABEL_COLUMNS, title="Labels")
    for label in labels:
        writer.write(label)
    writer.close()
    return labels


@app.command("labels")
def labels_cmd(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every label, with how many devices it has."""

    async def job(epmm: EpmmClient) -> int:
        await show_labels(epmm, choose_format(output))
        return EXIT_OK

    run_with_client(ctx, job)


def _list_command(
    ctx: typer.Context,
    output: OutputFormat | None,
    columns: list[Column],
    title: str,
    fetch: Callable[[EpmmClient], Awaitable[Sequence[object]]],
) -> None:
    async def job(epmm: EpmmClient) -> int:
        writer = RecordWriter(choose_format(output), columns, title=title)
        for item in await fetch(epmm):
            writer.write(item)
        writer.close()
        return EXIT_OK

    run_with_client(ctx, job)


@app.command("operators")
def operators_cmd(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every operator (carrier) the server knows."""
    columns: list[Column] = [
        ("id", lambda x: x.id), ("name", lambda x: x.carrier_short_name),
        ("type", lambda x: x.carrier_type), ("country", lambda x: x.country_name),
        ("code", lambda x: x.country_code), ("enabled", lambda x: x.enabled),
    ]
    _list_command(ctx, output, columns, "Operators", lambda epmm: epmm.operators.list())


@app.command("countries")
def countries_cmd(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every country the server knows, and whether registration is enabled."""
    columns: list[Column] = [
        ("name", lambda x: x.country_name), ("code", lambda x: x.country_code),
        ("iso", lambda x: x.iso_alpha2_code), ("registration", lambda x: x.enabled),
    ]
    _list_command(ctx, output, columns, "Countries", lambda epmm: epmm.countries.list())


@app.command("profiles")
def profiles_cmd(
    ctx: typer.Context,
    uuid: Annotated[str, typer.Argument(help="Device uuid.")],
    output: OutputOpt = None,
) -> None:
    """Configurations and policies applied to a device."""
    columns: list[Column] = [
        ("id", lambda x: x.id), ("name", lambda x: x.name),
        ("type", lambda x: x.profile_type), ("policy type", lambda x: x.policy_type),
        ("status", lambda x: x.status),
        ("updated", lambda x: x.last_updated_at.isoformat() if x.last_updated_at else None),
    ]

    def prepare() -> None:
        try:
            validate_uuid(uuid)
        except ValidationError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None

    async def job(epmm: EpmmClient) -> int:
        writer = RecordWriter(choose_format(output), columns, title=f"Profiles of {uuid}")
        for item in await epmm.devices.profiles(uuid):
            writer.write(item)
        writer.close()
        return EXIT_OK

    run_with_client(ctx, job, prepare=prepare)
