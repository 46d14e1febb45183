"""The retry policy applied to one request: its attempts, their pacing and their log.

:class:`Retrying` is the one place that counts a request's attempts, knows whether an
earlier one may have been applied, waits out backoff and rate limits, logs each attempt,
and decides after a failure whether to go on (stamina's retry context is the model).
:meth:`~epmm_async.sender.Sender.send` and :meth:`~epmm_async.sender.Sender.stream` write
out the short loop around their exchange::

    retry = Retrying(req, policy, rng, rate_limiter)
    while True:
        if not retry.ready():
            await retry.wait_turn()        # backoff, rate limits; a halt raises here
        number = retry.start()
        try:
            ...exchange..., retry.answered(status) ... return retry.succeeded(result)
        except EpmmError as error:
            retry.failed(error)            # raises once the policy gives up

Inside a job (:mod:`epmm_async.pacing`) it also tells the job whether an unsafe request
succeeded or may have been applied (``JobScope.acted``), and every wait ends at once when
the job halts: :class:`~epmm_async.errors.JobInterrupted`, with the facts of the attempts
made so far.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TypeVar

from ._logging import get_logger
from .core.attempts import may_have_applied
from .core.requests import ApiRequest, Safety
from .errors import EpmmError, JobInterrupted
from .pacing import RateLimiter, current_scope
from .retry import RetryPolicy

__all__ = ["Retrying"]

log = get_logger("epmm_async")

T = TypeVar("T")


class Retrying:
    """The retry policy applied to one request (see the module docstring)."""

    __slots__ = ("_delay", "_limiter", "_logged", "_maybe_applied", "_policy", "_req",
                 "_rng", "_t0", "_unpaced", "_unsafe", "halt", "last", "made", "scope",
                 "started")

    def __init__(
        self, req: ApiRequest, policy: RetryPolicy, rng: random.Random,
        rate_limiter: RateLimiter | None,
    ) -> None:
        """Attempts of ``req`` under ``policy``, paced by the client's ``rate_limiter`` and,
        inside a job, by the job's own."""
        scope = current_scope()
        self._req = req
        self._policy = policy
        self._rng = rng
        self._limiter = rate_limiter
        self.scope = scope
        self.halt = scope.halt if scope is not None else None
        """The job's halt, if the request is sent inside a job."""
        self._unsafe = scope if scope is not None and req.safety is Safety.UNSAFE else None
        self._unpaced = rate_limiter is None and (scope is None or scope.limiter is None)
        self.started = time.monotonic()
        self.made = 0
        """Attempts handed to the transport so far."""
        self.last: EpmmError | None = None
        """The last failed attempt's error."""
        self._maybe_applied = False
        self._delay: float | None = None
        self._logged = True
        self._t0 = 0.0

    def ready(self) -> bool:
        """Whether the next attempt may start now, without waiting for anything."""
        return (self._delay is None and self._unpaced
                and (self.halt is None or not self.halt.is_set()))

    async def wait_turn(self) -> None:
        """Wait out the backoff and the rate limits; raise JobInterrupted if a halt ends a
        wait (or is set)."""
        delay, self._delay = self._delay, None
        if delay is not None:
            if self.halt is None:
                await asyncio.sleep(delay)
            elif not await self.halt.sleep(delay):
                raise self.interrupted()
        if not await self._pace():
            raise self.interrupted()

    async def _pace(self) -> bool:
        # The client's limit, then the job's own: a job's rate never loosens the client's.
        scope = self.scope
        if scope is None:
            return self._limiter is None or await self._limiter.acquire(None)
        halt = scope.halt
        if halt.is_set():
            return False
        if self._limiter is not None and not await self._limiter.acquire(halt):
            return False
        return scope.limiter is None or await scope.limiter.acquire(halt)

    def start(self) -> int:
        """An attempt goes to the transport now: its number."""
        self.made += 1
        self._logged = not log.enabled(logging.DEBUG)  # the usual case: log nothing
        if not self._logged:
            self._t0 = time.monotonic()
        return self.made

    def answered(self, status: int) -> None:
        """The attempt got an answer (logged with its status)."""
        if not self._logged:
            self._log(status, None)

    def succeeded(self, result: T) -> T:
        """The request is done: ``result``."""
        if self._unsafe is not None:
            self._unsafe.acted = True
        return result

    def failed(self, error: EpmmError) -> None:
        """Decide after a failed attempt: raise ``error`` (with the attempt facts) if the
        policy gives up, else record it and log the retry; the wait is the next turn's."""
        if not self._logged:
            self._log(None, type(error).__name__)  # the attempt was never answered
        made = self.made
        delay = self._policy.next_delay(
            self._req.safety, error, made, time.monotonic() - self.started, self._rng
        )
        if delay is None:
            error.attempts = made
            error.earlier_attempt_may_have_applied = self._maybe_applied
            if self._unsafe is not None and may_have_applied(error):
                self._unsafe.acted = True
            raise error
        self._maybe_applied = self._maybe_applied or may_have_applied(error)
        self.last = error
        self._delay = delay
        req = self._req
        log.info(
            "http.retry",
            method=req.method,
            path=req.named_path,
            attempt=made,
            delay_s=round(delay, 3),
            error=type(error).__name__,
            status=getattr(error, "status", None),
        )

    def interrupted(self) -> JobInterrupted:
        """The JobInterrupted of a halt before the next attempt: the facts are those of the
        attempts already made."""
        req, last = self._req, self.last
        after = f" after {self.made} attempt(s), the last: {last}" if last is not None else ""
        error = JobInterrupted(
            f"job stopped before sending {req.method} {req.named_path}{after}", last_error=last
        )
        error.attempts = self.made
        error.earlier_attempt_may_have_applied = self._maybe_applied
        if self._unsafe is not None and self._maybe_applied:
            self._unsafe.acted = True
        return error

    def _log(self, status: int | None, error: str | None) -> None:
        self._logged = True
        log.debug(
            "http.request",
            method=self._req.method,
            path=self._req.named_path,
            status=status,
            attempt=self.made,
            elapsed_ms=round((time.monotonic() - self._t0) * 1000, 1),
            error=error,
        )
