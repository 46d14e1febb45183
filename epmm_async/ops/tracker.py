"""A running job's tally: outcomes and requests counted, aborts decided, progress emitted."""

from __future__ import annotations

import time
from collections import Counter

from .._logging import get_logger
from .outcomes import Outcome, Progress, is_fatal, is_outage
from .plan import JobSettings, UnitResult

__all__ = ["Tracker"]

log = get_logger("epmm_async.ops")


class Tracker:
    """Counts a job's outcomes and requests, decides when it aborts, emits its progress."""

    def __init__(self, action: str, total: int, settings: JobSettings) -> None:
        """Track a job of ``total`` outcomes, aborting and reporting as ``settings`` say."""
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
        """Count a unit's requests; a fatal error, or too many outages in a row, aborts."""
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
        """Count an outcome handed to the consumer."""
        self.done += 1
        self.counts[outcome.status.value] += 1
        self.emit(final=self.done >= self.total)

    def emit(self, final: bool = False) -> None:
        """Report progress: at most every 0.1 s, and always the ``final`` report."""
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
