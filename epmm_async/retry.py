"""The retry policy: which failures are retried, and how long to wait. Pure, no I/O.

Exponential backoff with full jitter, a cap per wait, a deadline over all attempts, and
``Retry-After`` honoured (up to a ceiling). What may be retried depends on the request's
:class:`~epmm_async.core.requests.Safety`:

* reads and idempotent actions (lock, unlock, wakeup, locate...) are retried on transport
  failures, 429 and 500/502/503/504, but never on a TLS failure (a refused certificate, a
  server that does not speak TLS: the next try fails the same way);
* unsafe actions (wipe, retire, register, send-message) are retried only when the failed
  attempt was certainly not applied (:func:`~epmm_async.core.attempts.may_have_applied`):
  the connection could not be opened, or the server shed load (429, 503 with
  ``Retry-After``).
"""

from __future__ import annotations

import errno
import math
import random
from dataclasses import dataclass, field

from .core.attempts import may_have_applied
from .core.requests import Safety
from .errors import (
    ApiError,
    ConnectError,
    EpmmError,
    TlsError,
    TransportError,
    ValidationError,
)

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how the transport retries a failed request.

    ``attempts`` counts the first try. ``deadline`` (seconds) bounds the whole sequence: a
    retry whose wait would end past it is not made. Use :meth:`none` to disable retries.
    """

    attempts: int = 4
    initial_delay: float = 0.2
    multiplier: float = 2.0
    max_delay: float = 10.0
    jitter: float = 1.0
    """Fraction of each wait that is random (1.0 = full jitter)."""
    deadline: float | None = 60.0
    retry_statuses: frozenset[int] = field(
        default_factory=lambda: frozenset({429, 500, 502, 503, 504})
    )
    max_retry_after: float = 120.0
    """A ``Retry-After`` longer than this is not waited for: the error is raised instead."""

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ValidationError(f"attempts must be an integer, not {self.attempts!r}")
        for name in ("initial_delay", "multiplier", "max_delay", "jitter", "max_retry_after"):
            value = getattr(self, name)
            # NaN compares false with everything: a NaN delay would wait forever or never.
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value)
            ):
                raise ValidationError(f"{name} must be a finite number, not {value!r}")
        if self.deadline is not None and (
            isinstance(self.deadline, bool) or not isinstance(self.deadline, int | float)
            or math.isnan(self.deadline)
        ):
            raise ValidationError(f"deadline must be a number of seconds or None, "
                                  f"not {self.deadline!r}")
        if self.max_retry_after < 0:
            raise ValidationError("max_retry_after must not be negative")
        if self.attempts < 1:
            raise ValidationError("attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValidationError("delays must be non-negative and multiplier at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValidationError("jitter must be between 0 and 1")
        if self.deadline is not None and self.deadline <= 0:
            raise ValidationError("deadline must be positive (or None)")

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)

    def is_retryable(self, safety: Safety, error: EpmmError) -> bool:
        """Whether ``error`` on a request of this ``safety`` may be retried at all.

        A :class:`~epmm_async.errors.TlsError` never is: a refused certificate or a server
        that does not speak TLS answers the same way every time; nor is running out of file
        descriptors (``EMFILE``/``ENFILE``): a retry only takes another one.
        """
        if isinstance(error, TlsError):
            return False
        if isinstance(error, ConnectError) and error.errno in (errno.EMFILE, errno.ENFILE):
            return False
        if isinstance(error, ConnectError):
            return True  # never reached the server: safe for every request
        if safety is Safety.UNSAFE and may_have_applied(error):
            return False
        if isinstance(error, TransportError):
            return True
        if isinstance(error, ApiError):
            return error.status in self.retry_statuses
        return False

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before retry number ``attempt`` (1 = first retry), with jitter."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        spread = base * self.jitter
        roll = (rng or random).random()
        return base - spread + spread * roll

    def next_delay(
        self,
        safety: Safety,
        error: EpmmError,
        attempt: int,
        elapsed: float,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise ``error``.

        ``attempt`` is the number of attempts made so far; ``elapsed`` the seconds since the
        first one started.
        """
        if attempt >= self.attempts or not self.is_retryable(safety, error):
            return None
        delay = self.backoff(attempt, rng)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            delay = max(delay, retry_after)
        if self.deadline is not None and elapsed + delay > self.deadline:
            return None
        return delay
