"""Action commands: lock, unlock, wipe, retire, wakeup, locate, message, roaming, repush,
register.

The action commands share their target and job options (:mod:`.options`); each adds its own.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from ..client import EpmmClient
from ..core import actions as core_actions
from ..enums import DeviceStatus, MessageMode
from .apps import app
from .common import EXIT_OK, EXIT_SOME_FAILED, err
from .common import examples as examples_text
from .connection import ConnectionSettings
from .jobs import ACTIONS, JobOptions, Mode, run_action
from .option_groups import OptionGroup, with_options
from .options import (
    JobFlags,
    MessageMacOpt,
    OutputOpt,
    QuietResendOpt,
    QuietYesOpt,
    Targets,
    job_options,
    target_options,
)
from .output import Column, choose_format, write_all
from .runner import run_with_client, usage_error
from .targets import TargetSpec, check_given, preflight_skips, resolve_targets
from .v2_filters import V2Access

__all__ = ["act"]

_NON_DESTRUCTIVE = job_options.replacing(yes=QuietYesOpt, resend_unknown=QuietResendOpt)
"""Lock, unlock, wakeup: nothing to confirm, nothing a resume would refuse to resend (the
two options are accepted, unlisted)."""
_JOB_OUTPUT = job_options.without("reason", "mode", "yes", "resend_unknown")
"""Locate, message, roaming, repush: no reason, no mode to choose, nothing to confirm."""
_BY_UUID = target_options.without("mac")
"""Roaming and repush take uuids only."""

_TARGETS_NOTE = (
    "Targets add up: every --uuid, --mac, --from-file and --query and the devices of the "
    "selection, each device once. A repeated --label, --status or --user means any of them; "
    "--status with --label or --user keeps the devices of that status. The filters "
    "(--platform, --os-version, --last-seen-*, --compliance, --quarantined, --blocked, "
    "--*-owned) narrow the selection; alone they filter the ACTIVE devices (or those of "
    "--status), on the server as an API v2 query when it offers v2 (--no-v2: on the "
    "client). Selected "
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

    spec = ACTIONS[action]

    async def job(epmm: EpmmClient) -> int:
        if spec.membership:  # before the targets are read: a clear "no v2" first
            await V2Access.of(epmm).require(f"label {spec.name.removeprefix('label_')}")
        statuses: dict[str, DeviceStatus | None] = {}
        resolved = await resolve_targets(epmm, targets, explicit, statuses)
        if targets.preflight:
            opts.skip = preflight_skips(spec.refused_states, statuses) or None
        if opts.dry_run:
            for line in targets.selection.count_lines():
                err.print(escape(line), highlight=False)
        opts.selection = targets.describe()  # after explicit(): file counts are known
        result = await run_action(epmm, spec, resolved, opts)
        return result.exit_code

    run_with_client(ctx, job, prepare=prepare)


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
    """Register lock/unlock/wipe/retire/wakeup: the same options, a different action; only
    the destructive ones (wipe, retire) take --yes and --resend-unknown."""
    destructive = core_actions.action_spec(action).destructive
    flags: OptionGroup[JobFlags] = job_options if destructive else _NON_DESTRUCTIVE

    def command(ctx: typer.Context, *, targets: Targets, job: JobFlags) -> None:
        act(ctx, action, targets.spec(), job.options())

    command.__doc__ = doc
    app.command(action, epilog=_epilog(*examples))(
        with_options(targets=target_options, job=flags)(command))


for _name, (_doc, _examples) in _STANDARD.items():
    _standard(_name, _doc, _examples)


@app.command("locate", epilog=_epilog(
    "epmm locate --uuid 05dad041-2235-4c81-9fb1-1dd3c15e0b30",
    "epmm locate --now --label \"Field Engineers\" --deadline 60 --report at.jsonl",
))
@with_options(targets=target_options, job=_JOB_OUTPUT)
def locate_cmd(
    ctx: typer.Context,
    *,
    targets: Targets,
    now: Annotated[bool, typer.Option("--now", help="Ask for a fresh fix and wait for it "
                   "(FRESH), or report the last known one (STALE, UNSUPPORTED on iOS).")] = False,
    deadline: Annotated[float, typer.Option(help="With --now: seconds to wait for a fresh "
                        "fix.")] = 90.0,
    interval: Annotated[float, typer.Option(help="With --now: seconds between polls.")] = 5.0,
    job: JobFlags,
) -> None:
    """Known locations of devices; with --now a fresh fix, polled until it lands."""
    spec = targets.spec()
    if deadline <= 0 or interval <= 0:
        usage_error("--deadline and --interval must be positive")
    act(ctx, "locate_now" if now else "locate", spec, job.options(
        mode=Mode.PER_DEVICE, deadline=deadline, interval=interval))


@app.command("message", epilog=_epilog(
    "epmm message --text \"Please update today\" --label Sales",
    "epmm message --text \"Hello\" --via email --subject \"IT\" --user jdoe",
    "epmm message --text \"Call IT\" --via sms --mac 38:aa:3c:62:bf:ad",
))
@with_options(targets=target_options.replacing(mac=MessageMacOpt), job=_JOB_OUTPUT)
def message_cmd(
    ctx: typer.Context,
    text: Annotated[str, typer.Option("--text", help="The message.")],
    via: Annotated[MessageMode, typer.Option("--via", help="pns (push), sms or email.")] = (
        MessageMode.PNS),
    subject: Annotated[str | None, typer.Option(help="Subject (email only).")] = None,
    *,
    targets: Targets,
    job: JobFlags,
) -> None:
    """Send a message to devices (bulk send-message: all uuids or all MACs)."""
    act(ctx, "message", targets.spec(), job.options(
        message=text, message_mode=via, subject=subject))


@app.command("roaming", epilog=_epilog(
    "epmm roaming --no-voice --no-data --from-file travellers.txt",
    "epmm roaming --voice --no-data --label iOS --dry-run",
))
@with_options(targets=_BY_UUID, job=_JOB_OUTPUT)
def roaming_cmd(
    ctx: typer.Context,
    voice: Annotated[bool | None, typer.Option(
        "--voice/--no-voice", help="Turn voice roaming on or off (required).",
        show_default=False)] = None,
    data: Annotated[bool | None, typer.Option(
        "--data/--no-data", help="Turn data roaming on or off (required; --no-voice turns it "
        "off too, so it needs --no-data).", show_default=False)] = None,
    *,
    targets: Targets,
    job: JobFlags,
) -> None:
    """Turn voice and data roaming on or off (iOS devices; others are refused). Both
    --voice/--no-voice and --data/--no-data must be given."""
    missing = [name for name, value in (("--voice or --no-voice", voice),
                                        ("--data or --no-data", data)) if value is None]
    if missing:
        usage_error(f"roaming needs {' and '.join(missing)}: say what to turn on or off")
    if voice is False and data is True:
        usage_error("--no-voice turns data roaming off too: use --no-voice --no-data")
    act(ctx, "roaming", targets.spec(), job.options(
        mode=Mode.PER_DEVICE, voice=bool(voice), data=bool(data)))


@app.command("repush", epilog=_epilog(
    "epmm repush --uuid 05dad041-2235-4c81-9fb1-1dd3c15e0b30",
    "epmm repush --label Sales --profile-id 7 --profile-type POLICY --dry-run",
))
@with_options(targets=_BY_UUID, job=_JOB_OUTPUT)
def repush_cmd(
    ctx: typer.Context,
    profile_id: Annotated[int | None, typer.Option(help="Re-push only this profile id.")] = None,
    profile_type: Annotated[str | None, typer.Option(help="APP or POLICY (with "
                            "--profile-id).")] = None,
    *,
    targets: Targets,
    job: JobFlags,
) -> None:
    """Re-push one profile, or all of them, to devices."""
    act(ctx, "repush", targets.spec(), job.options(
        mode=Mode.PER_DEVICE, profile_id=profile_id, profile_type=profile_type))


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
        write_all([reg], choose_format(output), columns, title="Registration")
        return EXIT_OK if reg.succeeded else EXIT_SOME_FAILED

    run_with_client(ctx, job)


def _platform(value: str) -> str:
    names = {"android": "A", "ios": "I", "windows": "E", "windows_phone": "M", "macos": "L"}
    return names.get(value.strip().lower().replace(" ", "_"), value)
