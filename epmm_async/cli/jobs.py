"""Running an action over many devices: mode, dry-run, confirmation, progress, report, summary.

Every action command (and the demo) goes through :func:`run_action`: it plans the job
(:func:`plan_job`), shows it instead of sending with ``--dry-run``, asks before wiping or
retiring, runs it with a progress display and a Ctrl-C handler, writes the per-device report
and prints the summary. The exit code follows from the outcomes (:func:`exit_code`).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import enum
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
import typer
from rich.markup import escape
from rich.table import Table

from ..client import EpmmClient
from ..core import actions, requests
from ..core.requests import ApiRequest
from ..enums import BulkAction, MessageMode
from ..errors import ValidationError
from ..models import ActionResult, RoamingResult
from ..ops import JobSettings, Outcome, OutcomeStatus, plan_chunks
from ..validation import MacAddress
from .common import (
    EXIT_CONNECTION,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliError,
    err,
    out,
    stdin_is_terminal,
)
from .output import encode_json
from .progress import JobProgress, counts_text
from .targets import Target

__all__ = [
    "ACTIONS",
    "ActionSpec",
    "JobOptions",
    "JobPlan",
    "JobResult",
    "Mode",
    "exit_code",
    "plan_job",
    "run_action",
]

BULK_THRESHOLD = 10
"""From this many uuid targets, ``--mode auto`` prefers the bulk endpoint."""

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


@dataclass(slots=True)
class JobPlan:
    """A job ready to run: how, how many requests, and the stream that runs it."""

    spec: ActionSpec
    targets: list[Target]
    mode: Mode
    how: str
    """``bulk LOCK``, ``per device``, ``locate-now``..."""
    requests: int | None
    request_note: str
    sample_request: ApiRequest | None
    stream: Callable[[JobSettings], AsyncIterator[Outcome]]


@dataclass(slots=True)
class JobResult:
    """What a job did, for the summary and the exit code."""

    action: str
    how: str
    total: int
    counts: Counter[str] = field(default_factory=Counter)
    freshness: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    elapsed: float = 0.0
    from_journal: int = 0
    aborted: str | None = None
    connection_failures: int = 0
    interrupted: bool = False
    report: Path | None = None
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all succeeded, 3 aborted on connection/authentication, else 1."""
        return exit_code(self)


def exit_code(result: JobResult) -> int:
    """The exit code of a job: 0 when every device succeeded, 3 when the job was aborted
    (or every failure was a connection or authentication failure and nothing succeeded),
    1 otherwise."""
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


def plan_job(epmm: EpmmClient, spec: ActionSpec, targets: list[Target],
             opts: JobOptions) -> JobPlan:
    """Validate everything and decide how the job runs, before anything is sent."""
    if opts.reason is not None and spec.reason == "none":
        raise CliError(f"{spec.name} takes no --reason", EXIT_USAGE)
    limits = epmm.bulk_limits
    base = epmm.transport.base_path
    ops = epmm.ops
    conc = opts.concurrency
    rate = opts.rate
    uuids = [t for t in targets if not isinstance(t, MacAddress)]
    name = spec.name

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

        def build_msg(chunk: Sequence[str]) -> ApiRequest:
            return requests.send_message(chunk, message=text, mode=kind, subject=subject,
                                         by_mac=bool(macs))

        chunks = list(plan_chunks([str(t) for t in targets], build_msg,
                                  max_ids=limits.max_uuids,
                                  max_request_line=epmm.request_budget(), base_path=base))
        return JobPlan(
            spec, targets, Mode.BULK, f"send-message ({kind.value})", len(chunks),
            "bulk send-message requests",
            build_msg(chunks[0]) if chunks else None,
            lambda s: ops.stream_send_message(targets, message=text, mode=kind,
                                              subject=subject, settings=s, concurrency=conc),
        )

    if name == "locate_now":
        return JobPlan(
            spec, targets, Mode.PER_DEVICE, "locate-now", len(targets),
            f"locate-now requests, then polls every {opts.interval:g}s for up to "
            f"{opts.deadline:g}s",
            requests.locate(targets[0], True) if targets else None,
            lambda s: ops.stream_locate_now(targets, deadline=opts.deadline,
                                            interval=opts.interval,
                                            concurrency=conc or 16, settings=s),
        )

    if name in ("roaming", "repush"):
        macs = [t for t in targets if isinstance(t, MacAddress)]
        if macs:
            raise CliError(f"{name} takes uuids only, not MAC addresses ({macs[0]})",
                           EXIT_USAGE)
        if opts.mode is Mode.BULK:
            raise CliError(f"{name} has no bulk form; drop --mode bulk", EXIT_USAGE)
        sample, call, params = _custom_call(epmm, name, opts)
        return JobPlan(
            spec, targets, Mode.PER_DEVICE, "per device", len(targets), "requests",
            sample(uuids[0]) if uuids else None,
            lambda s: epmm.ops.stream_each(name, uuids, call, job_params=params, settings=s,
                                           concurrency=conc),
        )

    mode = choose_mode(spec, targets, opts)
    if mode is Mode.BULK:
        assert spec.bulk is not None
        act = spec.bulk

        def build_bulk(chunk: Sequence[str]) -> ApiRequest:
            return requests.bulk_action(act, chunk)

        chunks = list(plan_chunks(uuids, build_bulk, max_ids=limits.max_uuids,
                                  max_request_line=epmm.request_budget(), base_path=base))
        return JobPlan(
            spec, targets, mode, f"bulk {act.value}", len(chunks),
            f"bulk requests (at most {limits.max_uuids:,} uuids and a "
            f"{limits.max_request_line:,}-byte request line each)",
            build_bulk(chunks[0]) if chunks else None,
            lambda s: ops.stream_bulk(act, uuids, settings=s,
                                      concurrency=conc or 4, rate=rate),
        )
    reason = opts.reason
    if reason is not None or spec.reason == "required":
        try:
            requests.device_action(name if name != "locate" else "lock",
                                   "00000000-0000-0000-0000-000000000000", reason)
        except ValidationError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    sample_req = (
        (requests.locate(targets[0]) if name == "locate"
         else requests.device_action(name, targets[0], reason))
        if targets else None
    )
    return JobPlan(
        spec, targets, mode, "per device", len(targets), "requests (one per device)",
        sample_req,
        lambda s: ops.stream_fan_out(name, targets, reason=reason, settings=s,
                                     concurrency=conc, rate=rate),
    )


def _custom_call(epmm: EpmmClient, name: str, opts: JobOptions) -> tuple[
    Callable[[str], ApiRequest],
    Callable[[str], Awaitable[ActionResult | RoamingResult]],
    dict[str, str],
]:
    """For roaming and re-push: the request (for a dry-run), the call, and its parameters."""
    if name == "roaming":
        voice, data = opts.voice, opts.data
        return (
            lambda u: requests.enable_roaming(u, voice=voice, data=data),
            lambda u: epmm.devices.set_roaming(u, voice=voice, data=data),
            {"voice": str(voice), "data": str(data)},
        )
    pid, ptype = opts.profile_id, opts.profile_type
    try:
        requests.repush_profile("00000000-0000-0000-0000-000000000000", pid, ptype)
    except ValidationError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    return (
        lambda u: requests.repush_profile(u, pid, ptype),
        lambda u: epmm.devices.repush_profile(u, pid, ptype),
        {"id": str(pid), "type": str(ptype)},
    )


# -- running ----------------------------------------------------------------------------------


def show_dry_run(plan: JobPlan) -> None:
    """Print what the job would send, and that nothing was sent."""
    rows = [("action", f"{plan.spec.name} ({plan.how})"),
            ("devices", f"{len(plan.targets):,}")]
    if plan.requests is not None:
        rows.append(("requests", f"{plan.requests:,} {plan.request_note}"))
    sample = ", ".join(str(t) for t in plan.targets[:5])
    if len(plan.targets) > 5:
        sample += f", ... ({len(plan.targets) - 5:,} more)"
    rows.append(("sample", sample or "(none)"))
    if plan.sample_request is not None:
        req = plan.sample_request
        line = f"{req.method} {req.target}"
        if len(line) > 160:
            line = line[:157] + "..."
        rows.append(("first request", f"{line} ({max(req.device_count, 1):,} device(s))"))
    out.print("[bold yellow]DRY RUN[/]: nothing was sent.")
    for key, value in rows:
        out.print(f"  [bold]{key + ':':<15}[/]{escape(value)}", highlight=False)


def confirm(plan: JobPlan, opts: JobOptions) -> None:
    """Ask before a destructive job: type the number of devices (or pass --yes)."""
    if not plan.spec.destructive or opts.yes or opts.dry_run:
        return
    n = len(plan.targets)
    if not stdin_is_terminal():
        raise CliError(
            f"refusing to {plan.spec.name} {n:,} device(s) without confirmation: no terminal "
            "to ask on; pass --yes", EXIT_USAGE,
        )
    err.print(f"[bold red]{plan.spec.name.upper()} {n:,} device(s)[/] ({plan.how}). "
              "This cannot be undone.")
    answer = typer.prompt(f"Type the number of devices ({n}) to confirm", default="",
                          show_default=False, err=True)
    if answer.strip().replace(",", "") != str(n):
        raise CliError(f"not confirmed: nothing was {plan.spec.past}", EXIT_USAGE)


class ReportWriter:
    """``--report FILE``: one line per device, JSON lines (or CSV when it ends in .csv)."""

    CSV_FIELDS = ("device", "action", "status", "error", "error_type", "http_status",
                  "attempts", "elapsed", "passcode", "freshness", "latitude", "longitude",
                  "captured_at", "polls", "from_journal", "detail")

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
            outcome.device, outcome.action, outcome.status.value, outcome.error or "",
            outcome.error_type or "", outcome.http_status or "", outcome.attempts,
            f"{outcome.elapsed:.3f}", outcome.passcode or "",
            outcome.freshness.value if outcome.freshness else "",
            "" if loc is None or loc.latitude is None else loc.latitude,
            "" if loc is None or loc.longitude is None else loc.longitude,
            "" if loc is None or loc.captured_at is None else loc.captured_at.isoformat(),
            outcome.polls or "", "true" if outcome.from_journal else "", outcome.detail or "",
        ])

    def flush(self) -> None:
        """Push what was written to the file."""
        self._file.flush()

    def close(self) -> None:
        """Flush and close."""
        self._file.close()


@contextlib.contextmanager
def _sigint_stops(
    stop: anyio.Event, label: str, on_abort: Callable[[], None], journal: Path | None
) -> Any:
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
        note = (f" resume with the same command and --journal {journal}: devices whose "
                "request was on the wire are reported unknown, not resent"
                if journal is not None else "")
        err.print(f"\n[bold red]Aborted[/] {label}: answers to requests on the wire were not "
                  f"awaited.{note}", highlight=False)
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
    """Run a planned job with progress, Ctrl-C handling and the report; no summary."""
    stop = anyio.Event()
    total = len(plan.targets)
    result = JobResult(action=plan.spec.name, how=plan.how, total=total, report=opts.report)
    if total == 0:
        return result
    report = ReportWriter(opts.report) if opts.report is not None else None
    label = plan.spec.name.replace("_", "-")
    started = time.monotonic()
    try:
        with JobProgress(label, total, live=opts.live_progress) as progress, \
                _sigint_stops(stop, label, report.flush if report else lambda: None,
                              opts.journal):
            settings = JobSettings(
                concurrency=opts.concurrency,
                journal=str(opts.journal) if opts.journal is not None else None,
                resend_unknown=opts.resend_unknown,
                progress=progress.update,
                stop=stop,
            )
            stream = plan.stream(settings)
            try:
                async for outcome in stream:
                    _count(result, outcome)
                    if report is not None:
                        report.write(outcome)
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
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
        result.elapsed = time.monotonic() - started
    result.interrupted = stop.is_set()
    return result


def _count(result: JobResult, outcome: Outcome) -> None:
    result.counts[outcome.status.value] += 1
    if outcome.freshness is not None:
        result.freshness[outcome.freshness.value] += 1
    if outcome.from_journal:
        result.from_journal += 1
    if outcome.status is OutcomeStatus.SKIPPED and not outcome.from_journal:
        result.aborted = result.aborted or outcome.error
    if outcome.error_type in _CONNECTION_ERRORS and not outcome.from_journal:
        result.connection_failures += 1
    if len(result.outcomes) < 50:
        result.outcomes.append(outcome)


def print_summary(result: JobResult) -> None:
    """The end-of-job summary: per-status counts, requests, time, report, abort reason."""
    table = Table(title=f"{result.action.replace('_', '-')} summary ({result.how})",
                  show_header=True, header_style="bold", title_justify="left")
    statuses = [s.value for s in OutcomeStatus]
    for status in statuses:
        table.add_column(status, justify="right")
    table.add_row(*(f"{result.counts.get(s, 0):,}" for s in statuses))
    out.print(table)
    line = (f"{result.total:,} device(s), {result.requests:,} request(s) in "
            f"{result.elapsed:.1f}s")
    if result.from_journal:
        line += f"; {result.from_journal:,} carried over from the journal (not resent)"
    out.print(line)
    if result.freshness:
        out.print("locations: " + " · ".join(
            f"{k} {result.freshness.get(k, 0):,}" for k in ("fresh", "stale", "unsupported")))
    if result.interrupted:
        out.print("[yellow]interrupted: devices not yet sent are reported cancelled[/]")
    if result.aborted:
        out.print(f"[bold red]{result.aborted}[/]")
    if result.report is not None:
        out.print(f"report: {result.report}")


def print_outcomes(result: JobResult) -> None:
    """A per-device table for small jobs (locations, passcodes, errors)."""
    table = Table(show_header=True, header_style="bold")
    for header in ("device", "status", "detail"):
        table.add_column(header, overflow="fold")
    for o in result.outcomes:
        bits = []
        if o.passcode:
            bits.append(f"passcode {o.passcode}")
        if o.freshness is not None:
            bits.append(o.freshness.value)
        if o.location is not None and o.location.latitude is not None:
            when = o.location.captured_at.isoformat() if o.location.captured_at else "?"
            bits.append(f"{o.location.latitude:.5f},{o.location.longitude:.5f} at {when}")
        if o.error:
            bits.append(o.error)
        elif o.detail:
            bits.append(o.detail)
        table.add_row(o.device, o.status.value, "; ".join(bits))
    out.print(table)


async def run_action(
    epmm: EpmmClient, spec: ActionSpec, targets: list[Target], opts: JobOptions,
    *, show_devices: int = 20,
) -> JobResult:
    """Plan, confirm, run and summarise an action; returns the result (see ``exit_code``).

    With ``dry_run`` nothing is sent and the result has no outcomes (exit code 0).
    """
    plan = plan_job(epmm, spec, targets, opts)
    if not targets:
        err.print("[yellow]no devices matched: nothing to do[/]")
        return JobResult(action=spec.name, how=plan.how, total=0)
    if opts.dry_run:
        show_dry_run(plan)
        return JobResult(action=spec.name, how=plan.how, total=0)
    confirm(plan, opts)
    result = await execute(plan, opts)
    if result.total <= show_devices and result.outcomes:
        print_outcomes(result)
    print_summary(result)
    return result


def outcome_counts_line(result: JobResult) -> str:
    """``succeeded 10 · failed 2`` for compact displays."""
    return counts_text(dict(result.counts), markup=True)
