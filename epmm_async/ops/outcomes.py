"""Per-device outcomes of an operation, progress events, and the report that reduces them."""

from __future__ import annotations

import enum
import errno
import time
from collections import Counter
from collections.abc import AsyncIterable, Callable

import msgspec

from ..core.attempts import may_have_applied
from ..errors import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    DeviceNotFound,
    EpmmError,
    ForbiddenError,
    JobInterrupted,
    NotFoundError,
    RateLimitedError,
    RedirectError,
    RequestTooLargeError,
    ServerError,
    TlsError,
    TransportError,
    ValidationError,
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
    """The server refused the device for its identity or state (unknown or malformed id,
    wiped, retired, unlock not possible): not applied, and sending again will not help.
    ``reason`` says which. The same in bulk and per-device mode."""
    FAILED = "failed"
    """Certainly not applied (refused for a reason that is not the device's, or never sent);
    safe to send again."""
    UNKNOWN = "unknown"
    """The request may or may not have been applied (timeout, dropped connection, 500, 502,
    504): a destructive action is not resent unless the caller asks."""
    SKIPPED = "skipped"
    """Not attempted: the job was aborted (authentication failure, server down)."""
    CANCELLED = "cancelled"
    """Not done because the job was stopped or cancelled; nothing that may have been applied
    was sent, so it is safe to run again."""


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
    reason: str | None = None
    """Why, as a short code: for INVALID ``not_found``, ``invalid_device``, ``wiped``,
    ``retired``, ``unlock_not_possible``, ``unlock_failed``, ``refused``; for the others the
    kind of failure (``rate_limited``, ``redirected``, ``server_error``, ``timeout``...)."""
    mac: str | None = None
    """The Wi-Fi MAC the device was named by, when the job resolved it to this uuid."""

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
    reasons: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    """Outcomes counted by status, then by ``reason`` ("" when an outcome has none)."""

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
    reasons: dict[str, Counter[str]] = {}
    aborted: str | None = None
    async for outcome in stream:
        outcomes.append(outcome)
        action = action or outcome.action
        counts[outcome.status.value] += 1
        reasons.setdefault(outcome.status.value, Counter())[outcome.reason or ""] += 1
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
        reasons={status: dict(by) for status, by in reasons.items()},
    )


def classify_error(
    error: EpmmError, *, per_device: bool = False
) -> tuple[OutcomeStatus, str | None]:
    """The outcome status (and reason code) a failed request leaves its devices in.

    * the server refused the device (404 "no data" for it, a rejected id, or, for a request
      about one device, a 400 with the API's message: wiped, retired...) -> INVALID;
    * stopped before the next attempt, with nothing sent that may have applied -> CANCELLED;
    * it may have been applied (:func:`~epmm_async.core.attempts.may_have_applied`) -> UNKNOWN;
    * otherwise -> FAILED: certainly not applied.
    """
    if isinstance(error, DeviceNotFound):
        return OutcomeStatus.INVALID, "not_found"
    if isinstance(error, ValidationError):
        return OutcomeStatus.INVALID, "invalid_id"
    if (
        per_device
        and isinstance(error, BadRequestError)
        and not isinstance(error, RequestTooLargeError)
        and error.messages
        and not error.earlier_attempt_may_have_applied
    ):
        return OutcomeStatus.INVALID, refusal_reason(" ".join(error.messages))
    applied = may_have_applied(error)
    if isinstance(error, JobInterrupted):
        return (OutcomeStatus.UNKNOWN if applied else OutcomeStatus.CANCELLED), "interrupted"
    return (OutcomeStatus.UNKNOWN if applied else OutcomeStatus.FAILED), failure_reason(error)


def refusal_reason(text: str) -> str:
    """A reason code for the server's refusal of a device, from its message."""
    lowered = text.lower()
    for word in ("wiped", "retired"):
        if word in lowered:
            return word
    if "not found" in lowered or "no device" in lowered:
        return "not_found"
    return "refused"


def failure_reason(error: EpmmError) -> str:
    """A short code for the kind of failure."""
    for kind, code in (
        (RedirectError, "redirected"),
        (RequestTooLargeError, "request_too_large"),
        (RateLimitedError, "rate_limited"),
        (AuthenticationError, "unauthorized"),
        (ForbiddenError, "forbidden"),
        (NotFoundError, "not_found"),
        (ServerError, "server_error"),
        (ConnectError, "connect_error"),
        (TransportError, "transport_error"),
    ):
        if isinstance(error, kind):
            return code
    return type(error).__name__


def is_fatal(error: EpmmError) -> bool:
    """Errors that stop a whole job at once, because every other request would fail the same
    way: the credentials or the account are wrong, the server's certificate is refused or it
    does not speak TLS, a 404 that is not the API's (an HTML page: the base URL is wrong for
    every request), or this process ran out of file descriptors."""
    if isinstance(error, AuthenticationError | ForbiddenError | TlsError):
        return True
    if isinstance(error, NotFoundError) and not isinstance(error, DeviceNotFound):
        return True
    return isinstance(error, ConnectError) and error.errno == errno.EMFILE


def is_outage(error: EpmmError) -> bool:
    """Errors that suggest the server is down rather than the device being at fault."""
    if is_fatal(error):
        return False  # a job-wide cause of its own, not the server being down
    if isinstance(error, ConnectError | TransportError):
        return True
    return isinstance(error, ServerError) and error.status in (502, 503, 504)


def failed_outcome(
    device: str,
    action: str,
    error: EpmmError,
    *,
    started: float,
    per_device: bool = False,
    **extra: object,
) -> Outcome:
    """The outcome of ``device`` when its request ended in ``error``."""
    status, reason = classify_error(error, per_device=per_device)
    return Outcome(
        device=device,
        action=action,
        status=status,
        reason=reason,
        attempts=error.attempts,
        elapsed=time.monotonic() - started,
        error=str(error),
        error_type=type(error).__name__,
        http_status=getattr(error, "status", None) or None,
        **extra,  # type: ignore[arg-type]
    )
