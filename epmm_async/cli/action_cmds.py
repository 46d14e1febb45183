"""Action commands: lock, unlock, wipe, retire, wakeup, locate, message, roaming, repush,
register."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from ..client import EpmmClient
from ..core import actions as core_actions
from ..enums import MessageMode
from ..models import Device
from .apps import app
from .common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, CliError, err
from .common import examples as examples_text
from .connection import ConnectionSettings
from .jobs import ACTIONS, JobOptions, Mode, run_action
from .output import Column, OutputFormat, RecordWriter, choose_format
from .read_cmds import OutputOpt
from .runner import run_with_client
from .targets import (
    AllLabelsOpt,
    BlockedOpt,
    CompanyOpt,
    ComplianceOpt,
    DeviceFilter,
    EmployeeOpt,
    Filters,
    FromReportOpt,
    NoPreflightOpt,
    OnlyOpt,
    OsVersionOpt,
    PlatformOpt,
    QuarantinedOpt,
    SeenAfterOpt,
    SeenBeforeOpt,
    TargetSpec,
    check_given,
    parse_only,
    preflight_skips,
    resolve_targets,
)

__all__ = ["act"]


UuidOpt = Annotated[list[str] | None, typer.Option(
    "--uuid", metavar="UUID", help="Device uuid (repeatable).")]
MacOpt = Annotated[list[str] | None, typer.Option(
    "--mac", metavar="MAC", help="Wi-Fi MAC in any notation (repeatable; MAC targets are "
    "sent per device: the bulk endpoint takes uuids).")]
MessageMacOpt = Annotated[list[str] | None, typer.Option(
    "--mac", metavar="MAC", help="Wi-Fi MAC in any notation (repeatable; sent with "
    "send-message by MAC, so give MACs or uuids, not both).")]
FileOpt = Annotated[list[Path] | None, typer.Option(
    "--from-file", metavar="FILE", exists=True, dir_okay=False,
    help="One uuid or MAC per line, or a CSV with a uuid (or mac) column; blank lines and "
    "# comments ignored (repeatable; an empty file is an error).")]
LabelOpt = Annotated[list[str] | None, typer.Option(
    "--label", metavar="NAME", help="Select the devices of a label (repeatable: any of the "
    "labels; an unknown label is an error).")]
StatusOpt = Annotated[list[str] | None, typer.Option(
    "--status", metavar="STATUS", help="Select devices by status: ACTIVE, LOST, EXPIRED... "
    "(repeatable: any of them; with --label or --user: only those of that status).")]
UserOpt = Annotated[list[str] | None, typer.Option(
    "--user", metavar="USER_ID", help="Select the devices of a user id (repeatable: any of "
    "the users; a user without devices is an error).")]
AllowEmptyOpt = Annotated[bool, typer.Option(
    "--allow-empty", help="A selection or file that matches no device is a success (exit 0, "
    "nothing sent) instead of an error (exit 2). Unknown labels are still errors.")]
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
JobOutputOpt = Annotated[OutputFormat | None, typer.Option(
    "--output", "-o", help="One record per device on stdout: table, json, jsonl or csv.")]
ResendOpt = Annotated[bool, typer.Option("--resend-unknown", help="With --journal: resend a "
                      "wipe/retire whose outcome an earlier run left unknown.")]

_TARGETS_NOTE = (
    "Targets add up: every --uuid, --mac and --from-file and the devices of the selection, "
    "each device once. A repeated --label, --status or --user means any of them; --status "
    "with --label or --user keeps the devices of that status. The filters (--platform, "
    "--os-version, --last-seen-*, --compliance, --quarantined, --blocked, --*-owned) narrow "
    "the selection; alone they filter the ACTIVE devices (or those of --status). Selected "
    "devices the action cannot apply to (wiped, retired) are skipped unless --no-preflight. "
    "A selection that matches no device is an error (exit 2) unless --allow-empty."
)


def _epilog(*examples: str) -> str:
    """The end of a command's --help: how targets combine, then examples kept as written."""
    return f"{_TARGETS_NOTE}\n\n{examples_text(*examples)}"


def act(ctx: typer.Context, action: str, targets: TargetSpec, opts: JobOptions) -> NoReturn:
    """Resolve the targets and run ``action`` on them; exits with the job's exit code."""
    settings: ConnectionSettings = ctx.obj
    if opts.concurrency is None:
        opts.concurrency = settings.concurrency
    opts.rate = settings.rate
    opts.quiet = opts.quiet or settings.quiet
    explicit: list[Any] = []

    def prepare() -> None:
        check_given(targets)
        explicit.extend(targets.explicit())

    async def job(epmm: EpmmClient) -> int:
        records: dict[str, Device] = {}
        resolved = await resolve_targets(epmm, targets, explicit, records)
        if targets.preflight:
            refused = core_actions.action_spec(action).refused_states
            opts.skip = preflight_skips(refused, records) or None
        if opts.dry_run:
            for line in targets.selection.count_lines():
                err.print(escape(line), highlight=False)
        opts.selection = targets.describe()  # after explicit(): file counts are known
        result = await run_action(epmm, ACTIONS[action], resolved, opts)
        return result.exit_code

    run_with_client(ctx, job, prepare=prepare)


def _targets(uuid: list[str] | None, mac: list[str] | None, from_file: list[Path] | None,
             label: list[str] | None, status: list[str] | None, user: list[str] | None,
             allow_empty: bool, filters: Filters | None = None) -> TargetSpec:
    """The target options as a :class:`TargetSpec`; a bad status, MAC, filter or --only
    exits 2 here."""
    f = filters or Filters()
    try:
        if f.only and not f.from_report:
            raise CliError("--only goes with --from-report", EXIT_USAGE)
        selection = DeviceFilter(
            labels=label, statuses=status, users=user, platforms=f.platform,
            os_versions=f.os_version, last_seen_before=f.last_seen_before,
            last_seen_after=f.last_seen_after, compliance=f.compliance,
            quarantined=f.quarantined, blocked=f.blocked, employee_owned=f.employee_owned,
            company_owned=f.company_owned, all_labels=f.all_labels)
        return TargetSpec(uuids=uuid or [], macs=mac or [], from_files=from_file or [],
                          from_reports=f.from_report or [], only=parse_only(f.only),
                          selection=selection, allow_empty=allow_empty,
                          preflight=not f.no_preflight)
    except CliError as exc:
        _usage_error(exc.message)


def _usage_error(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(EXIT_USAGE)


_STANDARD: dict[str, tuple[str, tuple[str, ...]]] = {
    "lock": ("Lock devices (bulk without a reason; per device with --reason).", (
        "epmm lock --label Sales --label \"Field Engineers\" --dry-run",
        "epmm lock --uuid 05dad041-2235-4c81-9fb1-1dd3c15e0b30 --reason \"Lost\"",
        "epmm lock --from-file lost.csv --journal lock.journal --report lock.csv",
        "epmm lock --from-report lock.csv --reason \"Lost\"    # retry what did not succeed",
        "epmm lock --platform ios --os-version '<17' --last-seen-before 30d --dry-run",
    )),
    "unlock": ("Unlock devices (bulk without a reason; per device with --reason).", (
        "epmm unlock --mac 38:aa:3c:62:bf:ad --reason \"Found\"",
        "epmm unlock --label Sales --dry-run",
    )),
    "wipe": ("Factory-reset devices. Asks you to type the device count (or --yes).", (
        "epmm wipe --from-file lost.txt --reason \"Reported lost\" --journal w.journal",
        "epmm wipe --label \"Lost Devices\" --status LOST --dry-run",
        "epmm wipe --from-file queue.txt --allow-empty --yes    # cron: may be empty",
    )),
    "retire": ("Retire devices. Asks you to type the device count (or --yes).", (
        "epmm retire --status EXPIRED --dry-run",
        "epmm retire --user jdoe --user asmith --yes --report retire.csv",
    )),
    "wakeup": ("Ask devices to check in.", (
        "epmm wakeup --label iOS",
        "epmm wakeup --status ACTIVE --status LOST --dry-run",
    )),
}


def _standard(action: str, doc: str, examples: tuple[str, ...]) -> None:
    """Register lock/unlock/wipe/retire/wakeup: the same options, a different action."""

    def command(
        ctx: typer.Context,
        uuid: UuidOpt = None, mac: MacOpt = None, from_file: FileOpt = None,
        label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
        allow_empty: AllowEmptyOpt = False,
        platform: PlatformOpt = None, os_version: OsVersionOpt = None,
        last_seen_before: SeenBeforeOpt = None, last_seen_after: SeenAfterOpt = None,
        compliance: ComplianceOpt = None, quarantined: QuarantinedOpt = False,
        blocked: BlockedOpt = False, employee_owned: EmployeeOpt = False,
        company_owned: CompanyOpt = False, all_labels: AllLabelsOpt = False,
        from_report: FromReportOpt = None, only: OnlyOpt = None,
        no_preflight: NoPreflightOpt = False,
        reason: ReasonOpt = None, mode: ModeOpt = Mode.AUTO, dry_run: DryRunOpt = False,
        yes: YesOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
        output: JobOutputOpt = None, resend_unknown: ResendOpt = False,
    ) -> None:
        targets = _targets(uuid, mac, from_file, label, status, user, allow_empty,
            Filters(platform, os_version, last_seen_before, last_seen_after, compliance,
                quarantined, blocked, employee_owned, company_owned, all_labels,
                from_report, only, no_preflight))
        act(ctx, action, targets, JobOptions(
            mode=mode, reason=reason, dry_run=dry_run, yes=yes, journal=journal,
            report=report, resend_unknown=resend_unknown, output=output))

    command.__doc__ = doc
    app.command(action, epilog=_epilog(*examples))(command)


for _name, (_doc, _examples) in _STANDARD.items():
    _standard(_name, _doc, _examples)


@app.command("locate", epilog=_epilog(
    "epmm locate --uuid 05dad041-2235-4c81-9fb1-1dd3c15e0b30",
    "epmm locate --now --label \"Field Engineers\" --deadline 60 --report at.jsonl",
))
def locate_cmd(
    ctx: typer.Context,
    uuid: UuidOpt = None, mac: MacOpt = None, from_file: FileOpt = None,
    label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
    allow_empty: AllowEmptyOpt = False,
    platform: PlatformOpt = None, os_version: OsVersionOpt = None,
    last_seen_before: SeenBeforeOpt = None, last_seen_after: SeenAfterOpt = None,
    compliance: ComplianceOpt = None, quarantined: QuarantinedOpt = False,
    blocked: BlockedOpt = False, employee_owned: EmployeeOpt = False,
    company_owned: CompanyOpt = False, all_labels: AllLabelsOpt = False,
    from_report: FromReportOpt = None, only: OnlyOpt = None,
    no_preflight: NoPreflightOpt = False,
    now: Annotated[bool, typer.Option("--now", help="Ask for a fresh fix and wait for it "
                   "(FRESH), or report the last known one (STALE, UNSUPPORTED on iOS).")] = False,
    deadline: Annotated[float, typer.Option(help="With --now: seconds to wait for a fresh "
                        "fix.")] = 90.0,
    interval: Annotated[float, typer.Option(help="With --now: seconds between polls.")] = 5.0,
    dry_run: DryRunOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
    output: JobOutputOpt = None,
) -> None:
    """Known locations of devices; with --now a fresh fix, polled until it lands."""
    targets = _targets(uuid, mac, from_file, label, status, user, allow_empty,
            Filters(platform, os_version, last_seen_before, last_seen_after, compliance,
                quarantined, blocked, employee_owned, company_owned, all_labels,
                from_report, only, no_preflight))
    if deadline <= 0 or interval <= 0:
        _usage_error("--deadline and --interval must be positive")
    act(ctx, "locate_now" if now else "locate", targets, JobOptions(
        mode=Mode.PER_DEVICE, dry_run=dry_run, journal=journal, report=report,
        deadline=deadline, interval=interval, output=output))


@app.command("message", epilog=_epilog(
    "epmm message --text \"Please update today\" --label Sales",
    "epmm message --text \"Hello\" --via email --subject \"IT\" --user jdoe",
    "epmm message --text \"Call IT\" --via sms --mac 38:aa:3c:62:bf:ad",
))
def message_cmd(
    ctx: typer.Context,
    text: Annotated[str, typer.Option("--text", help="The message.")],
    via: Annotated[MessageMode, typer.Option("--via", help="pns (push), sms or email.")] = (
        MessageMode.PNS),
    subject: Annotated[str | None, typer.Option(help="Subject (email only).")] = None,
    uuid: UuidOpt = None, mac: MessageMacOpt = None, from_file: FileOpt = None,
    label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
    allow_empty: AllowEmptyOpt = False,
    platform: PlatformOpt = None, os_version: OsVersionOpt = None,
    last_seen_before: SeenBeforeOpt = None, last_seen_after: SeenAfterOpt = None,
    compliance: ComplianceOpt = None, quarantined: QuarantinedOpt = False,
    blocked: BlockedOpt = False, employee_owned: EmployeeOpt = False,
    company_owned: CompanyOpt = False, all_labels: AllLabelsOpt = False,
    from_report: FromReportOpt = None, only: OnlyOpt = None,
    no_preflight: NoPreflightOpt = False,
    dry_run: DryRunOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
    output: JobOutputOpt = None,
) -> None:
    """Send a message to devices (bulk send-message: all uuids or all MACs)."""
    targets = _targets(uuid, mac, from_file, label, status, user, allow_empty,
            Filters(platform, os_version, last_seen_before, last_seen_after, compliance,
                quarantined, blocked, employee_owned, company_owned, all_labels,
                from_report, only, no_preflight))
    act(ctx, "message", targets, JobOptions(
        dry_run=dry_run, journal=journal, report=report, message=text, message_mode=via,
        subject=subject, output=output))


@app.command("roaming", epilog=_epilog(
    "epmm roaming --no-voice --no-data --from-file travellers.txt",
    "epmm roaming --voice --no-data --label iOS --dry-run",
))
def roaming_cmd(
    ctx: typer.Context,
    voice: Annotated[bool | None, typer.Option(
        "--voice/--no-voice", help="Turn voice roaming on or off (required).",
        show_default=False)] = None,
    data: Annotated[bool | None, typer.Option(
        "--data/--no-data", help="Turn data roaming on or off (required; --no-voice turns it "
        "off too, so it needs --no-data).", show_default=False)] = None,
    uuid: UuidOpt = None, from_file: FileOpt = None,
    label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
    allow_empty: AllowEmptyOpt = False,
    platform: PlatformOpt = None, os_version: OsVersionOpt = None,
    last_seen_before: SeenBeforeOpt = None, last_seen_after: SeenAfterOpt = None,
    compliance: ComplianceOpt = None, quarantined: QuarantinedOpt = False,
    blocked: BlockedOpt = False, employee_owned: EmployeeOpt = False,
    company_owned: CompanyOpt = False, all_labels: AllLabelsOpt = False,
    from_report: FromReportOpt = None, only: OnlyOpt = None,
    no_preflight: NoPreflightOpt = False,
    dry_run: DryRunOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
    output: JobOutputOpt = None,
) -> None:
    """Turn voice and data roaming on or off (iOS devices; others are refused). Both
    --voice/--no-voice and --data/--no-data must be given."""
    missing = [name for name, value in (("--voice or --no-voice", voice),
                                        ("--data or --no-data", data)) if value is None]
    if missing:
        _usage_error(f"roaming needs {' and '.join(missing)}: say what to turn on or off")
    if voice is False and data is True:
        _usage_error("--no-voice turns data roaming off too: use --no-voice --no-data")
    targets = _targets(uuid, None, from_file, label, status, user, allow_empty,
            Filters(platform, os_version, last_seen_before, last_seen_after, compliance,
                quarantined, blocked, employee_owned, company_owned, all_labels,
                from_report, only, no_preflight))
    act(ctx, "roaming", targets, JobOptions(
        mode=Mode.PER_DEVICE, dry_run=dry_run, journal=journal, report=report,
        voice=bool(voice), data=bool(data), output=output))


@app.command("repush", epilog=_epilog(
    "epmm repush --uuid 05dad041-2235-4c81-9fb1-1dd3c15e0b30",
    "epmm repush --label Sales --profile-id 7 --profile-type POLICY --dry-run",
))
def repush_cmd(
    ctx: typer.Context,
    profile_id: Annotated[int | None, typer.Option(help="Re-push only this profile id.")] = None,
    profile_type: Annotated[str | None, typer.Option(help="APP or POLICY (with "
                            "--profile-id).")] = None,
    uuid: UuidOpt = None, from_file: FileOpt = None,
    label: LabelOpt = None, status: StatusOpt = None, user: UserOpt = None,
    allow_empty: AllowEmptyOpt = False,
    platform: PlatformOpt = None, os_version: OsVersionOpt = None,
    last_seen_before: SeenBeforeOpt = None, last_seen_after: SeenAfterOpt = None,
    compliance: ComplianceOpt = None, quarantined: QuarantinedOpt = False,
    blocked: BlockedOpt = False, employee_owned: EmployeeOpt = False,
    company_owned: CompanyOpt = False, all_labels: AllLabelsOpt = False,
    from_report: FromReportOpt = None, only: OnlyOpt = None,
    no_preflight: NoPreflightOpt = False,
    dry_run: DryRunOpt = False, journal: JournalOpt = None, report: ReportOpt = None,
    output: JobOutputOpt = None,
) -> None:
    """Re-push one profile, or all of them, to devices."""
    targets = _targets(uuid, None, from_file, label, status, user, allow_empty,
            Filters(platform, os_version, last_seen_before, last_seen_after, compliance,
                quarantined, blocked, employee_owned, company_owned, all_labels,
                from_report, only, no_preflight))
    act(ctx, "repush", targets, JobOptions(
        mode=Mode.PER_DEVICE, dry_run=dry_run, journal=journal, report=report,
        profile_id=profile_id, profile_type=profile_type, output=output))


@app.command("register", epilog="Examples:\n\n\b\n"
             "  epmm register --user-id jdoe --platform android --country-code 1 \\\n"
             "      --phone +15551234567 --first-name Jane --last-name Doe \\\n"
             "      --email jdoe@example.com\n"
             "  epmm register --user-id asmith --ldap --platform ios --country-code 33 \\\n"
             "      --device-type PDA -o json")

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
