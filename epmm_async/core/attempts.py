"""Whether a failed attempt may have been applied: the one answer, for retries and outcomes.

A pure function of the error. The retry policy asks it before resending a request that must
not be applied twice (wipe, retire, register, send-message), and the operations layer asks it
to choose between FAILED (certainly not applied, safe to send again) and UNKNOWN (it may have
been). When the evidence cannot tell, the answer is "may have applied": a gateway error (502,
504) says nothing about whether the backend acted before the gateway gave up.

========================================  ========================
Failure                                   May have been applied?
========================================  ========================
connection not opened (refused, DNS, TLS) no
any 3xx (a redirect is never an answer)   no
401, 403, 404 (API body or not), 405      no
414, 431, 400 "request too large"         no (the front end refused it)
any other 4xx, 429                        no (the server refused it)
503 with ``Retry-After``                  no (the server shed load)
stopped or cancelled before an attempt    no (unless an earlier attempt may have)
caller input rejected, client not open    no (nothing was sent)
timeout or drop after sending             yes
500, 502, 504, 503 without Retry-After    yes
any other 5xx                             yes
an undecodable 2xx                        yes
an earlier attempt that may have applied  yes
anything else                             yes
========================================  ========================
"""

from __future__ import annotations

from ..errors import (
    ApiError,
    ClientClosedError,
    DecodeError,
    DeviceLookupError,
    EpmmError,
    JobInterrupted,
    JournalError,
    TransportError,
    ValidationError,
    WaiterTimeout,
)

__all__ = ["may_have_applied", "refused_by_server"]


def refused_by_server(error: EpmmError) -> bool:
    """Whether the answer itself proves the server did not act on this attempt."""
    if isinstance(error, ApiError):
        if 300 <= error.status < 500:
            return True
        return error.status == 503 and error.retry_after is not None
    if isinstance(error, DecodeError):
        # An unreadable error page (or one over the size cap) still carries its status.
        return 300 <= error.status < 500
    return False


def may_have_applied(error: EpmmError) -> bool:
    """Whether the request that ended in ``error`` may have been applied by the server.

    Considers every attempt: a request whose earlier attempt may have been applied may have
    been applied, whatever its last attempt answered.
    """
    if error.earlier_attempt_may_have_applied:
        return True
    if isinstance(
        error,
        JobInterrupted
        | ValidationError
        | WaiterTimeout
        | JournalError
        | ClientClosedError
        | DeviceLookupError,
    ):
        return False
    if isinstance(error, TransportError):
        return error.sent
    return not refused_by_server(error)
