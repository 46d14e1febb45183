"""The aiohttp transport: one session, auth, timeouts, TLS, retries, rate limit, logging.

It sends :class:`~epmm_async.core.requests.ApiRequest` objects and returns raw
:class:`Response` objects; decoding stays in the core. Every error that leaves it is an
:class:`~epmm_async.errors.EpmmError`, raised ``from None`` so no aiohttp object (whose
request info holds the ``Authorization`` header) rides along in a traceback.
"""

from __future__ import annotations

try:  # imported up front: when descriptors run out, a lazy import would fail too
    import resource
except ImportError:  # not on Unix
    resource = None  # type: ignore[assignment]

import asyncio
import base64
import errno
import ipaddress
import os
import random
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

import aiohttp
import anyio
from yarl import URL

from . import __version__
from ._logging import get_logger
from .core.decode import ResponseFormat, detect_format
from .core.redact import redact_url
from .core.requests import ApiRequest, Safety
from .core.responses import api_error, no_data_messages, parse_retry_after
from .errors import (
    ApiError,
    ClientClosedError,
    ConnectError,
    EpmmError,
    JobInterrupted,
    NotFoundError,
    RedirectError,
    ResponseTooLargeError,
    TimeoutError,
    TlsError,
    TransportError,
    ValidationError,
    may_have_applied,
)
from .pacing import JobScope, RateLimiter, current_scope
from .retry import RetryPolicy

__all__ = [
    "Credentials",
    "RateLimiter",
    "Response",
    "Timeouts",
    "Transport",
]

log = get_logger("epmm_async")

T = TypeVar("T")

DEFAULT_MAX_RESPONSE_BYTES = 128 * 1024 * 1024
"""The default cap on one response body: a 20,000-device page fits with room to spare
(measured on the simulator's records: 72 MiB in XML, 3.8 KB a device; 52 MiB in JSON)."""

_ACCEPT = {"json": "application/json", "xml": "application/xml"}


class Credentials:
    """HTTP Basic credentials. The password is never shown by ``repr``/``str``."""

    __slots__ = ("_header", "username")

    def __init__(self, username: str, password: str) -> None:
        """Check and keep the credentials as a ready ``Authorization`` header value."""
        if not isinstance(username, str) or not username:
            raise ValidationError("username must be a non-empty string")
        if not isinstance(password, str) or not password:
            raise ValidationError("password must be a non-empty string")
        if ":" in username:
            raise ValidationError("username must not contain ':' (HTTP Basic)")
        self.username = username
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._header = f"Basic {token}"

    def header(self) -> str:
        """The ``Authorization`` header value (pre-emptive Basic auth)."""
        return self._header

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    __str__ = __repr__

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("Credentials cannot be pickled")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt timeouts in seconds (None disables one)."""

    connect: float | None = 10.0
    """Opening the TCP/TLS connection."""
    read: float | None = 60.0
    """Between two reads of the response."""
    total: float | None = 300.0
    """A whole attempt, from sending to the last byte."""


@dataclass(frozen=True, slots=True)
class Response:
    """A raw answer: status, body and how it was obtained."""

    status: int
    body: bytes
    format: ResponseFormat
    attempts: int
    elapsed: float
    no_data: tuple[str, ...] | None = None
    """For the API's 404 "no data" answer, its messages; otherwise None."""


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


SslOption = bool | str | ssl.SSLContext


def make_ssl_context(verify: SslOption) -> ssl.SSLContext | Literal[False]:
    """TLS settings: True (system CAs), a CA bundle path, an SSLContext, or False (off)."""
    if verify is False:
        return False
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return ssl.create_default_context()
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ValidationError(f"cannot load CA bundle {verify!r}: {exc}") from None
    raise ValidationError("verify must be True, False, a CA bundle path or an SSLContext")


class Transport:
    """Sends API requests over one long-lived aiohttp session."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        response_format: ResponseFormat = "json",
        timeouts: Timeouts | None = None,
        connection_limit: int = 100,
        verify: SslOption = True,
        trust_env: bool = False,
        user_agent: str | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_insecure_http: bool = False,
    ) -> None:
        """See :class:`~epmm_async.client.EpmmClient` for the options."""
        try:
            url = URL(base_url)
            host = url.host
        except (ValueError, TypeError):
            # Never echo the text: a mistyped URL may hold credentials (user:pass@host).
            raise ValidationError("base_url is not a valid URL") from None
        if url.scheme not in ("http", "https") or not host:
            # Shown without user info or query: a mistyped URL may hold a password or token.
            raise ValidationError(
                f"base_url must be an http(s) URL with a host, got {redact_url(base_url)!r}"
            )
        if url.user or url.password:
            raise ValidationError("put credentials in username/password, not in base_url")
        if url.query_string or url.fragment:
            raise ValidationError(
                f"base_url must not have a query string or fragment: {redact_url(base_url)!r}"
            )
        if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
            raise ValidationError(
                f"refusing plain http:// to {url.host}: credentials would cross the network "
                "in clear text; use https:// or pass allow_insecure_http=True"
            )
        if response_format not in _ACCEPT:
            raise ValidationError(
                f"response_format must be 'json' or 'xml', got {response_format!r}"
            )
        if connection_limit < 1:
            raise ValidationError("connection_limit must be at least 1")
        self.base_url = url.with_query(None).with_fragment(None)
        self._base_path = self.base_url.path.rstrip("/")
        self.credentials = credentials
        self.response_format: ResponseFormat = response_format
        self.timeouts = timeouts or Timeouts()
        self.connection_limit = connection_limit
        self._ssl = make_ssl_context(verify)
        self.trust_env = trust_env
        self.user_agent = user_agent or f"epmm-async/{__version__}"
        self.retry = retry or RetryPolicy()
        self.rate_limiter = RateLimiter(rate_limit) if rate_limit is not None else None
        self.max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None
        # One slot per pooled connection: a request waits here, where a halt can stop it,
        # never in aiohttp's pool queue, from which it would leave after the halt.
        self._slots = anyio.Semaphore(connection_limit)
        self._closed = False
        self._answered = False
        """Whether the server has answered as the API once (a 404 page before: a wrong URL)."""
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"Transport({str(self.base_url)!r}, user={self.credentials.username!r})"

    @property
    def base_path(self) -> str:
        """Path prefix of the base URL (counted in the request line)."""
        return self._base_path

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the session (once)."""
        if self._closed:
            raise ClientClosedError("this client was closed; create a new one")
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(limit=self.connection_limit, ssl=self._ssl)
        t = self.timeouts
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read),
            trust_env=self.trust_env,
            headers={"User-Agent": self.user_agent},
            auto_decompress=True,
            raise_for_status=False,
        )
        # aiohttp silently resends an "idempotent" method (PUT among them) once when a pooled
        # connection drops. Wipe and retire are PUTs that must never be resent once they may
        # have arrived, and a resend hidden from the retry policy would also be misreported
        # as "never sent" if it failed to connect. Every resend is the policy's decision.
        if hasattr(self._session, "_retry_connection"):
            self._session._retry_connection = False

    async def close(self) -> None:
        """Close the session and its connections; the transport cannot be reopened."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._closed:
                raise ClientClosedError("the client is closed; create a new EpmmClient")
            raise ClientClosedError(
                "the client is not open; use 'async with EpmmClient(...) as epmm:'"
            )
        return self._session

    # -- sending ----------------------------------------------------------------------------

    def _url(self, req: ApiRequest) -> URL:
        # Parse path and query apart (encoded=True: no requoting), so the URL's query is the
        # query: with_path() would have put '?...' inside the path.
        return URL(str(self.base_url.origin()) + self._base_path + req.target, encoded=True)

    def header_bytes(self) -> int:
        """An upper bound on the bytes of the headers this transport sends with a request
        (``Name: value`` CRLF each, the blank line included): what a front end's limit on
        request line plus headers counts besides the line."""
        headers = {
            "Host": f"{self.base_url.host}:{self.base_url.port}",
            "Authorization": self.credentials.header(),
            "Accept": _ACCEPT[self.response_format],
            "User-Agent": self.user_agent,
            "Accept-Encoding": "gzip, deflate, br",
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": "99999999",
        }
        # aiohttp may add a few more (Connection...): a margin for them.
        return sum(len(k) + len(v) + 4 for k, v in headers.items()) + 2 + 64

    def request_line_length(self, req: ApiRequest) -> int:
        """What ``req`` costs against a front end's request-line limit."""
        return req.request_line_length(self._base_path)

    async def send(self, req: ApiRequest) -> Response:
        """Send ``req`` with the retry policy; return its answer or raise a typed error.

        The API's 404 "no data" answer is returned (``Response.no_data`` set), not raised. A
        3xx is a :class:`RedirectError`, never an answer. Inside a job
        (:mod:`epmm_async.pacing`), no attempt starts once the job's halt is set, and every
        wait between attempts ends at once: :class:`JobInterrupted` is raised instead.
        """
        session = self._require_session()
        started = time.monotonic()

        async def attempt(number: int) -> Response:
            await self._take_slot(req, number)
            try:
                status, fmt, body, headers = await self._exchange(session, req, number)
            finally:
                self._slots.release()
            elapsed = time.monotonic() - started
            if status < 300:
                self._answered = True
                return Response(status, body, fmt, number, elapsed)
            empty = no_data_messages(status, body, fmt)
            if empty is not None:
                self._answered = True
                return Response(status, body, fmt, number, elapsed, no_data=empty)
            raise self._status_error(req, status, body, fmt, headers)

        return await self._with_retries(req, attempt)

    def _status_error(
        self,
        req: ApiRequest,
        status: int,
        body: bytes,
        fmt: ResponseFormat,
        headers: Mapping[str, str],
    ) -> ApiError:
        if 300 <= status < 400:
            location = headers.get("Location")
            return RedirectError(
                status,
                method=req.method,
                path=req.path,
                location=redact_url(location) if location else None,
            )
        error = api_error(
            status,
            body,
            fmt,
            method=req.method,
            path=req.path,
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
        if type(error) is NotFoundError and not self._answered:
            # The first answer is a web server's 404, not the API's: the URL is wrong.
            error = NotFoundError(
                status, error.messages, method=req.method, path=req.path,
                hint=self._wrong_base_url_hint(),
            )
            error.wrong_base_url = True
        elif error.messages:  # the API's own error body (a web server's page has none)
            self._answered = True
        return error

    def _wrong_base_url_hint(self) -> str:
        root = str(self.base_url.origin())
        # The URL last and alone: free text is redacted word by word.
        if self._base_path:
            return (
                "nothing answers here: the base_url is probably wrong; it should be the server "
                f"root, without {self._base_path}: {root}"
            )
        return (
            "nothing answers here: is this the EPMM server? (the base_url is the server root, "
            f"not .../api/v1/dm): {root}"
        )

    async def _with_retries(
        self, req: ApiRequest, attempt: Callable[[int], Awaitable[T]]
    ) -> T:
        """The one retry loop (:meth:`_attempts`), and what it tells the job about the unit:
        whether an unsafe request succeeded or may have been applied (``JobScope.acted``)."""
        scope = current_scope()
        unsafe = scope if scope is not None and req.safety is Safety.UNSAFE else None
        try:
            result = await self._attempts(req, attempt, scope)
        except EpmmError as error:
            if unsafe is not None and may_have_applied(error):
                unsafe.acted = True
            raise
        if unsafe is not None:
            unsafe.acted = True
        return result

    async def _attempts(
        self, req: ApiRequest, attempt: Callable[[int], Awaitable[T]], scope: JobScope | None
    ) -> T:
        """Pace, attempt, and decide with the policy whether to go on."""
        halt = scope.halt if scope is not None else None
        started = time.monotonic()
        made = 0
        maybe_applied = False
        last: EpmmError | None = None
        while True:
            if not await self._pace(scope):
                raise self._interrupted(req, made, maybe_applied, last)
            made += 1
            try:
                return await attempt(made)
            except JobInterrupted:
                # Halted while waiting for a connection slot: this attempt never left; the
                # facts are those of the attempts before it.
                raise self._interrupted(req, made - 1, maybe_applied, last) from None
            except EpmmError as exc:
                error = exc
            delay = self.retry.next_delay(
                req.safety, error, made, time.monotonic() - started, self._rng
            )
            if delay is None:
                error.attempts = made
                error.earlier_attempt_may_have_applied = maybe_applied
                raise error
            maybe_applied = maybe_applied or may_have_applied(error)
            last = error
            log.info(
                "http.retry",
                method=req.method,
                path=req.path,
                attempt=made,
                delay_s=round(delay, 3),
                error=type(error).__name__,
                status=getattr(error, "status", None),
            )
            if halt is None:
                await asyncio.sleep(delay)
            elif not await halt.sleep(delay):
                raise self._interrupted(req, made, maybe_applied, last)

    async def _take_slot(self, req: ApiRequest, made: int) -> None:
        """Take a connection slot (release it with ``self._slots.release()``); inside a job,
        wait for it where a halt can end the wait, and raise JobInterrupted if it does."""
        scope = current_scope()
        halt = scope.halt if scope is not None else None
        if halt is None:
            await self._slots.acquire()
            return
        while True:
            if halt.is_set():
                raise self._interrupted(req, made - 1, False, None)
            try:
                self._slots.acquire_nowait()
                break
            except anyio.WouldBlock:
                with anyio.move_on_after(0.05):
                    await self._slots.acquire()
                    break
        if halt.is_set():
            self._slots.release()
            raise self._interrupted(req, made - 1, False, None)

    async def _pace(self, scope: JobScope | None) -> bool:
        # The client's limit, then the job's own: a job's rate never loosens the client's.
        halt = scope.halt if scope is not None else None
        if halt is not None and halt.is_set():
            return False
        for limiter in (self.rate_limiter, scope.limiter if scope is not None else None):
            if limiter is not None and not await limiter.acquire(halt):
                return False
        return True

    @staticmethod
    def _interrupted(
        req: ApiRequest, made: int, maybe_applied: bool, last: EpmmError | None
    ) -> JobInterrupted:
        after = f" after {made} attempt(s), the last: {last}" if last is not None else ""
        error = JobInterrupted(
            f"job stopped before sending {req.method} {req.path}{after}", last_error=last
        )
        error.attempts = made
        error.earlier_attempt_may_have_applied = maybe_applied
        return error

    def _headers(self, req: ApiRequest) -> dict[str, str]:
        headers = {
            "Authorization": self.credentials.header(),
            "Accept": _ACCEPT[self.response_format],
        }
        if req.form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers

    async def _exchange(
        self, session: aiohttp.ClientSession, req: ApiRequest, attempt: int
    ) -> tuple[int, ResponseFormat, bytes, Mapping[str, str]]:
        t0 = time.monotonic()
        status = 0
        try:
            async with session.request(
                req.method,
                self._url(req),
                headers=self._headers(req),
                data=req.form.encode() if req.form is not None else None,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                body = await self._read_body(resp, req)
                fmt = detect_format(resp.headers.get("Content-Type"), self.response_format)
                headers = {
                    name: value
                    for name in ("Location", "Retry-After")
                    if (value := resp.headers.get(name)) is not None
                }
        except EpmmError:
            raise
        except BaseException as exc:
            mapped = self._map_exception(exc, req)
            if mapped is None:
                raise
            self._log_attempt(req, attempt, t0, None, type(mapped).__name__)
            raise mapped from None
        self._log_attempt(req, attempt, t0, status, None)
        return status, fmt, body, headers

    @staticmethod
    def _log_attempt(
        req: ApiRequest, attempt: int, t0: float, status: int | None, error: str | None
    ) -> None:
        log.debug(
            "http.request",
            method=req.method,
            path=req.path,
            status=status,
            attempt=attempt,
            elapsed_ms=round((time.monotonic() - t0) * 1000, 1),
            error=error,
        )

    async def _read_body(self, resp: aiohttp.ClientResponse, req: ApiRequest) -> bytes:
        cap = self.max_response_bytes
        if resp.content_length is not None and resp.content_length > cap:
            raise ResponseTooLargeError(
                f"response of {resp.content_length} bytes exceeds the {cap}-byte cap",
                method=req.method,
                path=req.path,
                status=resp.status,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > cap:
                raise ResponseTooLargeError(
                    f"response exceeds the {cap}-byte cap",
                    method=req.method,
                    path=req.path,
                    status=resp.status,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _map_exception(self, exc: BaseException, req: ApiRequest) -> EpmmError | None:
        m, p = req.method, req.path
        if isinstance(exc, aiohttp.ClientSSLError):
            return _tls_error(exc, req)
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return ConnectError("connect timed out", method=m, path=p, sent=False)
        if isinstance(exc, aiohttp.ClientConnectorError):
            return _connect_error(exc, req)
        if isinstance(exc, asyncio.TimeoutError):  # includes SocketTimeoutError
            return TimeoutError("timed out waiting for the answer", method=m, path=p, sent=True)
        if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
            return TransportError(
                f"connection dropped mid-response ({type(exc).__name__})",
                method=m,
                path=p,
                sent=True,
            )
        if isinstance(exc, aiohttp.ClientError | OSError):
            return TransportError(
                f"transport failure ({type(exc).__name__})", method=m, path=p, sent=True
            )
        return None

    @asynccontextmanager
    async def stream(self, req: ApiRequest, chunk_size: int = 64 * 1024) -> AsyncIterator[
        AsyncIterator[bytes]
    ]:
        """Open ``req`` and yield an iterator over its body chunks (for large exports).

        Opening goes through the same retry loop as :meth:`send` (a 3xx or an error status is
        raised before the first chunk); a failure mid-stream is raised as a
        :class:`TransportError` (the caller has consumed part of the body).
        """
        session = self._require_session()

        async def attempt(number: int) -> aiohttp.ClientResponse:
            t0 = time.monotonic()
            try:
                resp = await session.request(
                    req.method, self._url(req), headers=self._headers(req), allow_redirects=False
                )
            except BaseException as exc:
                mapped = self._map_exception(exc, req)
                if mapped is None:
                    raise
                self._log_attempt(req, number, t0, None, type(mapped).__name__)
                raise mapped from None
            self._log_attempt(req, number, t0, resp.status, None)
            if resp.status < 300:
                return resp
            try:
                body = await self._read_body(resp, req)
            finally:
                resp.release()
            fmt = detect_format(resp.headers.get("Content-Type"), self.response_format)
            headers = {k: v for k, v in resp.headers.items() if k in ("Location", "Retry-After")}
            raise self._status_error(req, resp.status, body, fmt, headers)

        # The stream holds its pooled connection until released: it holds a slot as long.
        await self._take_slot(req, 1)
        try:
            resp = await self._with_retries(req, attempt)
            try:
                yield self._chunks(resp, req, chunk_size)
            finally:
                resp.release()
        finally:
            self._slots.release()

    async def _chunks(
        self, resp: aiohttp.ClientResponse, req: ApiRequest, chunk_size: int
    ) -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.content.iter_chunked(chunk_size):
                yield chunk
        except EpmmError:
            raise
        except BaseException as exc:
            mapped = self._map_exception(exc, req)
            if mapped is None:
                raise
            raise mapped from None


# Reasons OpenSSL gives when the peer's first bytes are not a TLS record: it answered in
# plain text (an https:// URL to a plain-http port).
_NOT_TLS_REASONS = frozenset({
    "WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE", "UNEXPECTED_RECORD",
})


def _tls_error(exc: aiohttp.ClientSSLError, req: ApiRequest) -> ConnectError:
    """The root cause of a failed TLS handshake: a refused certificate (the verifier's
    reason), a server that does not speak TLS, or the TLS library's reason. A handshake the
    peer cut (EOF) is a plain :class:`ConnectError`: it may pass on another try."""
    m, p = req.method, req.path
    where = f"{exc.host}:{exc.port}" if isinstance(exc, aiohttp.ClientConnectorError) else "?"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        reason = getattr(cert, "verify_message", None) or getattr(cert, "reason", None)
        reason = str(reason or cert)
        return TlsError(
            f"the TLS certificate of {where} was refused: {reason} (trust the CA that signed "
            "it: verify='ca.pem')",
            method=m, path=p, reason=reason, certificate=True,
        )
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else None
    if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ConnectError(
            f"{where} closed the connection during the TLS handshake", method=m, path=p,
            sent=False,
        )
    code = getattr(cause, "reason", None)
    reason = str(code or getattr(cause, "strerror", None) or cause or type(exc).__name__)
    if code in _NOT_TLS_REASONS:
        return TlsError(
            f"the server at {where} did not speak TLS ({reason}): is it a plain-http port? "
            "(use http:// for it, or the server's https port)",
            method=m, path=p, reason=reason, not_tls=True,
        )
    return TlsError(f"TLS handshake with {where} failed: {reason}", method=m, path=p,
                    reason=reason)


def open_files_limit() -> int | None:
    """This process's limit of open files (``RLIMIT_NOFILE``), or None when unlimited or
    not on Unix."""
    if resource is None:  # not on Unix
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def _connect_error(exc: aiohttp.ClientConnectorError, req: ApiRequest) -> ConnectError:
    """Why a connection could not be opened, in the operating system's words; running out of
    file descriptors (EMFILE) is said as such, with the process's limit."""
    m, p = req.method, req.path
    cause = exc.os_error
    number = cause.errno if isinstance(cause.errno, int) else None
    if number in (errno.EMFILE, errno.ENFILE):
        limit = open_files_limit()
        which = "this process" if number == errno.EMFILE else "the system"
        said = f" (at most {limit:,} open files: RLIMIT_NOFILE)" if limit is not None else ""
        return ConnectError(
            f"cannot open a connection to {exc.host}:{exc.port}: {which} ran out of file "
            f"descriptors ({errno.errorcode[number]}){said}; send fewer requests at once "
            "(a lower concurrency) or raise the limit (ulimit -n)",
            method=m, path=p, sent=False, errno=number, fd_limit=limit,
        )
    if isinstance(cause, socket.gaierror):
        reason = f"cannot resolve {exc.host}: {cause.strerror or cause}"
        return ConnectError(reason, method=m, path=p, sent=False, errno=number)
    if number is not None and number > 0:
        reason = os.strerror(number)
    else:
        reason = str(cause.strerror or cause)
    return ConnectError(
        f"cannot connect to {exc.host}:{exc.port}: {reason}", method=m, path=p, sent=False,
        errno=number,
    )
