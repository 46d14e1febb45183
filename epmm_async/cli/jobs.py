"""Running an action over many devices: mode, dry-run, confirmation, progress, records, report,
summary.

Every action command (and the demo) goes through :func:`run_action`. It plans the job with the
operations layer (:func:`plan_job`: ``epmm.ops.plan_*``, so what a dry-run shows is what the run
sends), shows that plan instead of sending with ``--dry-run``, asks before wiping or retiring,
runs exactly that plan (``epmm.ops.stream_plan``) with a progress display and a Ctrl-C handler,
writes one record per device on stdout (``-o``) and the ``--report`` file, and prints the
summary on stderr. The exit code follows from the outcomes (:func:`exit_code`).

What goes where: stdout carries the per-device records and nothing else (a dry-run's plan is
its result, so it goes there too); progress, the summary, the resume hint and errors go to
stderr. ``-q`` keeps only the records and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as _dt
import enum
import json
import os
import shlex
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
import msgspec
import typer
from rich.markup import escape
from rich.table import Table

from ..client import EpmmClient
from ..core import actions, requests
from ..core.redact import REDACTED, redact_url
from ..core.requests import ApiRequest
from ..enums import BulkAction, MessageMode
from ..errors import ValidationError
from ..models import ActionResult, RoamingResult
from ..ops import (
    JobPreview,
    JobSettings,
    Operations,
    Outcome,
    OutcomeStatus,
    PlannedRequest,
    Progress,
)
from ..validation import MacAddress
from .common import (
    EXIT_CONNECTION,
    EXIT_OK,
    EXIT_PIPE_CLOSED,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliError,
    cli_words,
    err,
    out,
    stdin_is_terminal,
)
from .connection import profile_note
from .output import OutputFormat, encode_json
from .progress import STATUS_STYLE, JobProgress, counts_text
from .targets import Target

__all__ = [
    "ACTIONS",
    "RECORD_FIELDS",
    "ActionSpec",
    "DeviceRecord",
    "JobOptions",
    "JobPlan",
    "JobResult",
    "Mode",
    "an",
    "command_line",
    "exit_code",
    "outcomes_in_words",
    "plan_job",
    "resume_hint",
    "run_action",
]

BULK_THRESHOLD = 10
"""From this many uuid targets, ``--mode auto`` prefers the bulk endpoint."""

SMALL_JOB = 20
"""Without ``-o``, on a terminal, jobs of at most this many devices get a per-device table."""

_CONNECTION_ERRORS = frozenset({"ConnectError", "TlsError", "AuthenticationError",
                                "ForbiddenError"})


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

    @property
    def facts(self) -> actions.ActionSpec:
        """The registry's facts: method, reason rule, safety, destructive, bulk form."""
        return actions.ACTIONS[self.name]

    @property
    def bulk(self) -> BulkAction | None:
        """The bulk form, if the action has one."""
        return self.facts.bulk

    @property
    def destructive(self) -> bool:
        """Wipe and retire: confirmed before sending, never resent once they may apply."""
        return self.facts.destructive

    @property
    def reason(self) -> str:
        """``required``, ``optional`` or ``none``."""
        return self.facts.reason.value

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
    live_progress: bool | None = None
    """Force the progress bar on or off (None: on a terminal)."""
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


class _ProgressRelay:
    """The job's progress callback, fixed when the job is planned; the display that receives
    it is attached when the job starts."""

    def __init__(self) -> None:
        self.target: Callable[[Progress], None] | None = None

    def __call__(self, progress: Progress) -> None:
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
    relay: _ProgressRelay

    @property
    def devices(self) -> int:
        """Devices the job accounts for (those found by MAC, and MACs no device has)."""
        return self.preview.total

    @property
    def requests(self) -> int:
        """Requests the run sends first (retries and locate-now polls aside)."""
        return len(self.preview.requests)

    @property
    def sample_request(self) -> ApiRequest | None:
        """The first request, or None."""
        sample = self.preview.sample
        return sample.request if sample is not None else None


@dataclass(slots=True)
class JobResult:
    """What a job did, for the summary and the exit code."""

    action: str
    how: str
    total: int
    counts: Counter[str] = field(default_factory=Counter)
    freshness: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, Counter[str]] = field(default_factory=dict)
    """Outcomes by status, then by reason code ("" for none)."""
    requests: int = 0
    elapsed: float = 0.0
    from_journal: int = 0
    aborted: str | None = None
    connection_failures: int = 0
    connection_error: str | None = None
    """The first connection or authentication failure's error, if any."""
    interrupted: bool = False
    pipe_closed: bool = False
    """stdout's reader went away mid-job: the job stopped sending (exit 141)."""
    report: Path | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    """The first outcomes (at most 50), for a small job's table."""
    server: str = ""
    journal: Path | None = None

    @property
    def exit_code(self) -> int:
        """0 all succeeded, 3 aborted on connection/authentication, else 1."""
        return exit_code(self)

    @property
    def done(self) -> int:
        """Devices with a final outcome (succeeded or invalid): a resume does not redo them."""
        return self.counts.get("succeeded", 0) + self.counts.get("invalid", 0)


def exit_code(result: JobResult) -> int:
    """The exit code of a job: 0 when every device succeeded, 3 when the job was aborted
    (or every failure was a connection or authentication failure and nothing succeeded),
    1 otherwise."""
    if result.pipe_closed:
        return EXIT_PIPE_CLOSED
    ok = result.counts.get(OutcomeStatus.SUCCEEDED.value, 0)
    if ok == result.total:
        return EXIT_OK
    if result.aborted is not None:
        return EXIT_CONNECTION
    if ok == 0 and result.connection_failures and result.connection_failures == (
        result.total - result.counts.get(OutcomeStatus.CANCELLED.value, 0)
    ):
        return EXIT_CONNECTION
    return EXIT_SOME_FAILED


def server_of(epmm: EpmmClient) -> str:
    """The client's base URL without user, password, query or trailing slash."""
    return str(epmm.transport.base_url.with_user(None)).rstrip("/")


def an(number: int) -> str:
    """``a`` or ``an`` before a number read aloud: an 8,190-byte, an 11-second, a 4,096."""
    digits = str(abs(number))
    eleven = digits[:2] in ("11", "18") and len(digits) % 3 == 2
    return "an" if digits.startswith("8") or eleven else "a"


# -- planning ---------------------------------------------------------------------------------


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
    relay = _ProgressRelay()
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


# -- dry run and confirmation -------------------------------------------------------------------


def _sizes_text(sizes: Sequence[int]) -> str:
    """``160, 40`` for a few chunks; ``312 × 160, 1 × 80`` for many."""
    if len(sizes) <= 6:
        return ", ".join(f"{n:,}" for n in sizes)
    runs: list[list[int]] = []
    for n in sizes:
        if runs and runs[-1][1] == n:
            runs[-1][0] += 1
        else:
            runs.append([1, n])
    return ", ".join(f"{count:,} × {n:,}" for count, n in runs)


def _request_line(req: PlannedRequest, limit: int = 160) -> str:
    line = f"{req.method} {req.target}"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def dry_run_record(plan: JobPlan, opts: JobOptions) -> dict[str, object]:
    """The plan as one JSON object (``--dry-run -o json``/``jsonl``)."""
    preview = plan.preview
    sample = preview.sample
    return {
        "dry_run": True,
        "server": plan.server,
        "selection": selection_of(plan, opts),
        "action": plan.spec.name,
        "mode": plan.mode.value,
        "how": plan.how,
        "device_count": plan.devices,
        "devices": list(preview.devices),
        "not_found": [o.device for o in preview.early
                      if o.status is not OutcomeStatus.SKIPPED],
        "skipped": {o.device: o.reason for o in preview.early
                    if o.status is OutcomeStatus.SKIPPED},
        "requests": plan.requests,
        "chunk_sizes": preview.chunk_sizes,
        "first_request": None if sample is None else {
            "method": sample.method, "target": sample.target, "devices": len(sample.devices),
        },
        "mac_lookups": preview.lookups,
        "max_polls_per_device": preview.max_polls,
        "journal": str(opts.journal) if opts.journal is not None else None,
    }


def show_dry_run(plan: JobPlan, opts: JobOptions) -> None:
    """Print what the job would send, and that nothing was sent (stdout: it is the result).

    ``-o json``/``jsonl``: the plan as one JSON object; ``-o csv``: one row per request.
    """
    fmt = opts.output
    if fmt in (OutputFormat.JSON, OutputFormat.JSONL):
        record = dry_run_record(plan, opts)
        text = encode_json(record)
        if fmt is OutputFormat.JSON:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    if fmt is OutputFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["request", "method", "target", "devices"])
        for n, req in enumerate(plan.preview.requests, 1):
            writer.writerow([n, req.method, req.target, len(req.devices)])
        sys.stdout.flush()
        return
    preview = plan.preview
    rows = [("server", plan.server), ("selection", selection_of(plan, opts))]
    action = plan.spec.label if plan.how == plan.spec.label else (
        f"{plan.spec.label}, {plan.how}")
    rows += [("action", action), ("devices", f"{plan.devices:,}")]
    early = [o for o in preview.early if o.status is not OutcomeStatus.SKIPPED]
    if early:
        missing = ", ".join(o.device for o in early[:3])
        more = f", ... ({len(early) - 3:,} more)" if len(early) > 3 else ""
        rows.append(("not found", f"{len(early):,} MAC address(es) name no device "
                                  f"(reported invalid): {missing}{more}"))
    skipped = Counter(o.reason for o in preview.early if o.status is OutcomeStatus.SKIPPED)
    if skipped:
        rows.append(("skipped", ", ".join(f"{n:,} {why}" for why, n in skipped.items())
                     + " (pre-flight: not sent; --no-preflight sends them)"))
    rows.append(("requests", f"{plan.requests:,} {plan.request_note}"))
    if plan.mode is Mode.BULK and preview.requests:
        rows.append(("devices each", _sizes_text(preview.chunk_sizes)))
    sample = ", ".join(preview.devices[:5])
    if len(preview.devices) > 5:
        sample += f", ... ({len(preview.devices) - 5:,} more)"
    rows.append(("sample", sample or "(none)"))
    first = preview.sample
    if first is not None:
        rows.append(("first request",
                     f"{_request_line(first)} ({len(first.devices):,} device(s))"))
    if preview.lookups:
        rows.append(("look-ups", f"{preview.lookups:,} MAC look-up(s) made to plan this "
                                 "(reads; nothing was acted on)"))
    if opts.journal is not None:
        rows.append(("journal", f"{opts.journal}: devices it already records are carried "
                                "over, not sent again"))
    out.print("[bold yellow]DRY RUN[/]: nothing was sent.")
    for key, value in rows:
        out.print(f"  [bold]{key + ':':<15}[/]{escape(value)}", highlight=False)


def describe_targets(targets: Sequence[Target]) -> str:
    """The targets in words when the command gave no description: ``12 uuids + MAC X``."""
    macs = [t for t in targets if isinstance(t, MacAddress)]
    uuids = [t for t in targets if not isinstance(t, MacAddress)]
    parts = []
    if uuids:
        parts.append(f"uuid {uuids[0]}" if len(uuids) == 1 else f"{len(uuids):,} uuids")
    if macs:
        parts.append(f"MAC {macs[0]}" if len(macs) == 1 else f"{len(macs):,} MACs")
    return " + ".join(parts) or "no devices"


def selection_of(plan: JobPlan, opts: JobOptions) -> str:
    """What the command was asked to act on: its own words, else the targets counted."""
    return opts.selection or describe_targets(plan.targets)


def confirm(plan: JobPlan, opts: JobOptions) -> None:
    """Ask before a destructive job: type the number of devices (or pass --yes).

    The question names the server, the selection and the count.
    """
    if not plan.spec.destructive or opts.yes or opts.dry_run:
        return
    n = plan.devices
    what = f"{n:,} device(s) on {plan.server}{profile_note()}"
    chosen = selection_of(plan, opts)
    if not stdin_is_terminal():
        raise CliError(
            f"refusing to {plan.spec.name} {what} ({chosen}) without confirmation: no "
            "terminal to ask on; pass --yes", EXIT_USAGE,
        )
    err.print(f"[bold red]{escape(plan.spec.name.upper())} {escape(what)}[/]", highlight=False)
    err.print(f"  selection: {escape(chosen)}", highlight=False)
    err.print(f"  {escape(plan.how)}" + (f", reason {opts.reason!r}" if opts.reason else "")
              + ". This cannot be undone.", highlight=False)
    answer = typer.prompt(f"Type the number of devices ({n}) to confirm", default="",
                          show_default=False, err=True)
    if answer.strip().replace(",", "") != str(n):
        raise CliError(f"not confirmed: nothing was {plan.spec.past}", EXIT_USAGE)


# -- per-device records ---------------------------------------------------------------------------


class DeviceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One device's outcome as ``-o`` writes it: the same fields in every format and mode."""

    device: str
    action: str
    """The registry's lower-case name (``lock``, ``locate_now``), bulk or per device."""
    status: str
    reason: str | None
    attempts: int
    from_journal: bool
    mac: str | None
    error: str | None
    detail: str | None
    passcode: str | None
    freshness: str | None
    latitude: float | None
    longitude: float | None
    captured_at: _dt.datetime | None

    @classmethod
    def of(cls, outcome: Outcome, action: str) -> DeviceRecord:
        """The record of one outcome, under the job's ``action`` name."""
        loc = outcome.location
        return cls(
            device=outcome.device,
            action=action,
            status=outcome.status.value,
            reason=outcome.reason,
            attempts=outcome.attempts,
            from_journal=outcome.from_journal,
            mac=outcome.mac,
            error=cli_words(outcome.error) if outcome.error else None,
            detail=outcome.detail,
            passcode=outcome.passcode,
            freshness=outcome.freshness.value if outcome.freshness else None,
            latitude=loc.latitude if loc is not None else None,
            longitude=loc.longitude if loc is not None else None,
            captured_at=loc.captured_at if loc is not None else None,
        )


RECORD_FIELDS = tuple(f.name for f in msgspec.structs.fields(DeviceRecord))


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return str(value)


def _detail(record: DeviceRecord) -> str:
    bits = []
    if record.passcode:
        bits.append(f"passcode {record.passcode}")
    if record.freshness is not None:
        bits.append(record.freshness)
    if record.latitude is not None and record.longitude is not None:
        when = record.captured_at.isoformat() if record.captured_at else "?"
        bits.append(f"{record.latitude:.5f},{record.longitude:.5f} at {when}")
    if record.error:
        bits.append(record.error)
    elif record.detail:
        bits.append(record.detail)
    if record.from_journal:
        bits.append("from the journal")
    return "; ".join(bits)


class RecordSink:
    """Writes the per-device records on stdout as outcomes arrive (JSON lines, a JSON array,
    CSV with a fixed header), or a table at the end."""

    def __init__(self, fmt: OutputFormat | None, *, expected: int, enabled: bool = True) -> None:
        """``fmt`` None: a table of a small job on a terminal, JSON lines in a pipe."""
        self.table_rows: list[DeviceRecord] | None = None
        self.fmt: OutputFormat | None
        if not enabled:
            self.fmt = None
        elif fmt is not None:
            self.fmt = fmt
        elif out.is_terminal:
            self.fmt = OutputFormat.TABLE if expected <= SMALL_JOB else None
        else:
            self.fmt = OutputFormat.JSONL
        if self.fmt is OutputFormat.TABLE:
            self.table_rows = []
        self.count = 0
        self._csv: Any = None

    def write(self, record: DeviceRecord) -> None:
        """One device's record."""
        fmt = self.fmt
        if fmt is None:
            return
        stream = sys.stdout
        if fmt is OutputFormat.TABLE:
            assert self.table_rows is not None
            self.table_rows.append(record)
        elif fmt is OutputFormat.JSONL:
            stream.write(encode_json(record) + "\n")
        elif fmt is OutputFormat.JSON:
            stream.write(("[\n" if self.count == 0 else ",\n") + encode_json(record))
        else:
            if self._csv is None:
                self._csv = csv.writer(stream, lineterminator="\n")
                self._csv.writerow(RECORD_FIELDS)
            self._csv.writerow([_csv_cell(getattr(record, name)) for name in RECORD_FIELDS])
        self.count += 1

    def close(self) -> None:
        """Finish: the table, the end of the JSON array, the CSV header of an empty job."""
        fmt = self.fmt
        if fmt is OutputFormat.TABLE:
            assert self.table_rows is not None
            if self.table_rows:
                # The uuid is never folded (it must copy whole); an empty column is dropped.
                reasons = any(r.reason for r in self.table_rows)
                table = Table(show_header=True, header_style="bold")
                table.add_column("device", no_wrap=True)
                table.add_column("status", no_wrap=True)
                if reasons:
                    table.add_column("reason", overflow="fold")
                table.add_column("detail", overflow="fold")
                for r in self.table_rows:
                    cells = [r.device, r.status, *([r.reason or ""] if reasons else []),
                             _detail(r)]
                    table.add_row(*cells)
                out.print(table)
        elif fmt is OutputFormat.JSON:
            sys.stdout.write("[]\n" if self.count == 0 else "\n]\n")
        elif fmt is OutputFormat.CSV and self._csv is None:
            csv.writer(sys.stdout, lineterminator="\n").writerow(RECORD_FIELDS)
        if fmt is not None:
            sys.stdout.flush()


class ReportWriter:
    """``--report FILE``: one line per device, JSON lines (or CSV when it ends in .csv)."""

    CSV_FIELDS = ("device", "action", "status", "reason", "error", "error_type", "http_status",
                  "attempts", "elapsed", "passcode", "freshness", "latitude", "longitude",
                  "captured_at", "polls", "from_journal", "mac", "detail")

    def __init__(self, path: Path) -> None:
        """Open (truncate) the file."""
        self.path = path
        self.csv = path.suffix.lower() == ".csv"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise CliError(f"cannot write report {path}: {exc.strerror}", EXIT_USAGE) from None
        self._csv: Any = None
        if self.csv:
            self._csv = csv.writer(self._file, lineterminator="\n")
            self._csv.writerow(self.CSV_FIELDS)

    def write(self, outcome: Outcome) -> None:
        """Append one device's outcome."""
        if not self.csv:
            self._file.write(encode_json(outcome) + "\n")
            return
        loc = outcome.location
        self._csv.writerow([
            outcome.device, outcome.action, outcome.status.value, outcome.reason or "",
            cli_words(outcome.error or ""), outcome.error_type or "", outcome.http_status or "",
            outcome.attempts, f"{outcome.elapsed:.3f}", outcome.passcode or "",
            outcome.freshness.value if outcome.freshness else "",
            "" if loc is None or loc.latitude is None else loc.latitude,
            "" if loc is None or loc.longitude is None else loc.longitude,
            "" if loc is None or loc.captured_at is None else loc.captured_at.isoformat(),
            outcome.polls or "", "true" if outcome.from_journal else "false",
            outcome.mac or "", outcome.detail or "",
        ])

    def flush(self) -> None:
        """Push what was written to the file."""
        self._file.flush()

    def close(self) -> None:
        """Flush and close."""
        self._file.close()


# -- running ----------------------------------------------------------------------------------


def command_line(opts: JobOptions) -> str:
    """The command as typed (``epmm`` and its arguments), shell-quoted, with any URL's
    credentials removed: what the resume hint shows."""
    words = list(opts.command) if opts.command is not None else sys.argv[1:]

    def no_user(url: str) -> str:
        # The user info goes altogether (the password may be anywhere before the last '@'),
        # so the command stays runnable: the password comes from its usual sources.
        return redact_url(url).replace(f"{REDACTED}@", "", 1)

    def clean(word: str) -> str:
        if "@" not in word or "//" not in word:
            return word
        if word.startswith("--") and "=" in word:
            option, _, value = word.partition("=")
            return f"{option}={no_user(value)}"
        return no_user(word)

    return shlex.join(["epmm", *(clean(w) for w in words)])


def resume_hint(opts: JobOptions) -> str:
    """How to finish a job that was stopped or aborted."""
    if opts.journal is not None:
        return ("to resume, run the same command; devices the journal records as done are "
                f"carried over, not resent:\n  {command_line(opts)}")
    return ("not resumable: this run had no --journal, so running it again sends every "
            "device again; pass --journal FILE to make a job resumable")


def print_resume_hint(opts: JobOptions) -> None:
    """:func:`resume_hint` on stderr; the command line is never folded, so it copies whole."""
    text, _, command = resume_hint(opts).partition("\n")
    err.print(escape(text), highlight=False)
    if command:
        err.print(escape(command), highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _sigint_stops(
    stop: anyio.Event, label: str, on_abort: Callable[[], None], opts: JobOptions
) -> Iterator[None]:
    """First Ctrl-C: set ``stop`` (no new requests, waits end, the rest cancelled); second:
    abort at once, leaving the requests on the wire to the server.

    Aborting does not wait for the answers: with a journal, each destructive request that
    was sent was made durable as pending first, so a resumed run reports those devices
    UNKNOWN instead of sending them again.
    """
    loop = asyncio.get_running_loop()
    pressed = 0

    def on_sigint() -> None:
        nonlocal pressed
        pressed += 1
        if pressed == 1:
            err.print(f"\n[bold yellow]Stopping {label}[/]: no new requests; requests on the "
                      "wire finish. Ctrl-C again to abort at once.")
            stop.set()
            return
        on_abort()
        note = (" Devices whose request was on the wire resume as unknown, not resent."
                if opts.journal is not None else "")
        err.print(f"\n[bold red]Aborted[/] {label}: answers to requests on the wire were not "
                  f"awaited.{note}", highlight=False)
        print_resume_hint(opts)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


async def execute(plan: JobPlan, opts: JobOptions) -> JobResult:
    """Run a planned job with progress, Ctrl-C handling, the records and the report; no
    summary."""
    total = plan.devices
    result = JobResult(action=plan.spec.name, how=plan.how, total=total, report=opts.report,
                       server=plan.server, journal=opts.journal)
    sink = RecordSink(opts.output, expected=total, enabled=opts.records)
    if total == 0:
        sink.close()
        return result
    report = ReportWriter(opts.report) if opts.report is not None else None
    label = plan.spec.label
    started = time.monotonic()
    try:
        with JobProgress(label, total, live=opts.live_progress,
                         enabled=not opts.quiet) as progress, \
                _sigint_stops(plan.stop, label, report.flush if report else lambda: None,
                              opts):
            plan.relay.target = progress.update
            stream = plan.ops.stream_plan(plan.preview)
            try:
                async for outcome in stream:
                    _count(result, outcome)
                    if report is not None:
                        report.write(outcome)
                    try:
                        sink.write(DeviceRecord.of(outcome, plan.spec.name))
                    except BrokenPipeError:
                        # The reader went away (`| head`): stop sending, as on Ctrl-C; the
                        # devices on the wire finish and are journalled, and the summary and
                        # resume hint still reach stderr. Exit 141, as Unix tools do.
                        result.pipe_closed = True
                        sink.fmt = None
                        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                        plan.stop.set()
            finally:
                await stream.aclose()
                plan.relay.target = None
        # One outcome per distinct device: a device named twice (by uuid and by MAC) counts
        # once, so the job's size is what it accounted for.
        result.total = sum(result.counts.values())
        if progress.last is not None:
            result.requests = progress.last.requests
    except ValidationError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    finally:
        if report is not None:
            report.close()
        # Even after an error: a JSON array is closed over the devices written so far.
        sink.close()
        result.elapsed = time.monotonic() - started
    result.interrupted = plan.stop.is_set() and not result.pipe_closed
    return result


def _count(result: JobResult, outcome: Outcome) -> None:
    status = outcome.status.value
    result.counts[status] += 1
    result.reasons.setdefault(status, Counter())[outcome.reason or ""] += 1
    if outcome.freshness is not None:
        result.freshness[outcome.freshness.value] += 1
    if outcome.from_journal:
        result.from_journal += 1
    if outcome.status is OutcomeStatus.SKIPPED and not outcome.from_journal:
        result.aborted = result.aborted or (cli_words(outcome.error) if outcome.error else None)
    if outcome.error_type in _CONNECTION_ERRORS and not outcome.from_journal:
        result.connection_failures += 1
        result.connection_error = result.connection_error or (
            cli_words(outcome.error) if outcome.error else None)
    if len(result.outcomes) < 50:
        result.outcomes.append(outcome)


_REASON_WORDS = {
    "not_found": "not found",
    "invalid_device": "listed invalid by the server",
    "invalid_id": "malformed id",
    "unlock_not_possible": "unlock not possible",
    "unlock_failed": "unlock failed",
    "lookup_failed": "MAC look-up failed",
    "not_sent": "not sent",
    "partly_sent": "partly sent",
    "call_raised": "call raised",
    "connect_error": "could not connect",
    "transport_error": "connection failed",
    "server_error": "server error",
    "rate_limited": "rate limited",
    "request_too_large": "request too large",
    "invalid_action": "action refused",
}


def breakdown(result: JobResult, status: str) -> str:
    """``31 wiped, 15 retired``: a status's outcomes by reason (locations by freshness for
    succeeded locate-now devices); empty when there is nothing to add."""
    if status == OutcomeStatus.SUCCEEDED.value and result.freshness:
        return ", ".join(f"{result.freshness[k]:,} {k}"
                         for k in ("fresh", "stale", "unsupported") if result.freshness.get(k))
    by = result.reasons.get(status, Counter())
    if not by or set(by) == {""}:
        return ""
    if len(by) == 1:
        (code,) = by
        return _REASON_WORDS.get(code, code.replace("_", " "))
    return ", ".join(f"{n:,} {_REASON_WORDS.get(code, code.replace('_', ' ')) or 'other'}"
                     for code, n in by.most_common())


def outcomes_in_words(result: JobResult, spec: ActionSpec) -> str:
    """``2,200 locked, 46 invalid (31 wiped, 15 retired)``; for locate-now the located
    devices by freshness (``150 fresh, 40 stale, 10 unsupported``)."""
    parts: list[str] = []
    for status in OutcomeStatus:
        n = result.counts.get(status.value, 0)
        if not n:
            continue
        detail = breakdown(result, status.value)
        if status is OutcomeStatus.SUCCEEDED:
            parts.append(detail if result.freshness else f"{n:,} {spec.past}")
        else:
            parts.append(f"{n:,} {status.value}" + (f" ({detail})" if detail else ""))
    return ", ".join(parts) or "no devices"


def print_summary(result: JobResult, opts: JobOptions | None = None) -> None:
    """The end-of-job summary on stderr: the server, counts by status and reason, requests,
    time, the journal, the report, why the job stopped and how to resume it."""
    opts = opts or JobOptions()
    quiet = opts.quiet
    if not quiet:
        where = f" on {result.server}{profile_note()}" if result.server else ""
        err.print(f"[bold]{escape(result.action.replace('_', '-'))} summary[/] "
                  f"({escape(result.how)}){escape(where)}", highlight=False)
        present = [s.value for s in OutcomeStatus if result.counts.get(s.value)]
        width = max((len(f"{result.counts[s]:,}") for s in present), default=1)
        for status in present:
            n = result.counts[status]
            detail = breakdown(result, status)
            err.print(f"  [{STATUS_STYLE[status]}]{status:<9}[/] {n:>{width},}"
                      + (f": {escape(detail)}" if detail else ""), highlight=False)
        line = (f"{result.total:,} device(s), {result.requests:,} request(s) in "
                f"{result.elapsed:.1f}s")
        if result.from_journal:
            line += f"; {result.from_journal:,} carried over from the journal (not resent)"
        err.print(line, highlight=False)
        if result.report is not None:
            err.print(f"report: {escape(str(result.report))}", highlight=False)
        if result.interrupted:
            err.print("[yellow]interrupted: devices not yet sent are reported cancelled[/]")
        if result.pipe_closed:
            err.print("[yellow]stdout was closed: the job stopped sending; devices not yet "
                      "sent are reported cancelled[/]")
    failed_to_connect = result.exit_code == EXIT_CONNECTION
    if result.aborted:
        err.print(f"[bold red]{escape(result.aborted)}[/]", highlight=False)
    elif failed_to_connect and result.connection_error:
        err.print(f"[bold red]every device failed: {escape(result.connection_error)}[/]",
                  highlight=False)
    if (result.interrupted or result.pipe_closed or failed_to_connect) and (
        result.done < result.total
    ):
        print_resume_hint(opts)


async def run_action(
    epmm: EpmmClient, spec: ActionSpec, targets: list[Target], opts: JobOptions,
) -> JobResult:
    """Plan, confirm, run and summarise an action; returns the result (see ``exit_code``).

    With ``dry_run`` nothing is sent and the result has no outcomes (exit code 0).
    """
    plan = await plan_job(epmm, spec, targets, opts)
    if plan.devices == 0:
        if not opts.quiet:
            err.print("[yellow]no devices matched: nothing to do[/]")
        if opts.records and not opts.dry_run:
            RecordSink(opts.output, expected=0).close()
        return JobResult(action=spec.name, how=plan.how, total=0, server=plan.server)
    if opts.dry_run:
        show_dry_run(plan, opts)
        return JobResult(action=spec.name, how=plan.how, total=0, server=plan.server)
    confirm(plan, opts)
    result = await execute(plan, opts)
    print_summary(result, opts)
    return result


def outcome_counts_line(result: JobResult) -> str:
    """``succeeded 10 · failed 2`` for compact displays."""
    return counts_text(dict(result.counts), markup=True)
