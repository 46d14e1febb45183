"""Action commands: lock, unlock, wipe, retire, wakeup, locate, message, roaming, repush,
register."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from ..client import EpmmClient
from ..enums import MessageMode
from .apps import app
from .common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, CliError, err
from .connection import ConnectionSettings
from .jobs import ACTIONS, JobOptions, Mode, run_action
from .output import Column, RecordWriter, choose_format
from .read_cmds import OutputOpt
from .runner import run_with_client
from .targets import DeviceFilter, TargetSpec, check_given, resolve_targets

__all__ = ["act"]


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
