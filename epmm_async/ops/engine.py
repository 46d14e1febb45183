"""The machinery every operation shares: a job's devices, journal, workers and stream.

A job is a list of *units* (one device for fan-out and locate, one chunk for bulk) run by
``concurrency`` workers. Each unit's request runs shielded from cancellation, so a request
already on the wire finishes (or times out) and its outcome is recorded; only new requests
stop. Outcomes are handed to the consumer through an unbuffered memory stream, so a slow
consumer slows the workers instead of growing a buffer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

import anyio
import structlog
from anyio.streams.memory import MemoryObjectSendStream
from msgspec.structs import replace

from ..errors import EpmmError, ValidationError
from .journal import Journal, resume_decision
from .outcomes import (
    Outcome,
    OutcomeStatus,
    Progress,
    ProgressCallback,
    is_fatal,
    is_outage,
)

__all__ = ["JobSettings", "UnitResult", "collect_ids", "run_job"]

log = structlog.get_logger("epmm_async.ops")

U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class JobSettings:
    """What every operation accepts besides its devices."""

    concurrency: int = 16
    journal: str | None = None
    """Path of a SQLite journal that makes the job resumable."""
    job_name: str | None = None
    """The job's name in the journal (defaults to the action, plus the reason if any)."""
    resend_unknown: bool = False
    """Resend destructive actions whose outcome an earlier run left unknown."""
    progress: ProgressCallback | None = None
    stop: anyio.Event | None = None
    """Set it to stop gracefully: no new requests, the rest reported CANCELLED."""
    max_consecutive_outages: int = 10
    """Abort when this many units in a row fail with the server unreachable or down."""

    def __post_init__(self) -> None:
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValidationError(
                f"concurrency must be a positive integer, not {self.concurrency!r}"
            )
        if self.max_consecutive_outages < 1:
            raise ValidationError("max_consecutive_outages must be at least 1")


@dataclass(slots=True)
class UnitResult:
    """What a unit produced: one outcome per device, and the error that shaped them."""

    outcomes: list[Outcome]
    error: EpmmError | None = None
    requests: int = 1


async def collect_ids(
    items: Iterable[object] | AsyncIterable[object],
    normalise: Callable[[object], str],
    *,
    what: str,
) -> list[str]:
    """Drain ``items`` (sync or async), validate each, drop duplicates (first wins).

    Every malformed id is reported at once, with its position, before anything is sent.
    """
    seen: dict[str, None] = {}
    bad: list[str] = []
    index = 0

    def take(item: object) -> None:
        nonlocal index
        index += 1
        try:
            seen.setdefault(normalise(item), None)
        except ValidationError as exc:
            bad.append(f"#{index}: {exc}")

    if isinstance(items, AsyncIterable):
        async for item in items:
            take(item)
    else:
        for item in items:
            take(item)
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValidationError(f"{len(bad)} malformed {what}(s), nothing was sent: {shown}")
    return list(seen)


class _Tracker:
    def __init__(self, action: str, total: int, settings: JobSettings) -> None:
        self.action = action
        self.total = total
        self.settings = settings
        self.done = 0
        self.requests = 0
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self._last_emit = 0.0
        self.aborted: str | None = None
        self._outages = 0

    def observe(self, result: UnitResult) -> None:
        self.requests += result.requests
        error = result.error
        if error is None:
            self._outages = 0
            return
        if is_fatal(error) and self.aborted is None:
            self.aborted = f"job aborted: {error}"
            log.warning("job.aborted", action=self.action, reason=self.aborted)
        elif is_outage(error):
            self._outages += 1
            if self._outages >= self.settings.max_consecutive_outages and self.aborted is None:
                self.aborted = (
                    f"job aborted: server unreachable or down for {self._outages} requests "
                    f"in a row (last: {error})"
                )
                log.warning("job.aborted", action=self.action, reason=self.aborted)
        else:
            self._outages = 0

    def count(self, outcome: Outcome) -> None:
        self.done += 1
        self.counts[outcome.status.value] += 1
        self.emit(final=self.done >= self.total)

    def emit(self, final: bool = False) -> None:
        callback = self.settings.progress
        if callback is None:
            return
        now = time.monotonic()
        if not final and now - self._last_emit < 0.1:
            return
        self._last_emit = now
        callback(
            Progress(
                action=self.action,
                done=self.done,
                total=self.total,
                counts=dict(self.counts),
                elapsed=now - self.started,
                requests=self.requests,
            )
        )


async def run_job(
    *,
    action: str,
    keys: Sequence[str],
    make_units: Callable[[list[str]], list[U]],
    unit_keys: Callable[[U], list[str]],
    handle: Callable[[U], Awaitable[UnitResult]],
    destructive: bool,
    settings: JobSettings,
    job_params: dict[str, str] | None = None,
) -> AsyncGenerator[Outcome, None]:
    """Run a job and yield one outcome per key, journal outcomes first.

    Use it (and every ``stream_*`` operation) under ``contextlib.aclosing`` when you may
    stop iterating early.
    """
    journal = (
        Journal(settings.journal, settings.job_name or action, action=action, params=job_params)
        if settings.journal
        else None
    )
    try:
        carried: list[Outcome] = []
        todo: list[str] = list(keys)
        if journal is not None:
            known = journal.load()
            todo = []
            for key in keys:
                entry = known.get(key)
                decision = (
                    resume_decision(
                        entry, destructive=destructive, resend_unknown=settings.resend_unknown
                    )
                    if entry is not None
                    else None
                )
                if decision is None:
                    todo.append(key)
                else:
                    carried.append(_with_action(decision, action))
        tracker = _Tracker(action, len(keys), settings)
        log.info(
            "job.start",
            action=action,
            devices=len(keys),
            from_journal=len(carried),
            concurrency=settings.concurrency,
        )
        for outcome in carried:
            tracker.count(outcome)
            yield outcome
        units = make_units(todo)
        # Closed with this generator, in this task: its workers never outlive the job.
        async with aclosing(
            _stream_units(action, units, unit_keys, handle, destructive, settings, tracker,
                          journal)
        ) as outcomes:
            async for outcome in outcomes:
                tracker.count(outcome)
                yield outcome
        tracker.emit(final=True)
        log.info(
            "job.end",
            action=action,
            devices=len(keys),
            requests=tracker.requests,
            elapsed_s=round(time.monotonic() - tracker.started, 3),
            aborted=tracker.aborted,
            **dict(tracker.counts),
        )
    finally:
        if journal is not None:
            journal.close()


def _with_action(outcome: Outcome, action: str) -> Outcome:
    return outcome if outcome.action == action else replace(outcome, action=action)


async def _stream_units(
    action: str,
    units: list[U],
    unit_keys: Callable[[U], list[str]],
    handle: Callable[[U], Awaitable[UnitResult]],
    destructive: bool,
    settings: JobSettings,
    tracker: _Tracker,
    journal: Journal | None,
) -> AsyncGenerator[Outcome, None]:
    if not units:
        return
    workers = min(settings.concurrency, len(units))
    # Unbuffered: a worker hands its outcomes over before taking the next unit, so a consumer
    # that stops iterating without closing the stream leaves at most the units already on
    # the wire to finish, not a buffer's worth more.
    send, receive = anyio.create_memory_object_stream[list[Outcome]](max_buffer_size=0)
    position = 0
    finished: set[int] = set()

    def not_attempted(unit: U) -> list[Outcome]:
        if tracker.aborted is not None:
            status, why = OutcomeStatus.SKIPPED, tracker.aborted
        else:
            status, why = OutcomeStatus.CANCELLED, "job cancelled before this device was sent"
        return [Outcome(device=k, action=action, status=status, error=why) for k in unit_keys(unit)]

    async def worker(out: MemoryObjectSendStream[list[Outcome]]) -> None:
        nonlocal position
        async with out:
            while position < len(units):
                index = position
                position += 1
                unit = units[index]
                stopping = settings.stop is not None and settings.stop.is_set()
                if tracker.aborted is not None or stopping:
                    outcomes = not_attempted(unit)
                    if journal is not None:
                        journal.record(outcomes)
                    finished.add(index)
                else:
                    with anyio.CancelScope(shield=True):
                        # A request on the wire is allowed to finish; its outcome is recorded.
                        if destructive and journal is not None:
                            journal.mark_pending(unit_keys(unit))
                        result = await handle(unit)
                        tracker.observe(result)
                        if journal is not None:
                            journal.record(result.outcomes)
                        finished.add(index)
                    outcomes = result.outcomes
                try:
                    await out.send(outcomes)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # the consumer closed the stream; the outcome is journalled

    try:
        async with anyio.create_task_group() as tg, receive:
            for _ in range(workers):
                tg.start_soon(worker, send.clone())
            send.close()
            try:
                async for batch in receive:
                    for outcome in batch:
                        yield outcome
            except GeneratorExit:
                # The consumer closed the stream: no new unit starts, the ones on the wire
                # finish (shielded) and are journalled, and the generator ends normally.
                tg.cancel_scope.cancel()
    finally:
        # Cancelled or abandoned: account for the units never attempted, in the journal.
        if journal is not None:
            leftover = [u for i, u in enumerate(units) if i not in finished]
            if leftover:
                journal.record([o for u in leftover for o in not_attempted(u)])

