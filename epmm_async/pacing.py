"""Waiting between requests: rate limits, and the halt signal that cuts every wait short.

A job (``epmm.ops``) runs its requests inside a :class:`JobScope`: its :class:`Halt` is set when
the job is stopped or cancelled, and every wait a request makes on the job's behalf (backoff
between retries, ``Retry-After``, a rate-limit slot, a locate-now poll interval) ends at once
when it is set. No new attempt starts after that; an attempt already on the wire is left to
finish. The scope travels in a context variable so that any per-device call a job makes, the
caller's own included, honours it without an extra argument.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass

import anyio

from .errors import ValidationError

__all__ = ["Halt", "JobScope", "RateLimiter", "current_scope", "job_scope", "outside_jobs"]


class Halt:
    """A one-way stop signal: once set, waits made through it return at once."""

    def __init__(self, also: anyio.Event | None = None) -> None:
        """A signal not yet set; ``also`` (a caller's stop event) counts as setting it the
        moment it is set (a watcher must still call :meth:`set` to wake the waits)."""
        self._event = anyio.Event()
        self._also = also
        self.reason: str | None = None

    def set(self, reason: str = "stopped") -> None:
        """Stop: no new request, no more waiting (the first reason is kept)."""
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        """True once :meth:`set` was called (or ``also`` was set)."""
        # ``reason`` is set exactly when the event is (see set()): one attribute read instead
        # of two calls, on a check every unit of a job makes several times.
        return self.reason is not None or (self._also is not None and self._also.is_set())

    async def wait(self) -> None:
        """Return when the signal is set (or ``also`` is)."""
        if self._also is None:
            await self._event.wait()
            return
        # Either event ends the wait: a caller's stop must cut a wait short even where no
        # watcher task turns it into set() (a job's device look-ups, say).
        async with anyio.create_task_group() as group:
            for event in (self._event, self._also):
                group.start_soon(_cancel_when_set, event, group.cancel_scope)

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; return False (at once) if the signal is or becomes set."""
        if self.is_set():
            return False
        if seconds <= 0:
            return True
        with anyio.move_on_after(seconds):
            await self.wait()
            return False
        return True


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


class RateLimiter:
    """A requests-per-second limit, evenly spaced, shared by whoever holds it."""

    def __init__(self, rate: float) -> None:
        """``rate`` requests per second, > 0."""
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise ValidationError(f"rate limit must be a positive number, got {rate!r}")
        self.rate = float(rate)
        self._interval = 1.0 / self.rate
        self._next = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter({self.rate:g}/s)"

    async def acquire(self, halt: Halt | None = None) -> bool:
        """Wait for the next slot; False if ``halt`` was set first (the slot is given back)."""
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot <= now:
            return halt is None or not halt.is_set()
        if halt is None:
            await anyio.sleep(slot - now)
            return True
        if await halt.sleep(slot - now):
            return True
        if self._next == slot + self._interval:
            self._next = slot  # nobody queued behind us: give the slot back
        return False


@dataclass(slots=True)
class JobScope:
    """What a job adds to each of its requests (one scope per unit of work): its halt
    signal and its own rate limit; ``acted`` records whether an unsafe request of the unit
    (wipe, retire, register, send-message) succeeded or may have been applied."""

    halt: Halt
    limiter: RateLimiter | None = None
    acted: bool = False


_SCOPE: contextvars.ContextVar[JobScope | None] = contextvars.ContextVar(
    "epmm_job_scope", default=None
)


def outside_jobs() -> contextvars.Context:
    """A copy of the running context with no job scope: for work shared by callers of
    several jobs (one job's halt or rate limit must not decide it for the others)."""
    context = contextvars.copy_context()
    context.run(_SCOPE.set, None)
    return context


def current_scope() -> JobScope | None:
    """The job scope of the running task, if a job runs it."""
    return _SCOPE.get()


class job_scope:
    """Run the block's requests on behalf of a job. (A class, not a generator: a job enters
    it once per device.)"""

    __slots__ = ("_scope", "_token")

    def __init__(self, scope: JobScope) -> None:
        self._scope = scope
        self._token: contextvars.Token[JobScope | None] | None = None

    def __enter__(self) -> None:
        self._token = _SCOPE.set(self._scope)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _SCOPE.reset(self._token)
