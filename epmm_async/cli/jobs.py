"""Running an action over many devices: plan, dry-run, confirmation, progress, records,
report, summary.

Every action command (and the demo) goes through :func:`run_action`. It plans the job with the
operations layer (:func:`~.job_plan.plan_job`: ``epmm.ops.plan_*``, so what a dry-run shows is
what the run sends), shows that plan instead of sending with ``--dry-run``
(:mod:`.job_preview`), asks before wiping or retiring, runs exactly that plan
(``epmm.ops.stream_plan``) with a progress display and a Ctrl-C handler, writes one record per
device on stdout (``-o``) and the ``--report`` file (:mod:`.job_records`), and prints the
summary on stderr (:mod:`.job_summary`). The exit code follows from the outcomes
(:func:`~.job_summary.exit_code`).

What goes where: stdout carries the per-device records and nothing else (a dry-run's plan is
its result, so it goes there too); progress, the summary, the resume hint and errors go to
stderr. ``-q`` keeps only the records and errors.

The names of the job modules are re-exported here: the commands, the demo and the tests import
them from ``jobs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator

import anyio
import typer
from rich.markup import escape

from ..client import EpmmClient
from ..errors import ValidationError
from .common import EXIT_USAGE, CliError, err, stdin_is_terminal
from .connection import profile_note
from .job_plan import ACTIONS, ActionSpec, JobOptions, JobPlan, Mode, an, plan_job
from .job_preview import selection_of, show_dry_run
from .job_records import RECORD_FIELDS, DeviceRecord, RecordSink, ReportWriter
from .job_summary import (
    JobResult,
    command_line,
    exit_code,
    outcomes_in_words,
    print_resume_hint,
    print_summary,
    resume_hint,
)
from .progress import JobProgress
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
    "confirm",
    "execute",
    "exit_code",
    "outcomes_in_words",
    "plan_job",
    "resume_hint",
    "run_action",
]


# The question is asked here, beside the run, and reads ``stdin_is_terminal`` from this
# module: a test that plays the person at the terminal replaces it here.
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
                       server=plan.server)
    sink = RecordSink(opts.output, expected=total, enabled=opts.records)
    if total == 0:
        sink.close()
        return result
    report = ReportWriter(opts.report) if opts.report is not None else None
    label = plan.spec.label
    started = time.monotonic()
    try:
        with JobProgress(label, total, enabled=not opts.quiet) as progress, \
                _sigint_stops(plan.stop, label, report.flush if report else lambda: None,
                              opts):
            plan.relay.target = progress.update
            stream = plan.ops.stream_plan(plan.preview)
            try:
                async for outcome in stream:
                    result.add(outcome)
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
