"""Reading commands: devices list/show/export, labels, operators, countries, profiles."""

from __future__ import annotations

import csv
import enum
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
from ..validation import MacAddress, device_key
from .apps import app, devices_app, settings_of
from .common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, CliError, err, examples, out
from .device_filter import DeviceFilter
from .option_groups import with_options
from .options import Filters, OutputOpt, filter_options
from .output import (
    Column,
    OutputFormat,
    ReadProgress,
    RecordWriter,
    cell,
    choose_format,
    flag_names,
    to_plain,
    write_all,
    write_one,
)
from .runner import run_with_client
from .selection import check_selection_exists, select_devices
from .targets import Target, parse_target

__all__ = ["device_record", "show_device", "show_labels"]

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
DEVICE_NO_WRAP = ("uuid",)
"""Never folded: a uuid split across two lines cannot be copied."""
DEVICE_DROP_ORDER = ("phone", "last connected", "model", "platform", "compliant", "status",
                     "user")
"""Left out first, in this order, when the table is wider than the terminal."""


@devices_app.command("list", epilog=examples(
    "epmm devices list                                # ACTIVE devices",
    "epmm devices list --status LOST -o csv > lost.csv",
    "epmm devices list --label Sales --label 'Field Engineers'   # either label",
    "epmm devices list --label iOS --status ACTIVE --status LOST",
    "epmm devices list --user jdoe -o json",
    "epmm devices list --mac 38:aa:3c:62:bf:ad",
    "epmm devices list --platform ios --os-version '<17' --last-seen-before 30d",
    "epmm devices list --compliance any --company-owned -o csv",
))
@with_options(filters=filter_options)
def devices_list(
    ctx: typer.Context,
    status: Annotated[list[str] | None, typer.Option(
        "--status", metavar="STATUS", help="ACTIVE (default), LOST, RETIRED... (repeatable: "
        "any of them).")] = None,
    label: Annotated[list[str] | None, typer.Option(
        "--label", metavar="NAME", help="Devices with this label (repeatable: any of them).")
    ] = None,
    user: Annotated[list[str] | None, typer.Option(
        "--user", metavar="USER_ID", help="Devices of this user id (repeatable).")] = None,
    phone: Annotated[list[str] | None, typer.Option(
        "--phone", metavar="NUMBER", help="Devices with this phone number (repeatable; "
        "compared as digits).")] = None,
    mac: Annotated[list[str] | None, typer.Option(
        "--mac", metavar="MAC", help="The device with this Wi-Fi MAC (repeatable).")] = None,
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="A --user without devices is not an error.")] = False,
    *,
    filters: Filters,
    output: OutputOpt = None,
) -> None:
    """List devices (ACTIVE unless --status), filtered; rows are written as they arrive.

    Values of one option are alternatives (--label A --label B: the devices of A or B);
    different options narrow each other (--label A --status LOST). The filters (--platform,
    --os-version, --last-seen-*, --compliance, --quarantined, --blocked, --*-owned) are
    checked on each listed device. An unknown label, or a user without devices, is an error
    (exit 2).
    """
    settings = settings_of(ctx)
    selection: list[DeviceFilter] = []

    async def job(epmm: EpmmClient) -> int:
        chosen = selection[0]
        await check_selection_exists(epmm, chosen, users=not allow_empty)
        fmt = choose_format(output)
        writer = RecordWriter(fmt, DEVICE_COLUMNS, title="Devices", quiet=settings.quiet,
                              no_wrap=DEVICE_NO_WRAP, drop_order=DEVICE_DROP_ORDER)
        try:
            with ReadProgress("devices", fmt=fmt, quiet=settings.quiet) as progress:
                async for device in select_devices(epmm, chosen):
                    writer.write(device)
                    progress.advance()
        finally:
            writer.close()
        return EXIT_OK

    run_with_client(ctx, job, prepare=lambda: selection.append(filters.selection(
        statuses=status, labels=label, users=user, phones=phone, macs=mac)))


def _reasons(flags: ComplianceReason | None) -> list[str] | None:
    return flags.describe() if flags is not None else None


@devices_app.command("show", epilog=examples(
    "epmm devices show 05dad041-2235-4c81-9fb1-1dd3c15e0b30",
    "epmm devices show 38:aa:3c:62:bf:ad              # by Wi-Fi MAC",
    "epmm devices show 05dad041-2235-4c81-9fb1-1dd3c15e0b30 -o json | jq .compliance",
))
def devices_show(
    ctx: typer.Context,
    device: Annotated[str, typer.Argument(help="Device uuid (or Wi-Fi MAC).")],
    output: OutputOpt = None,
) -> None:
    """Every field of one device, its details, and its compliance reasons spelled out."""
    key: list[Target] = []

    def prepare() -> None:
        try:
            key.append(parse_target(device))
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
    """A device as plain data: bitmaps as their names, with the reasons spelled out."""
    plain: dict[str, Any] = to_plain(dev)
    plain["compliance_reasons"] = _reasons(dev.compliance)
    plain["quarantine_reasons"] = _reasons(dev.quarantined_status)
    plain["block_reasons"] = _reasons(dev.block_reason)
    return plain


def _bitmap_text(value: ComplianceReason) -> str:
    """A bitmap for a person: one ``NAME: what it means`` line per bit, or ``none``."""
    if not value:
        return "none"
    names = flag_names(value)
    texts = value.describe()
    return "\n".join(f"{n}: {t}" for n, t in zip(names, texts, strict=False))


def show_device(dev: Device, fmt: OutputFormat) -> None:
    """Print one device in ``fmt``."""
    if write_one(device_record(dev), fmt):
        return
    fields = Table(title=f"Device {dev.uuid}", show_header=False, title_justify="left")
    fields.add_column("field", style="bold")
    fields.add_column("value", overflow="fold")
    for f in msgspec.structs.fields(Device):
        if f.name == "details":
            continue
        value = getattr(dev, f.name)
        if isinstance(value, ComplianceReason):
            fields.add_row(f.name, _bitmap_text(value))
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


def _export_cell(value: object) -> str:
    # The export keeps the server's devices.csv columns and codes (a bitmap as its number).
    if isinstance(value, enum.IntFlag):
        return str(int(value))
    return cell(value)


@devices_app.command("export", epilog=examples(
    "epmm devices export --to devices.csv             # every device, every status",
    "epmm devices export | gzip > devices.csv.gz",
))
def devices_export(
    ctx: typer.Context,
    to: Annotated[Path | None, typer.Option("--to", help="Write the CSV to this file "
                  "(default: stdout).")] = None,
) -> None:
    """Export every device (every status) as the server's devices.csv, streamed: rows are
    written as they arrive."""
    settings = settings_of(ctx)

    async def job(epmm: EpmmClient) -> int:
        stream = to.open("w", encoding="utf-8", newline="") if to is not None else sys.stdout
        count = 0
        progress = ReadProgress("devices", fmt=OutputFormat.CSV, quiet=settings.quiet,
                                to_file=to is not None)
        try:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(_CSV_HEADER)
            with progress:
                async for row in epmm.devices.export_csv():
                    writer.writerow([_export_cell(getattr(row, a)) for a in _CSV_ATTRS])
                    count += 1
                    progress.advance()
        finally:
            if to is not None:
                stream.close()
            else:
                stream.flush()
        if to is not None and not settings.quiet:
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


async def show_labels(
    epmm: EpmmClient, fmt: OutputFormat, *, quiet: bool = False
) -> list[Any]:
    """Print every label with its device count; returns the labels."""
    with ReadProgress("labels", fmt=fmt, quiet=quiet) as progress:
        labels = await epmm.labels.list()
        progress.advance(len(labels))
    write_all(labels, fmt, LABEL_COLUMNS, title="Labels", quiet=quiet)
    return labels


@app.command("labels", epilog=examples(
    "epmm labels                                      # a table on a terminal",
    "epmm labels -o json | jq -r '.[] | select(.device_count > 0) | .name'",
))
def labels_cmd(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every label, with how many devices it has."""
    settings = settings_of(ctx)

    async def job(epmm: EpmmClient) -> int:
        await show_labels(epmm, choose_format(output), quiet=settings.quiet)
        return EXIT_OK

    run_with_client(ctx, job)


def _list_command(
    ctx: typer.Context,
    output: OutputFormat | None,
    columns: list[Column],
    title: str,
    fetch: Callable[[EpmmClient], Awaitable[Sequence[object]]],
) -> None:
    quiet = settings_of(ctx).quiet

    async def job(epmm: EpmmClient) -> int:
        fmt = choose_format(output)
        with ReadProgress(title.lower(), fmt=fmt, quiet=quiet) as progress:
            items = await fetch(epmm)
            progress.advance(len(items))
        write_all(items, fmt, columns, title=title, quiet=quiet)
        return EXIT_OK

    run_with_client(ctx, job)


@app.command("operators", epilog=examples(
    "epmm operators",
    "epmm operators -o csv > operators.csv",
))
def operators_cmd(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every operator (carrier) the server knows."""
    columns: list[Column] = [
        ("id", lambda x: x.id), ("name", lambda x: x.carrier_short_name),
        ("type", lambda x: x.carrier_type), ("country", lambda x: x.country_name),
        ("code", lambda x: x.country_code), ("enabled", lambda x: x.enabled),
    ]
    _list_command(ctx, output, columns, "Operators", lambda epmm: epmm.operators.list())


@app.command("countries", epilog=examples(
    "epmm countries",
    "epmm countries -o jsonl | jq -r 'select(.enabled_for_registration) | .country_name'",
))
def countries_cmd(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every country the server knows, and whether registration is enabled."""
    columns: list[Column] = [
        ("name", lambda x: x.country_name), ("code", lambda x: x.country_code),
        ("iso", lambda x: x.iso_alpha2_code), ("registration", lambda x: x.enabled),
    ]
    _list_command(ctx, output, columns, "Countries", lambda epmm: epmm.countries.list())


@app.command("profiles", epilog=examples(
    "epmm profiles 05dad041-2235-4c81-9fb1-1dd3c15e0b30",
    "epmm profiles 05dad041-2235-4c81-9fb1-1dd3c15e0b30 -o json",
))
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
    quiet = settings_of(ctx).quiet

    def prepare() -> None:
        try:
            device_key(uuid)
        except ValidationError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None

    async def job(epmm: EpmmClient) -> int:
        write_all(await epmm.devices.profiles(uuid), choose_format(output), columns,
                  title=f"Profiles of {uuid}", quiet=quiet)
        return EXIT_OK

    run_with_client(ctx, job, prepare=prepare)
