"""Map HTTP statuses and bodies to results or typed errors. No I/O."""

from __future__ import annotations

import email.utils
import re
import time

from ..errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ForbiddenError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitedError,
    RequestTooLargeError,
    ServerError,
)
from .decode import ResponseFormat, decode_error_messages

__all__ = ["api_error", "no_data_messages", "parse_retry_after"]

_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    414: RequestTooLargeError,
    431: RequestTooLargeError,
    429: RateLimitedError,
}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


# Tomcat answers a request line plus headers over its limit with 400 and a page saying so
# ("Request header is too large"); a proxy may say "request too long" or "URI too long".
_TOO_LARGE = re.compile(
    rb"(request|header|uri|url)[^<>\n]{0,40}?too\s+(large|long|big)", re.IGNORECASE
)


def says_too_large(body: bytes) -> bool:
    """Whether an error body says the request or its headers were too large."""
    return _TOO_LARGE.search(body[:8192]) is not None


def api_error(
    status: int,
    body: bytes,
    fmt: ResponseFormat,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
) -> ApiError:
    """The typed error for an error status, carrying the server's messages."""
    messages = decode_error_messages(body, fmt) or ()
    cls = _BY_STATUS.get(status)
    if status == 400 and says_too_large(body):
        cls = RequestTooLargeError
    if cls is None:
        cls = ServerError if status >= 500 else ApiError
    return cls(status, messages, method=method, path=path, retry_after=retry_after)


def no_data_messages(status: int, body: bytes, fmt: ResponseFormat) -> tuple[str, ...] | None:
    """For a 404 that is the API's "no data" answer, its messages; else None.

    Real servers answer an empty result with 404 and a body such as
    ``{"messages": {"message": "No devices found."}, "totalCount": 0}``. A 404 whose body is
    not the API's (an HTML page) is a wrong URL and stays an error.
    """
    if status != 404:
        return None
    return decode_error_messages(body, fmt)
