"""The exception hierarchy: everything epmm-async raises is an :class:`EpmmError`."""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConnectError",
    "DecodeError",
    "DeviceLookupError",
    "DeviceNotFound",
    "EpmmError",
    "ForbiddenError",
    "JobInterrupted",
    "JournalError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PagingError",
    "RateLimitedError",
    "RedirectError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "ServerError",
    "TimeoutError",
    "TlsError",
    "TransportError",
    "ValidationError",
    "WaiterTimeout",
]


class EpmmError(Exception):
    """Base class of every error raised by epmm-async.

    ``earlier_attempt_may_have_applied`` is set when the request was retried and an earlier
    attempt may have reached the server and acted (it timed out or was cut after sending),
    so this final error does not prove the action was not applied.
    """

    earlier_attempt_may_have_applied: bool = False
    attempts: int = 0
    """HTTP attempts made for the request that ended in this error (0: none was sent)."""


class ValidationError(EpmmError, ValueError):
    """Caller input rejected before any request was sent (bad uuid, MAC, reason, enum...)."""


class ClientClosedError(EpmmError, RuntimeError):
    """The client was used outside ``async with`` or after it was closed."""


class TransportError(EpmmError):
    """The HTTP exchange failed below the API (connect, timeout, TLS, dropped connection).

    ``sent`` tells whether the request may have reached the server: False only when it
    certainly did not (connection refused, DNS, TLS handshake). Destructive actions are
    retried only when ``sent`` is False.
    """

    def __init__(self, message: str, *, method: str, path: str, sent: bool) -> None:
        super().__init__(f"{message} ({method} {path})")
        self.method = method
        self.path = path
        self.sent = sent


class ConnectError(TransportError):
    """The connection could not be opened; the request was not sent.

    ``errno`` is the operating system's error number when it gave one: ``errno.ECONNREFUSED``
    (nothing listens on the port), ``errno.EMFILE`` (this process ran out of file
    descriptors: ``fd_limit`` then holds its limit, ``RLIMIT_NOFILE``)...
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        sent: bool = False,
        errno: int | None = None,
        fd_limit: int | None = None,
    ) -> None:
        """Keep the message, the request and the operating system's error number."""
        super().__init__(message, method=method, path=path, sent=sent)
        self.errno = errno
        self.fd_limit = fd_limit


class TlsError(ConnectError):
    """TLS verification or handshake failed; the request was not sent. Never retried.

    ``reason`` is what failed, as the TLS library said it (for a refused certificate, the
    verifier's reason: "self-signed certificate", "certificate has expired", "Hostname
    mismatch..."). ``certificate`` is True when the server's certificate was refused (trust
    the CA that signed it: ``verify="ca.pem"``); ``not_tls`` when the server did not speak
    TLS at all (typically an ``https://`` URL to a plain-http port).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        reason: str = "",
        certificate: bool = False,
        not_tls: bool = False,
    ) -> None:
        """Keep the message, the request and what failed."""
        super().__init__(message, method=method, path=path, sent=False)
        self.reason = reason
        self.certificate = certificate
        self.not_tls = not_tls


class TimeoutError(TransportError):
    """No complete answer within the configured timeout."""


class DecodeError(EpmmError):
    """A response body could not be decoded into the expected structure."""

    def __init__(self, message: str, *, method: str = "", path: str = "", status: int = 0) -> None:
        where = f" ({method} {path} -> {status})" if method else ""
        super().__init__(f"{message}{where}")
        self.method = method
        self.path = path
        self.status = status


class ResponseTooLargeError(DecodeError):
    """The response body exceeded the client's configured size cap."""


class ApiError(EpmmError):
    """The server answered with an error status.

    Carries the HTTP ``status``, the server's ``messages``, and the request ``method``/``path``
    (the path never includes credentials; query strings are not included).
    """

    hint: str | None = None
    """What the status means to the caller, said in the message whatever the body held (an
    error page from the web server carries no API message)."""

    def __init__(
        self,
        status: int,
        messages: tuple[str, ...] = (),
        *,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        """Keep the status, the server's messages and the request; ``hint`` overrides the
        class's."""
        if hint is not None:
            self.hint = hint
        said = "; ".join(messages)
        if self.hint is None:
            detail = said or "no message"
        else:
            detail = f"{self.hint} (server said: {said})" if said else self.hint
        super().__init__(f"HTTP {status} for {method} {path}: {detail}")
        self.status = status
        self.messages = messages
        self.method = method
        self.path = path
        self.retry_after = retry_after


class BadRequestError(ApiError):
    """400: the server rejected the request (invalid parameter, header too large...)."""


class AuthenticationError(ApiError):
    """401: wrong credentials, or an account without the API role.

    Real servers most likely answer both with 401 and the web server's HTML page (the
    vendor's status table lists no 403), so the message says both whatever the body; it
    never holds the credentials.
    """

    hint = "wrong credentials, or the account lacks the API role"


class ForbiddenError(ApiError):
    """403: the server knows the account and refuses it this call (no API role, or no
    permission for it)."""

    hint = "access denied: the account may not make this call (API role or permission)"


class NotFoundError(ApiError):
    """404 that is not an API "no data" answer (for example an HTML page: a wrong URL).

    ``wrong_base_url`` is True when it was the client's first answer (nothing had answered as
    the API before): the base URL is then probably wrong, and the message says so.
    """

    wrong_base_url: bool = False


class DeviceNotFound(NotFoundError):
    """404 "no data" for a request about one device: the device does not exist."""


class MethodNotAllowedError(ApiError):
    """405: wrong HTTP method for the endpoint."""


class RequestTooLargeError(ApiError):
    """414, 431, or a 400 saying the request or its headers are too large: the front end
    refused the request before the application saw it (split the request)."""


class RedirectError(ApiError):
    """3xx: the server redirected (typically to a login page); never read as an answer.

    ``location`` is the redirect target without its query string or user info.
    """

    def __init__(
        self,
        status: int,
        messages: tuple[str, ...] = (),
        *,
        method: str = "",
        path: str = "",
        location: str | None = None,
    ) -> None:
        super().__init__(status, messages or (f"redirected to {location or '?'}",),
                         method=method, path=path)
        self.location = location


class RateLimitedError(ApiError):
    """429: too many requests; ``retry_after`` says when to come back if the server said."""


class ServerError(ApiError):
    """5xx: the server or its front proxy failed."""


class JobInterrupted(EpmmError):
    """A job was stopped or cancelled between two attempts of a request (or before its first).

    No new attempt was sent after the stop. ``attempts`` says how many were sent before it and
    ``earlier_attempt_may_have_applied`` whether one of them may have been applied;
    ``last_error`` is the last attempt's error, if one was made.
    """

    def __init__(self, message: str, *, last_error: EpmmError | None = None) -> None:
        super().__init__(message)
        self.last_error = last_error


class DeviceLookupError(EpmmError):
    """A job named devices both by uuid and by MAC, and a MAC could not be looked up: whether
    it names a device also named by uuid cannot be told, so the job was refused before
    anything was sent. ``mac`` is the first such MAC and ``cause`` its look-up's error."""

    def __init__(self, message: str, *, mac: str, cause: EpmmError) -> None:
        super().__init__(message)
        self.mac = mac
        self.cause = cause


class JournalError(EpmmError):
    """The job's journal cannot be used: in use by another run, written for another job,
    unreadable, or a write failed. ``path`` names the file."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"journal {path}: {message}")
        self.path = path


class PagingError(EpmmError):
    """A paged device listing cannot give every device exactly once: the server ignores
    ``offset`` (a page starts with the same uuid as the page before it, or holds mostly
    devices already listed), answers an empty page before ``totalCount`` is reached, or its
    pages skipped devices (fewer distinct devices than ``totalCount``, beyond what repeated
    records explain). The listing stops there rather than loop, repeat devices or end early
    without a word.

    ``offset`` is the offset of the offending page, ``uuid`` the repeated device's uuid and
    ``first_seen_at`` the offset of the page that listed it first (None when no device
    repeated), and ``listed`` how many distinct devices were listed before the error.
    """

    def __init__(self, message: str, *, offset: int, uuid: str | None = None,
                 first_seen_at: int | None = None, listed: int) -> None:
        """Keep where paging broke."""
        super().__init__(message)
        self.offset = offset
        self.uuid = uuid
        self.first_seen_at = first_seen_at
        self.listed = listed


class WaiterTimeout(EpmmError):
    """A waiter (polling loop) reached its deadline before a terminal state."""
