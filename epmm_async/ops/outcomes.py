"""Per-device outcomes of an operation, progress events, and the report that reduces them."""

from __future__ import annotations

import enum
import time
from collections import Counter
from collections.abc import AsyncIterable, Callable

import msgspec

from ..errors import (
    AuthenticationError,
    ConnectError,
    DeviceNotFound,
    EpmmError,
    ForbiddenError,
    ServerError,
    TransportError,
    ValidationError,
    may_have_applied,
)
from ..models import Location

__all__ = [
    "BulkReport",
    "Freshness",
    "Outcome",
    "OutcomeStatus",
    "Progress",
    "ProgressCallback",
    "classify_error",
    "collect",
]


class OutcomeStatus(enum.StrEnum):
    """The terminal state of one device in an operation."""

    SUCCEEDED = "succeeded"
    """The server accepted the action for the device."""
    INVALID = "invalid"
    """The server does not know the device (or rejected its id)."""
    FAILED = "failed"
    """The action was refused or certainly not applied; safe to try again."""
    UNKNOWN = "unknown"
    """The request may or may not have been applied (timeout, dropped connection, 500)."""
    SKIPPED = "skipped"
    """Not attempted: the job was aborted (authentication failure, server down)."""
    CANCELLED = "cancelled"
    """Not attempted: the job was cancelled."""


class Freshness(enum.StrEnum):
    """How current a locate-now answer is."""

    FRESH = "fresh"
    """A fix newer than the request arrived."""
    STALE = "stale"
    """The deadline passed: the last known location (possibly none) is given."""
    UNSUPPORTED = "unsupported"
    """The device ignores locate-now (iOS): the last known location, at once."""


class Outcome(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What happened to one device."""

    device: str
    """The uuid (or MAC) as sent."""
    action: str
    status: OutcomeStatus
    attempts: int = 0
    """HTTP attempts made for this device's request(s) in this run."""
    elapsed: float = 0.0
    """Seconds from this device's first request to its outcome."""
    error: str | None = None
    error_type: str | None = None
    http_status: int | None = None
    passcode: str | None = None
    """UNLOCK: the passcode entry's value (Q, F, NA or a BlackBerry code)."""
    location: Location | None = None
    freshness: Freshness | None = None
    polls: int = 0
    """Locate-now: plain locate requests made while waiting."""
    from_journal: bool = False
    """The outcome was recorded by an earlier run of the same job and not redone."""
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """True for SUCCEEDED."""
        return self.status is OutcomeStatus.SUCCEEDED


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """A progress event: how many devices have an outcome, out of how many."""

    action: str
    done: int
    total: int
    counts: dict[str, int]
    elapsed: float
    requests: int = 0

    @property
    def rate(self) -> float:
        """Devices per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


class BulkReport(msgspec.Struct, kw_only=True):
    """The reduction of an outcome stream: every device's outcome and the counts."""

    action: str
    outcomes: list[Outcome]
    counts: dict[str, int]
    elapsed: float
    aborted: str | None = None
    """Why the job stopped early (authentication failure, server down), if it did."""

    @property
    def total(self) -> int:
        """Devices accounted for."""
        return len(self.outcomes)

    def count(self, status: OutcomeStatus) -> int:
        """Devices with ``status``."""
        return self.counts.get(status.value, 0)

    @property
    def all_succeeded(self) -> bool:
        """True when every device succeeded."""
        return self.total == self.count(OutcomeStatus.SUCCEEDED)

    def by_status(self, status: OutcomeStatus) -> list[Outcome]:
        """The outcomes with ``status``."""
        return [o for o in self.outcomes if o.status is status]


async def collect(stream: AsyncIterable[Outcome], action: str = "") -> BulkReport:
    """Reduce an outcome stream to a :class:`BulkReport` (action: the outcomes')."""
    started = time.monotonic()
    outcomes: list[Outcome] = []
    counts: Counter[str] = Counter()
    aborted: str | None = None
    async for outcome in stream:
        outcomes.append(outcome)
        action = action or outcome.action
        counts[outcome.status.value] += 1
        if outcome.status is OutcomeStatus.SKIPPED and aborted is None and not (
            outcome.from_journal
        ):
            aborted = outcome.error
    return BulkReport(
        action=action,
        outcomes=outcomes,
        counts=dict(counts),
        elapsed=time.monotonic() - started,
        aborted=aborted,
    )


def classify_error(error: EpmmError) -> OutcomeStatus:
    """The outcome status a failed request leaves a device in.

    * a 404 "no data" for the device, or a rejected id -> INVALID;
    * it may have been applied (:func:`~epmm_async.errors.may_have_applied`: sent but
      unanswered, a 500, an unreadable answer, or an earlier attempt that was one of
      those) -> UNKNOWN;
    * otherwise (not sent, 4xx, 429, 502/503/504) -> FAILED: certainly not applied.
    """
    if isinstance(error, DeviceNotFound | ValidationError):
        return OutcomeStatus.INVALID
    if may_have_applied(error):
        return OutcomeStatus.UNKNOWN
    return OutcomeStatus.FAILED


def is_fatal(error: EpmmError) -> bool:
    """Errors that stop a whole job: the credentials or the account are wrong."""
    return isinstance(error, AuthenticationError | ForbiddenError)


def is_outage(error: EpmmError) -> bool:
    """Errors that suggest the server is down rather than the device being at fault."""
    if isinstance(error, ConnectError | TransportError):
        return True
    return isinstance(error, ServerError) and error.status in (502, 503, 504)


def error_fields(error: EpmmError) -> dict[str, object]:
    """``error``, ``error_type`` and ``http_status`` for an :class:`Outcome`."""
    return {
        "error": str(error),
        "error_type": type(error).__name__,
        "http_status": getattr(error, "status", None) or None,
    }
