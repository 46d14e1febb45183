"""The ``epmm`` typer application: global options, reading commands, action commands."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
import typer
from rich.markup import escape
from rich.table import Table

from ..client import EpmmClient
from ..enums import ComplianceReason, MessageMode
from ..errors import EpmmError, ValidationError
from ..models import CsvDeviceRow, Device
from ..validation import MacAddress, validate_uuid
from .common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliError,
    describe_error,
    err,
    exit_code_for,
    out,
)
from .connection import ConnectionSettings, configure_logging
from .jobs import ACTIONS, JobOptions, Mode, run_action
from .output import Column, OutputFormat, RecordWriter, cell, choose_format, encode_json, to_plain
from .targets import DeviceFilter, TargetSpec, check_given, resolve_targets, select_devices

__all__ = ["app", "guarded", "run_with_client"]

app = typer.Typer(
    name="epmm",
    help="Ivanti EPMM V1 Device Management from the command line "
    "(global options go before the command: epmm --url URL devices list).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
devices_app = typer.Typer(help="Read devices: list, show, export.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")


# -- running a command --------------------------------------------------------------------------


def guarded(body: Callable[[], int]) -> NoReturn:
    """Run a command body; turn every error into one line on stderr and an exit code."""
    try:
        code = body()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    except asyncio.CancelledError:
        err.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    except (CliError, EpmmError) as exc:
        message = exc.message if isinstance(exc, CliError) else describe_error(exc)
        err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        raise typer.Exit(exit_code_for(exc)) from None
    except BrokenPipeError:
        # The reader went away (`epmm devices list | head`): stop quietly, as Unix tools do,
        # and keep the interpreter's final flush from complaining.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        err.print(f"[bold red]error:[/] {escape(exc.strerror or str(exc))}{escape(where)}",
                  highlight=False)
        raise typer.Exit(EXIT_SOME_FAILED) from None
    except Exception as exc:
        if os.environ.get("EPMM_DEBUG"):
            raise
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} "
                  "(set EPMM_DEBUG=1 for a traceback)", highlight=False)
        raise typer.Exit(EXIT_SOME_FAILED) from None
    raise typer.Exit(code)


def run_with_client(
    ctx: typer.Context,
    job: Callable[[EpmmClient], Awaitable[int]],
    *,
    prepare: Callable[[], object] | None = None,
) -> NoReturn:
    """Validate input (``prepare``), build the client, run ``job`` in an event loop, exit."""
    settings: ConnectionSettings = ctx.obj

    def body() -> int:
        if prepare is not None:
            prepare()
        client = settings.client()

        async def main() -> int:
            async with client as epmm:
                return await job(epmm)

        return asyncio.run(main())

    guarded(body)


# -- global options -----------------------------------------------------------------------------


@app.callback()
def _global(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(envvar="EPMM_URL", help="Server base URL "
                   "(https://epmm.example.com); env EPMM_URL.")] = None,
    username: Annotated[str | None, typer.Option(envvar="EPMM_USERNAME",
                        help="API account; env EPMM_USERNAME.")] = None,
    password_file: Annotated[Path | None, typer.Option(
        help="Read the password from this file's first line (else EPMM_PASSWORD, else a "
        "prompt on a terminal).")] = None,
    response_format: Annotated[str, typer.Option("--format", help="Response format asked "
                               "of the server: json or xml.")] = "json",
    ca_bundle: Annotated[Path | None, typer.Option(help="CA bundle (PEM) to verify the "
                         "server's certificate.")] = None,
    insecure: Annotated[bool, typer.Option(help="Do NOT verify TLS and allow plain http:// "
                        "(dangerous).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds for one whole attempt.")] = 300.0,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to connect.")] = 10.0,
    read_timeout: Annotated[float, typer.Option(help="Seconds between reads.")] = 60.0,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at most "
                           "(per device: 16, bulk: 4).")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests per second at most.")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                       help="More logs: -v info, -vv debug.")] = 0,
    log_json: Annotated[bool, typer.Option(help="Logs as JSON lines on stderr.")] = False,
) -> None:
    configure_logging(verbose, json_logs=log_json)
    fmt = response_format.strip().lower()
    if fmt not in ("json", "xml"):
        raise typer.BadParameter("expected json or xml", param_hint="--format")
    ctx.obj = ConnectionSettings(
        url=url, username=username, password_file=password_file,
        response_format="xml" if fmt == "xml" else "json", ca_bundle=ca_bundle,
        insecure=insecure, timeout=timeout or None, connect_timeout=connect_timeout or None,
        read_timeout=read_timeout or None, concurrency=concurrency, rate=rate,
    )


# -- reading ------------------------------------------------------------------------------------

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


# -- acting -------------------------------------------------------------------------------------

UuidOpt = Annotated[list[str] | None, typer.Option(
    "--uuid", metavar="UUID", help="Device uuid (repeatable).")]
MacOpt = Annotated[list[str] | None, typer.Option(
    "--mac", metavar="MAC", help="Wi-Fi MAC (repeatable; forces per-device requests).")]
FileOpt = Annotated[Path | None, typer.Option(
    "--from-file", metavar="FILE", exists=True, dir_okay=False,
    help="One uuid or MAC per line, or a CSV with a uuid column; blank lines and # comments "
    "ignored.")]
LabelOpt = Annotated[str | None, typer.Option(
    "--label", metavar="NAME", help="Select the devices of a label.")]
StatusOpt = Annotated[str | None, typer.Option(
    "--status", metavar="STATUS", help="Select devices by status.")]
UserOpt = Annotated[str | None, typer.Option(
    "--user", metavar="USER_ID", help="Select the devices of a user id.")]
ModeOpt = Annotated[Mode, typer.Option(
    "--mode", help="auto: bulk for 10+ uuids without a reason; bulk; per-device.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Show what would be sent; send nothing.")]
YesOpt = Annotated[bool, typer.Option(
    "--yes", "-y", help="Do not ask for confirmation (wipe, retire).")]
JournalOpt = Annotated[Path | None, typer.Option(
    "--journal", metavar="FILE", help="SQLite journal: a second run with the same file "
    "resumes the job.")]
ReportOpt = Annotated[Path | None, typer.Option(
    "--report", metavar="FILE", help="Per-device report: JSON lines, or CSV when FILE ends "
    "in .csv.")]
ReasonOpt = Annotated[str | None, typer.Option(
    "--reason", metavar="TEXT", help="Reason recorded by the server (per-device requests "
    "only; at most 512 characters).")]
ResendOpt = Annotated[bool, typer.Option("--resend-unknown", help="With --journal: resend a "
                      "wipe/retire whose outcome an earlier run left unknown.")]


def act(ctx: typer.Context, action: str, targets: TargetSpec, opts: JobOptions) -> NoReturn:
    """Resolve the targets and run ``action`` on them; exits with the job's exit code."""
    settings: ConnectionSettings = ctx.obj
    if opts.concurrency is None:
        opts.concurrency = settings.concurrency
    opts.rate = settings.rate
    explicit: list[Any] = []

    def prepare() -> None:
        check_given(targets)
        explicit.extend(targets.explicit())

    async def job(epmm: EpmmClient) -> int:
        resolved = await resolve_targets(epmm, targets, explicit)
        result = await run_action(epmm, ACTIONS[action], resolved, opts)
        return result.exit_code

    run_with_client(ctx, job, prepare=prepare)


def _targets(uuid: list[str] | None, mac: list[str] | None, from_file: Path | None,
             label: str | None, status: str | None, user: str | None) -> TargetSpec:
    return TargetSpec(uuids=uuid or [], macs=mac or [], from_file=from_file,
                      selection=DeviceFilter(status=status, label=label, user=user))


def _standard(action: str, doc: str) -> None:
    """Register lock/unlock/wipe/retire/wakeup: the same options, a different action."""

    def command(
        ctx: typer.Context,
        uuid: UuidOpt = None, mac: MacOpt = None, from_file: FileOpt = None,
        label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
        reason: ReasonOpt = None, mode: ModeOpt = Mode.AUTO, dry_run: DryRunOpt = False,
        yes: YesOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
        resend_unknown: ResendOpt = False,
    ) -> None:
        guarded_targets = _lazy_targets(uuid, mac, from_file, label, status, user)
        act(ctx, action, guarded_targets, JobOptions(
            mode=mode, reason=reason, dry_run=dry_run, yes=yes, journal=journal,
            report=report, resend_unknown=resend_unknown))

    command.__doc__ = doc
    app.command(action)(command)


def _lazy_targets(uuid: list[str] | None, mac: list[str] | None, from_file: Path | None,
                  label: str | None, status: str | None, user: str | None) -> TargetSpec:
    try:
        return _targets(uuid, mac, from_file, label, status, user)
    except CliError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
        raise typer.Exit(exc.code) from None


_standard("lock", "Lock devices (bulk without a reason; per device with --reason).")
_standard("unlock", "Unlock devices (bulk without a reason; per device with --reason).")
_standard("wipe", "Factory-reset devices. Asks you to type the device count (or --yes).")
_standard("retire", "Retire devices. Asks you to type the device count (or --yes).")
_standard("wakeup", "Ask devices to check in.")


@app.command("locate")
def locate_cmd(
    ctx: typer.Context,
    uuid: UuidOpt = None, mac: MacOpt = None, from_file: FileOpt = None,
    label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
    now: Annotated[bool, typer.Option("--now", help="Ask for a fresh fix and wait for it "
                   "(FRESH), or report the last known one (STALE, UNSUPPORTED on iOS).")] = False,
    deadline: Annotated[float, typer.Option(help="With --now: seconds to wait for a fresh "
                        "fix.")] = 90.0,
    interval: Annotated[float, typer.Option(help="With --now: seconds between polls.")] = 5.0,
    dry_run: DryRunOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
) -> None:
    """Known locations of devices; with --now a fresh fix, polled until it lands."""
    targets = _lazy_targets(uuid, mac, from_file, label, status, user)
    if deadline <= 0 or interval <= 0:
        err.print("[bold red]error:[/] --deadline and --interval must be positive")
        raise typer.Exit(EXIT_USAGE)
    act(ctx, "locate_now" if now else "locate", targets, JobOptions(
        mode=Mode.PER_DEVICE, dry_run=dry_run, journal=journal, report=report,
        deadline=deadline, interval=interval))


@app.command("message")
def message_cmd(
    ctx: typer.Context,
    text: Annotated[str, typer.Option("--text", help="The message.")],
    via: Annotated[MessageMode, typer.Option("--via", help="pns (push), sms or email.")] = (
        MessageMode.PNS),
    subject: Annotated[str | None, typer.Option(help="Subject (email only).")] = None,
    uuid: UuidOpt = None, mac: MacOpt = None, from_file: FileOpt = None,
    label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
    dry_run: DryRunOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
) -> None:
    """Send a message to devices (bulk send-message; all uuids or all MACs)."""
    targets = _lazy_targets(uuid, mac, from_file, label, status, user)
    act(ctx, "message", targets, JobOptions(
        dry_run=dry_run, journal=journal, report=report, message=text, message_mode=via,
        subject=subject))


@app.command("roaming")
def roaming_cmd(
    ctx: typer.Context,
    voice: Annotated[bool, typer.Option("--voice/--no-voice", help="Voice roaming.")] = True,
    data: Annotated[bool, typer.Option("--data/--no-data", help="Data roaming (off when "
                    "voice is off).")] = True,
    uuid: UuidOpt = None, from_file: FileOpt = None,
    label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
    dry_run: DryRunOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
) -> None:
    """Enable or disable voice/data roaming (iOS devices; others are refused)."""
    targets = _lazy_targets(uuid, None, from_file, label, status, user)
    act(ctx, "roaming", targets, JobOptions(
        mode=Mode.PER_DEVICE, dry_run=dry_run, journal=journal, report=report, voice=voice,
        data=data))


@app.command("repush")
def repush_cmd(
    ctx: typer.Context,
    profile_id: Annotated[int | None, typer.Option(help="Re-push only this profile id.")] = None,
    profile_type: Annotated[str | None, typer.Option(help="APP or POLICY (with "
                            "--profile-id).")] = None,
    uuid: UuidOpt = None, from_file: FileOpt = None,
    label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
    dry_run: DryRunOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
) -> None:
    """Re-push one profile, or all of them, to devices."""
    targets = _lazy_targets(uuid, None, from_file, label, status, user)
    act(ctx, "repush", targets, JobOptions(
        mode=Mode.PER_DEVICE, dry_run=dry_run, journal=journal, report=report,
        profile_id=profile_id, profile_type=profile_type))


@app.command("register")
def register_cmd(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Option(help="User id (principal).")],
    platform: Annotated[str, typer.Option(help="A (Android), I (iOS), E (Windows), "
                        "M (Windows Phone), L (macOS), or the name.")],
    country_code: Annotated[str, typer.Option(help="Numeric country code, e.g. 1 or 33.")],
    phone: Annotated[str | None, typer.Option(help="Phone number (not needed for a "
                     "PDA).")] = None,
    device_type: Annotated[str, typer.Option(help="Phone or PDA.")] = "Phone",
    operator: Annotated[str | None, typer.Option(help="Operator name.")] = None,
    first_name: Annotated[str | None, typer.Option(help="Local user's first name.")] = None,
    last_name: Annotated[str | None, typer.Option(help="Local user's last name.")] = None,
    email: Annotated[str | None, typer.Option(help="Local user's email.")] = None,
    ldap: Annotated[bool, typer.Option("--ldap", help="Import the user from LDAP.")] = False,
    employee_owned: Annotated[bool | None, typer.Option(
        "--employee-owned/--company-owned", help="Ownership.")] = None,
    notify: Annotated[bool | None, typer.Option("--notify/--no-notify",
                      help="Notify the user.")] = None,
    output: OutputOpt = None,
) -> None:
    """Register a device for a user; prints the registration (passcode, URL)."""
    columns: list[Column] = [
        ("device uuid", lambda r: r.device_uuid), ("status", lambda r: r.status),
        ("passcode", lambda r: r.passcode), ("ttl (h)", lambda r: r.passcode_ttl_hours),
        ("url", lambda r: r.registration_url),
    ]

    async def job(epmm: EpmmClient) -> int:
        reg = await epmm.devices.register(
            user_id=user_id, platform=_platform(platform), country_code=country_code,
            phone_number=phone, device_type=device_type, operator=operator,
            employee_owned=employee_owned, import_user_from_ldap=ldap,
            user_first_name=first_name, user_last_name=last_name, user_email_address=email,
            notify_user=notify,
        )
        writer = RecordWriter(choose_format(output), columns, title="Registration")
        writer.write(reg)
        writer.close()
        return EXIT_OK if reg.succeeded else EXIT_SOME_FAILED

    run_with_client(ctx, job)


def _platform(value: str) -> str:
    names = {"android": "A", "ios": "I", "windows": "E", "windows_phone": "M", "macos": "L"}
    return names.get(value.strip().lower().replace(" ", "_"), value)


# -- simulator and demo -------------------------------------------------------------------------


@app.command(
    "simulator",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def simulator_cmd(ctx: typer.Context) -> None:
    """Run the EPMM simulator in the foreground (options: epmm simulator --help)."""
    from ..simulator.__main__ import run

    raise typer.Exit(run(list(ctx.args)))


@app.command("demo")
def demo_cmd(
    devices: Annotated[int, typer.Option(help="Simulated fleet size.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Fleet seed.")] = 7,
    reports_dir: Annotated[Path, typer.Option(help="Where the demo writes its files.")] = Path(
        "epmm-reports"),
    time_scale: Annotated[float, typer.Option(help="Scale of simulated delays (locate-now "
                          "fixes arrive within 60 s x this).")] = 0.05,
) -> None:
    """Play a realistic job against an in-process simulator (what make demo runs)."""
    from .demo import run_demo

    guarded(lambda: asyncio.run(run_demo(devices=devices, seed=seed, reports_dir=reports_dir,
                                         time_scale=time_scale)))
