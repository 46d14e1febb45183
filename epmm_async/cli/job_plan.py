"""What a job is and how it will go: the action, the options, and the plan.

:func:`plan_job` validates the options and plans the job with the operations layer
(``epmm.ops.plan_*``), so what a dry-run shows is what the run sends; nothing is sent here
(MACs are looked up when the run needs their uuids).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from ..client import EpmmClient
from ..core import actions, requests
from ..core.requests import ApiRequest
from ..enums import BulkAction, DeviceStatus, MessageMode
from ..errors import ValidationError
from ..models import ActionResult, RoamingResult
from ..ops import JobPreview, JobSettings, Operations, Progress
from ..v2 import AmbiguousLabelError
from ..validation import MacAddress
from .common import EXIT_USAGE, CliError
from .output import OutputFormat
from .targets import Target

__all__ = [
    "ACTIONS",
    "BULK_THRESHOLD",
    "ActionSpec",
    "JobOptions",
    "JobPlan",
    "Mode",
    "ProgressRelay",
    "an",
    "choose_mode",
    "plan_job",
    "server_of",
]

BULK_THRESHOLD = 10
"""From this many uuid targets, ``--mode auto`` prefers the bulk endpoint."""


class Mode(enum.StrEnum):
    """``--mode``: how an action reaches the devices."""

    AUTO = "auto"
    BULK = "bulk"
    PER_DEVICE = "per-device"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action command: its words, and its facts from the action registry."""

    name: str
    verb: str = ""
    membership: bool = False
    """Static-label membership (API v2: ``label_add``, ``label_remove``): not in the action
    registry; no bulk form, no reason, nothing to confirm, no state it refuses."""

    @property
    def facts(self) -> actions.ActionSpec:
        """The registry's facts: method, reason rule, safety, destructive, bulk form."""
        return actions.ACTIONS[self.name]

    @property
    def bulk(self) -> BulkAction | None:
        """The bulk form, if the action has one."""
        return None if self.membership else self.facts.bulk

    @property
    def destructive(self) -> bool:
        """Wipe and retire: confirmed before sending, never resent once they may apply."""
        return not self.membership and self.facts.destructive

    @property
    def reason(self) -> str:
        """``required``, ``optional`` or ``none``."""
        return "none" if self.membership else self.facts.reason.value

    @property
    def refused_states(self) -> frozenset[DeviceStatus]:
        """The device states the action cannot apply to (pre-flight skips them)."""
        return frozenset() if self.membership else frozenset(self.facts.refused_states)

    @property
    def past(self) -> str:
        """``locked``, ``wiped``... for messages."""
        return self.verb or f"{self.name}ed"

    @property
    def label(self) -> str:
        """The action as the command spells it (``locate-now``)."""
        return self.name.replace("_", "-")


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec("lock", "locked"),
        ActionSpec("unlock", "unlocked"),
        ActionSpec("wipe", "wiped"),
        ActionSpec("retire", "retired"),
        ActionSpec("wakeup", "woken up"),
        ActionSpec("locate", "located"),
        ActionSpec("locate_now", "located"),
        ActionSpec("message", "messaged"),
        ActionSpec("roaming", "updated"),
        ActionSpec("repush", "re-pushed"),
        ActionSpec("label_add", "added", membership=True),
        ActionSpec("label_remove", "removed", membership=True),
    )
}


@dataclass(slots=True)
class JobOptions:
    """What the action options say besides the devices."""

    mode: Mode = Mode.AUTO
    reason: str | None = None
    dry_run: bool = False
    yes: bool = False
    journal: Path | None = None
    report: Path | None = None
    concurrency: int | None = None
    rate: float | None = None
    resend_unknown: bool = False
    deadline: float = 90.0
    interval: float = 5.0
    message: str | None = None
    message_mode: MessageMode = MessageMode.PNS
    subject: str | None = None
    voice: bool = True
    data: bool = True
    profile_id: int | None = None
    profile_type: str | None = None
    output: OutputFormat | None = None
    """``-o``: the per-device records on stdout. None: on a terminal a per-device table for
    jobs of at most :data:`SMALL_JOB` devices; in a pipe JSON lines, as the read commands."""
    quiet: bool = False
    """``-q``: print only results and errors (no progress, no summary)."""
    selection: str | None = None
    """The targets in words (``TargetSpec.describe()``), for the confirmation and dry-run."""
    command: list[str] | None = None
    """The command line after ``epmm``, for the resume hint (None: ``sys.argv[1:]``)."""
    records: bool = True
    """Write the per-device records on stdout (the demo turns them off)."""
    skip: dict[str, str] | None = None
    """Pre-flight: devices (uuid) not to send to, with the reason; reported SKIPPED."""
    label: str | None = None
    """Label membership: the static label's name."""
    max_uuids: int = 100
    """Label membership: uuids per request at most (``--max-uuids``)."""


class ProgressRelay:
    """The job's progress callback, fixed when the job is planned; the display that receives
    it is attached when the job starts (:attr:`target`)."""

    def __init__(self) -> None:
        """No display yet: progress reports are dropped until one is attached."""
        self.target: Callable[[Progress], None] | None = None

    def __call__(self, progress: Progress) -> None:
        """Pass one progress report on to the display, if any."""
        if self.target is not None:
            self.target(progress)


@dataclass(slots=True)
class JobPlan:
    """A job ready to run: how it goes, and the operations layer's plan of it."""

    spec: ActionSpec
    targets: list[Target]
    mode: Mode
    how: str
    """``bulk LOCK``, ``per device``, ``locate-now``..."""
    preview: JobPreview
    """What the run sends: devices, every request, a sample (``epmm.ops.plan_*``)."""
    request_note: str
    server: str
    """The server's URL, without credentials."""
    ops: Operations
    stop: anyio.Event
    relay: ProgressRelay

    @property
    def devices(self) -> int:
        """Devices the job accounts for (those found by MAC, and MACs no device has)."""
        return self.preview.total

    @property
    def requests(self) -> int:
        """Requests the run sends first (retries and locate-now polls aside)."""
        return len(self.preview.requests)


def server_of(epmm: EpmmClient) -> str:
    """The client's base URL without user, password, query or trailing slash."""
    return str(epmm.base_url.with_user(None)).rstrip("/")


def an(number: int) -> str:
    """``a`` or ``an`` before a number read aloud: an 8,190-byte, an 11-second, a 4,096."""
    digits = str(abs(number))
    eleven = digits[:2] in ("11", "18") and len(digits) % 3 == 2
    return "an" if digits.startswith("8") or eleven else "a"


def choose_mode(spec: ActionSpec, targets: Sequence[Target], opts: JobOptions) -> Mode:
    """Bulk or per device.

    ``auto`` picks per device when any target is a MAC (bulk takes uuids only), when the
    action has no bulk form, or when a reason is given (the bulk endpoint takes none); it
    picks bulk when the per-device form would need a reason that was not given (lock,
    unlock), or from :data:`BULK_THRESHOLD` devices on.
    """
    has_mac = any(isinstance(t, MacAddress) for t in targets)
    if opts.mode is Mode.BULK:
        if spec.bulk is None:
            raise CliError(f"{spec.name} has no bulk form; drop --mode bulk", EXIT_USAGE)
        if has_mac:
            raise CliError("the bulk endpoint takes uuids only, not MAC addresses; "
                           "use --mode per-device", EXIT_USAGE)
        if opts.reason is not None:
            raise CliError("the bulk endpoint takes no reason; drop --reason or use "
                           "--mode per-device", EXIT_USAGE)
        return Mode.BULK
    if opts.mode is Mode.PER_DEVICE or spec.bulk is None or has_mac:
        if spec.reason == "required" and opts.reason is None:
            raise CliError(f"{spec.name} per device requires --reason (at most 512 "
                           "characters)" + ("; or use uuids and the bulk endpoint, which "
                                            "takes none" if has_mac else ""), EXIT_USAGE)
        return Mode.PER_DEVICE
    if opts.reason is not None:
        return Mode.PER_DEVICE
    if spec.reason == "required" or len(targets) >= BULK_THRESHOLD:
        return Mode.BULK
    return Mode.PER_DEVICE


async def plan_job(epmm: EpmmClient, spec: ActionSpec, targets: list[Target],
                   opts: JobOptions) -> JobPlan:
    """Validate everything and plan the job with the operations layer, before anything is
    sent (MACs are looked up when the run would need their uuids)."""
    if opts.reason is not None and spec.reason == "none":
        raise CliError(f"{spec.name} takes no --reason", EXIT_USAGE)
    ops = epmm.ops
    stop = anyio.Event()
    relay = ProgressRelay()
    settings = JobSettings(
        concurrency=opts.concurrency,
        rate=opts.rate,
        journal=str(opts.journal) if opts.journal is not None else None,
        resend_unknown=opts.resend_unknown,
        progress=relay,
        stop=stop,
        skip=opts.skip,
    )
    limits = epmm.bulk_limits
    uuids = [t for t in targets if not isinstance(t, MacAddress)]
    name = spec.name

    def made(mode: Mode, how: str, preview: JobPreview, note: str) -> JobPlan:
        return JobPlan(spec, targets, mode, how, preview, note, server_of(epmm), ops, stop,
                       relay)

    try:
        if name == "message":
            text = opts.message
            if text is None or not text.strip():
                raise CliError("message needs --text", EXIT_USAGE)
            macs = [t for t in targets if isinstance(t, MacAddress)]
            if macs and uuids:
                raise CliError("message takes all uuids or all MAC addresses, not a mix",
                               EXIT_USAGE)
            kind, subject = opts.message_mode, opts.subject
            if subject is not None and kind is not MessageMode.EMAIL:
                raise CliError("--subject is valid only with --via email", EXIT_USAGE)
            preview = await ops.plan_send_message(targets, message=text, mode=kind,
                                                  subject=subject, settings=settings)
            return made(Mode.BULK, f"send-message ({kind.value})", preview,
                        "bulk send-message requests")

        if name == "locate_now":
            preview = await ops.plan_locate_now(targets, deadline=opts.deadline,
                                                interval=opts.interval, settings=settings)
            return made(Mode.PER_DEVICE, "locate-now", preview,
                        f"locate-now requests, then polls every {opts.interval:g}s for up "
                        f"to {opts.deadline:g}s (at most {preview.max_polls:,} per device)")

        if name in ("roaming", "repush"):
            macs = [t for t in targets if isinstance(t, MacAddress)]
            if macs:
                raise CliError(f"{name} takes uuids only, not MAC addresses ({macs[0]})",
                               EXIT_USAGE)
            if opts.mode is Mode.BULK:
                raise CliError(f"{name} has no bulk form; drop --mode bulk", EXIT_USAGE)
            build, call, params = _custom_call(epmm, name, opts)
            preview = await ops.plan_each(
                name, uuids, lambda u: call(str(u)), request=lambda u: build(str(u)),
                job_params=params, settings=settings)
            return made(Mode.PER_DEVICE, "per device", preview, "requests (one per device)")

        if spec.membership:
            return await _plan_membership(epmm, spec, targets, opts, settings, made)

        mode = choose_mode(spec, targets, opts)
        if mode is Mode.BULK:
            assert spec.bulk is not None
            preview = await ops.plan_bulk(spec.bulk, uuids, settings=settings)
            return made(mode, f"bulk {spec.bulk.value}", preview,
                        f"bulk requests (at most {limits.max_uuids:,} uuids and "
                        f"{an(limits.max_request_line)} {limits.max_request_line:,}-byte "
                        "request line each)")
        preview = await ops.plan_fan_out(name, targets, reason=opts.reason,
                                         settings=settings)
        return made(mode, "per device", preview, "requests (one per device)")
    except ValidationError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


async def _plan_membership(
    epmm: EpmmClient, spec: ActionSpec, targets: list[Target], opts: JobOptions,
    settings: JobSettings, made: Callable[[Mode, str, JobPreview, str], JobPlan],
) -> JobPlan:
    """Label add/remove: chunks of at most ``max_uuids`` (the label is looked up: an
    unknown or dynamic one is refused before anything is sent)."""
    if opts.label is None:
        raise CliError("label membership needs a label name", EXIT_USAGE)
    macs = [t for t in targets if isinstance(t, MacAddress)]
    if macs:
        raise CliError(f"label membership takes device uuids, not MAC addresses ({macs[0]}; "
                       "epmm devices show MAC gives its uuid)", EXIT_USAGE)
    plan = epmm.ops.plan_label_add if spec.name == "label_add" else epmm.ops.plan_label_remove
    try:
        preview = await plan(opts.label, [str(t) for t in targets], max_uuids=opts.max_uuids,
                             settings=settings)
    except AmbiguousLabelError as exc:  # two labels of the name: say which one, by hand
        raise CliError(f"{exc}; nothing was sent", EXIT_USAGE) from None
    verb = "add to" if spec.name == "label_add" else "remove from"
    return made(Mode.BULK, f"{verb} label {opts.label!r}", preview,
                f"membership requests (at most {opts.max_uuids:,} uuids each)")


def _custom_call(epmm: EpmmClient, name: str, opts: JobOptions) -> tuple[
    Callable[[str], ApiRequest],
    Callable[[str], Awaitable[ActionResult | RoamingResult]],
    dict[str, str],
]:
    """For roaming and re-push: the request (for the plan), the call, and its parameters."""
    if name == "roaming":
        voice, data = opts.voice, opts.data
        return (
            lambda u: requests.enable_roaming(u, voice=voice, data=data),
            lambda u: epmm.devices.set_roaming(u, voice=voice, data=data),
            {"voice": str(voice), "data": str(data)},
        )
    pid, ptype = opts.profile_id, opts.profile_type
    # Checked before any device is read or looked up.
    requests.repush_profile("00000000-0000-0000-0000-000000000000", pid, ptype)
    return (
        lambda u: requests.repush_profile(u, pid, ptype),
        lambda u: epmm.devices.repush_profile(u, pid, ptype),
        {"id": str(pid), "type": str(ptype)},
    )
