"""The machinery every operation shares: a job's devices, journal, workers and stream.

A job is a list of *units* (one device for fan-out and locate, one chunk for bulk) run by
``concurrency`` workers. The workers run in a task of their own (a *run*), owned by the
client, and hand their outcomes to the consumer through an unbuffered hand-over
(:mod:`epmm_async.ops.handover`). The consumer's generator never yields from inside the
workers' task group or any cancel scope (PEP 789), so:

* closing or abandoning the stream (``break`` with or without ``aclosing``) never cancels
  the consumer's task: the run is told to halt and is awaited;
* a worker's unexpected error reaches the consumer as itself, after the outcomes before it;
* cancelling the consumer halts the run the same way.

Halting (a ``stop`` event, a cancel, an abort, a closed stream) is cooperative: no new
request leaves after it, and every wait between attempts (backoff, ``Retry-After``, rate
limits, locate-now polls) ends at once (:mod:`epmm_async.pacing`); an attempt already on the
wire finishes or times out and its outcome is journalled. Units never sent are CANCELLED (or
SKIPPED after an abort). Nothing is shielded but the wait for attempts on the wire.

What a job is before it runs (:class:`JobSettings`, :class:`JobPlan`) lives in
:mod:`epmm_async.ops.plan`, its tally in :mod:`epmm_async.ops.tracker`; both are importable
from here too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio
from msgspec.structs import replace

from .._logging import get_logger
from ..errors import ClientClosedError, JournalError
from ..pacing import Halt, JobScope, RateLimiter, job_scope
from .gather import collect_ids
from .handover import Handover
from .journal import Journal, resume_decision
from .outcomes import Outcome, OutcomeStatus
from .plan import JobPlan, JobSettings, UnitResult, check_positive
from .tracker import Tracker

# JobPlan, JobSettings, UnitResult, check_positive and collect_ids live elsewhere now; they
# stay importable from here, where callers have imported them from.
__all__ = [
    "JobPlan",
    "JobSettings",
    "Runs",
    "UnitResult",
    "check_positive",
    "collect_ids",
    "run_job",
]

log = get_logger("epmm_async.ops")

U = TypeVar("U")

_CLOSE_GRACE = 2.0
"""Seconds a closing client waits, at most, for a halted run's attempts on the wire before
it releases the run's hand-overs (the attempts still finish and are journalled)."""


class CallCancelledError(Exception):
    """A per-device call ended in a CancelledError its task was not sent."""


class Runs:
    """The job runs a client owns: halted and awaited when the client closes."""

    def __init__(self) -> None:
        """No runs yet."""
        self._live: dict[asyncio.Task[None], _Run[Any]] = {}
        self._closed = False

    def spawn(self, run: _Run[Any]) -> asyncio.Task[None]:
        """Start a run's task."""
        if self._closed:
            raise ClientClosedError("the client is closed; create a new EpmmClient")
        task = asyncio.get_running_loop().create_task(self._tracked(run))
        self._live[task] = run
        # A task cancelled before it starts never runs _tracked's finally.
        task.add_done_callback(lambda t: self._live.pop(t, None))
        return task

    async def _tracked(self, run: _Run[Any]) -> None:
        try:
            await run.run()
        finally:
            # Forgotten before the task is done: a consumer that finds the task done (and so
            # does not wait for it) must not find it still listed, as a done callback, run
            # one loop turn later, would leave it.
            self._live.pop(asyncio.current_task(), None)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._live)

    async def close(self) -> None:
        """Halt every live run and wait for its attempts on the wire to end."""
        self._closed = True
        live = list(self._live.items())
        # Every run is halted first, so none starts a request while another is awaited.
        for _, run in live:
            run.halt.set("the client was closed")
        # Their attempts on the wire finish; a consumer still reading gets its outcomes
        # meanwhile. Then the hand-overs are released, so a stream left without being
        # closed cannot hold the close up.
        deadline = time.monotonic() + _CLOSE_GRACE
        with anyio.CancelScope(shield=True):
            while time.monotonic() < deadline and any(
                not task.done() and run.in_flight for task, run in live
            ):
                await asyncio.wait({task for task, _ in live}, timeout=0.01)
            await asyncio.sleep(0)
        for _, run in live:
            run.abandon("the client was closed")
        for task, _ in live:
            await wait_for_run(task)


async def wait_for_run(task: asyncio.Task[None]) -> None:
    """Wait for a run to end, even while the waiter is being cancelled.

    This is the one shielded wait: what is left of a halted run is attempts on the wire,
    which must finish (or time out) and be journalled. A cancellation received meanwhile is
    re-raised once the run has ended.
    """
    cancelled: BaseException | None = None
    while not task.done():
        try:
            with anyio.CancelScope(shield=True):
                await asyncio.wait({task})
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        raise cancelled


class _Run(Generic[U]):
    """The workers of one job, in a task of their own."""

    def __init__(
        self,
        plan: JobPlan[U],
        units: list[U],
        settings: JobSettings,
        tracker: Tracker,
        journal: Journal | None,
    ) -> None:
        self.plan = plan
        self.units = units
        self.settings = settings
        self.tracker = tracker
        self.journal = journal
        self.halt = Halt(also=settings.stop)
        self.limiter = RateLimiter(plan.rate) if plan.rate is not None else None
        # Unbuffered: a worker takes its next unit only once the consumer has its outcome,
        # so a consumer that stops reading leaves at most one request per worker to finish.
        self.handover: Handover[list[Outcome]] = Handover()
        self.error: BaseException | None = None
        self._position = 0
        self._journal_broken = False
        self.in_flight = 0
        """Units being attempted now (their requests may be on the wire)."""

    def abandon(self, reason: str) -> None:
        """The consumer is gone: halt, and let blocked hand-overs fail at once."""
        self.halt.set(reason)
        self.handover.close()

    def fail(self, error: BaseException) -> None:
        """Keep the first unexpected error for the consumer and halt the job."""
        if self.error is None:
            self.error = error
        self.halt.set(f"job failed: {error}")

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as outer:
                if self.settings.stop is not None:
                    outer.start_soon(self._watch_stop, self.settings.stop)
                try:
                    async with anyio.create_task_group() as workers:
                        for _ in range(min(self.plan.concurrency, len(self.units))):
                            workers.start_soon(self._worker)
                finally:
                    self.handover.end()  # no worker is left to hand anything over
                outer.cancel_scope.cancel()  # only the stop watcher is left
        except Exception as exc:  # a bug in a worker: reported to the consumer as itself
            while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]  # type: ignore[assignment]
            self.fail(exc)
        finally:
            # The run ends the journal's use: a stream abandoned without being closed must
            # not keep the file locked once its job is over (or the client closed).
            if self.journal is not None:
                with anyio.CancelScope(shield=True):
                    await self.journal.close()

    async def _watch_stop(self, stop: anyio.Event) -> None:
        await stop.wait()
        self.halt.set("stopped")

    def _take(self) -> list[U]:
        """The next unit, or, once halted, every unit left (they are settled together)."""
        if self._position >= len(self.units):
            return []
        stop = self.settings.stop
        if stop is not None and stop.is_set():
            # Seen here too, not only by the watcher task: a stop set before the job (or
            # before the watcher ran) must not let a first unit out.
            self.halt.set("stopped")
        if self.halt.is_set() or self.tracker.aborted is not None:
            rest, self._position = self.units[self._position :], len(self.units)
            return rest
        self._position += 1
        return [self.units[self._position - 1]]

    async def _worker(self) -> None:
        while batch := self._take():
            if len(batch) == 1 and not self.halt.is_set():
                outcomes = await self._attempt(batch[0])
            else:
                outcomes = [o for unit in batch for o in self._not_attempted(unit)]
            await self._record(outcomes)
            try:
                await self.handover.put(outcomes)
            except anyio.BrokenResourceError:
                self.halt.set("the consumer closed the stream")

    def _not_attempted(self, unit: U) -> list[Outcome]:
        if self.tracker.aborted is not None:
            status, why = OutcomeStatus.SKIPPED, self.tracker.aborted
        else:
            status = OutcomeStatus.CANCELLED
            why = f"not sent: {self.halt.reason or 'the job was stopped'}"
        action = self.plan.action
        return [
            Outcome(device=k, action=action, status=status, error=why, reason="not_sent")
            for k in self.plan.unit_keys(unit)
        ]

    async def _attempt(self, unit: U) -> list[Outcome]:
        keys = self.plan.unit_keys(unit)
        if self.plan.destructive and self.journal is not None:
            try:
                await self.journal.mark_pending(keys)
            except JournalError as exc:
                self.fail(exc)
                return self._not_attempted(unit)
        started = time.monotonic()
        self.in_flight += 1
        scope = JobScope(self.halt, self.limiter)
        with job_scope(scope):
            try:
                try:
                    result = await self.plan.handle(unit)
                except asyncio.CancelledError as cancelled:
                    # A CancelledError this task was not sent (the caller's call awaited a
                    # future someone else cancelled) is that call's failure, not the job's
                    # cancellation: it must not end every other device's run.
                    task = asyncio.current_task()
                    if task is None or task.cancelling():
                        raise
                    raise CallCancelledError(str(cancelled) or "the call was cancelled") from None
            except Exception as exc:
                # Not an EpmmError: the caller's own call (stream_each) raised after it may
                # have sent its request, e.g. its own timeout. That device's outcome is
                # UNKNOWN; the other devices go on.
                log.warning("job.unit_error", action=self.plan.action,
                            error=type(exc).__name__, devices=len(keys))
                result = UnitResult(
                    [
                        Outcome(
                            device=k,
                            action=self.plan.action,
                            status=OutcomeStatus.UNKNOWN,
                            reason="call_raised",
                            elapsed=time.monotonic() - started,
                            error=f"{type(exc).__name__}: {exc}",
                            error_type=type(exc).__name__,
                        )
                        for k in keys
                    ]
                )
            finally:
                self.in_flight -= 1
        if scope.acted and len(keys) == 1:
            # One request for this device succeeded or may have applied (a call that makes
            # several): a later refusal or halt does not make it "not applied". (A bulk
            # chunk's requests each carry other devices: their outcomes say it per device.)
            result.outcomes = [
                replace(o, status=OutcomeStatus.UNKNOWN, reason=o.reason or "partly_sent",
                        detail="an earlier request for this device may have been applied")
                if o.status in (OutcomeStatus.CANCELLED, OutcomeStatus.FAILED) else o
                for o in result.outcomes
            ]
        self.tracker.observe(result)
        if self.tracker.aborted is not None:
            self.halt.set(self.tracker.aborted)
        return result.outcomes

    async def _record(self, outcomes: list[Outcome]) -> None:
        if self.journal is None or self._journal_broken:
            return
        if self.plan.destructive:
            # A device marked pending whose request then never left (the job halted during
            # a rate-limit wait or a backoff, with no attempt that may have applied) is
            # CANCELLED to the consumer; the journal refuses CANCELLED over a pending mark,
            # so it is written as FAILED: certainly not applied, sent again on resume.
            outcomes = [
                replace(o, status=OutcomeStatus.FAILED)
                if o.status is OutcomeStatus.CANCELLED and o.reason == "interrupted" else o
                for o in outcomes
            ]
        try:
            await self.journal.record(outcomes)
        except JournalError as exc:
            self._journal_broken = True
            self.fail(exc)


def _with_action(outcome: Outcome, action: str) -> Outcome:
    return outcome if outcome.action == action else replace(outcome, action=action)


async def run_job(
    runs: Runs,
    identity: dict[str, str],
    prepare: Callable[[], Awaitable[JobPlan[U]]],
    settings: JobSettings,
) -> AsyncGenerator[Outcome, None]:
    """Open the job's journal (``identity``: the action and its parameters), prepare the job
    (validation, MAC look-ups: nothing that acts), then run it and yield one outcome per
    device, those carried over from the journal first.

    The journal is opened first, so a journal held by another run or written for another
    job refuses the job before any request, reads included. Closing the generator early, or
    abandoning it, halts the job (see the module doc).
    """
    journal = await Journal.open(settings.journal, identity) if settings.journal else None
    try:
        plan = await prepare()
        carried: list[Outcome] = []
        todo: list[str] = list(plan.keys)
        early = list(plan.early)
        if journal is not None:
            known = journal.entries

            def from_journal(key: str) -> bool:
                """Carry ``key`` over if the journal already decided it (resume_decision)."""
                entry = known.get(key)
                if entry is None:
                    return False
                decision = resume_decision(
                    entry, destructive=plan.destructive, resend_unknown=settings.resend_unknown
                )
                if decision is not None:
                    carried.append(_with_action(decision, plan.action))
                return decision is not None

            todo = [key for key in plan.keys if not from_journal(key)]
            # An outcome decided before sending (pre-flight: the device is wiped now) never
            # overrides what the journal says an earlier run did: a device the journal holds
            # as succeeded is carried over as such, one it left pending stays unknown.
            early = [outcome for outcome in plan.early if not from_journal(outcome.device)]
            if early:
                await journal.record(early)
        tracker = Tracker(plan.action, len(plan.keys) + len(plan.early), settings)
        log.info(
            "job.start",
            action=plan.action,
            devices=tracker.total,
            from_journal=len(carried),
            concurrency=plan.concurrency,
        )
        for outcome in [*early, *carried]:
            tracker.count(outcome)
            yield outcome
        units = plan.make_units(todo)
        if units:
            run = _Run(plan, units, settings, tracker, journal)
            task = runs.spawn(run)
            try:
                try:
                    while True:
                        try:
                            batch = await run.handover.get()  # at once when one is ready
                        except anyio.EndOfStream:
                            break
                        for outcome in batch:
                            tracker.count(outcome)
                            yield outcome
                except anyio.ClosedResourceError:
                    raise ClientClosedError(
                        "the client was closed while this job ran; its devices not yet "
                        "reported are in the journal, if it has one"
                    ) from None
            finally:
                run.abandon("the consumer closed the stream")
                await wait_for_run(task)
            if run.error is not None:
                raise run.error
        tracker.emit(final=True)
        log.info(
            "job.end",
            action=plan.action,
            devices=tracker.total,
            requests=tracker.requests,
            elapsed_s=round(time.monotonic() - tracker.started, 3),
            aborted=tracker.aborted,
            **dict(tracker.counts),
        )
    finally:
        if journal is not None:
            with anyio.CancelScope(shield=True):
                await journal.close()
