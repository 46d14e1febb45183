"""A polling waiter: interval, jitter, deadline, a terminal test and a progress callback."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from ..errors import JobInterrupted, ValidationError, WaiterTimeout
from ..pacing import current_scope

__all__ = ["Waiter", "WaiterGaveUp"]

T = TypeVar("T")


class WaiterGaveUp(WaiterTimeout, Generic[T]):
    """The deadline passed before a terminal state; ``last`` is the last polled value."""

    def __init__(self, message: str, last: T | None, polls: int) -> None:
        """Keep the last value seen and how many polls were made."""
        super().__init__(message)
        self.last = last
        self.polls = polls


@dataclass(frozen=True, slots=True)
class Waiter:
    """Poll until done: ``interval`` seconds apart (+- ``jitter`` fraction), within ``deadline``.

    The first poll happens after ``first_delay`` (default: one interval). Polls never start
    past the deadline, so at most ``deadline / (interval * (1 - jitter)) + 1`` are made.
    """

    interval: float = 5.0
    deadline: float = 90.0
    jitter: float = 0.2
    first_delay: float | None = None

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.deadline < 0:
            raise ValidationError("interval must be positive and deadline non-negative")
        if not 0 <= self.jitter < 1:
            raise ValidationError("jitter must be in [0, 1)")

    @property
    def max_polls(self) -> int:
        """An upper bound on the polls one wait makes."""
        shortest = self.interval * (1 - self.jitter)
        first = self.first_delay if self.first_delay is not None else shortest
        if first > self.deadline:
            return 0
        return 1 + int((self.deadline - first) / shortest)

    def _pause(self, rng: random.Random) -> float:
        return self.interval * (1 + self.jitter * (2 * rng.random() - 1))

    async def wait(
        self,
        poll: Callable[[], Awaitable[T]],
        done: Callable[[T], bool],
        *,
        on_progress: Callable[[int, T], None] | None = None,
        rng: random.Random | None = None,
    ) -> tuple[T, int]:
        """Poll until ``done(value)``; return the value and the number of polls.

        Raises :class:`WaiterGaveUp` (a :class:`WaiterTimeout`) carrying the last value
        when the deadline passes first. Inside a job, a halt ends the wait at once with
        :class:`~epmm_async.errors.JobInterrupted` (no poll is made after it).
        """
        rng = rng or random.Random()
        start = time.monotonic()
        end = start + self.deadline
        pause = self.first_delay if self.first_delay is not None else self._pause(rng)
        polls = 0
        last: T | None = None
        while True:
            if time.monotonic() + pause > end:
                raise WaiterGaveUp(
                    f"gave up after {polls} polls and {time.monotonic() - start:.1f}s",
                    last,
                    polls,
                )
            scope = current_scope()
            if scope is None:
                await anyio.sleep(pause)
            elif not await scope.halt.sleep(pause):
                stopped = JobInterrupted(f"stopped while waiting, after {polls} polls")
                stopped.attempts = polls
                raise stopped
            value = await poll()
            polls += 1
            last = value
            if on_progress is not None:
                on_progress(polls, value)
            if done(value):
                return value, polls
            pause = self._pause(rng)
