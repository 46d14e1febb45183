"""The ``Sender``: an API request in, an answer or a typed error out, with the retry policy.

Between the API methods and the transport: it builds the HTTP request (URL, credentials,
format), paces it (the client's and the job's rate limits), waits for a connection slot where
a job's halt can stop the wait, hands each attempt to the transport, and says what the answer
means (:meth:`Sender.send`: a 2xx, the API's 404 "no data", a redirect, an error body). One
retry object (:class:`~epmm_async.retrying.Retrying`) serves :meth:`Sender.send` and
:meth:`Sender.stream` alike, and it alone counts the attempts, knows whether an earlier one
may have applied, paces and logs them, and decides whether to go on.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import msgspec
from yarl import URL

from . import __version__
from .config import ClientConfig
from .core.decode import ResponseFormat, detect_format
from .core.redact import redact_url
from .core.requests import ApiRequest
from .core.responses import api_error, no_data_messages, parse_retry_after
from .credentials import Credentials
from .errors import (
    ApiError,
    ClientClosedError,
    EpmmError,
    NotFoundError,
    RedirectError,
)
from .pacing import Halt, RateLimiter
from .retrying import Retrying
from .transport.base import HttpRequest, Reply, Transport

__all__ = ["Response", "Sender"]

_ACCEPT = {"json": "application/json", "xml": "application/xml"}
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


class Response(msgspec.Struct, frozen=True):
    """A raw answer: status, body and how it was obtained."""

    status: int
    body: bytes
    format: ResponseFormat
    attempts: int
    elapsed: float
    no_data: tuple[str, ...] | None = None
    """For the API's 404 "no data" answer, its messages; otherwise None."""


class Sender:
    """Sends API requests through a transport, with retries, pacing and the API's answer
    rules (see the module docstring)."""

    def __init__(
        self, base_url: URL, credentials: Credentials, config: ClientConfig,
        transport: Transport,
    ) -> None:
        """Send to the server root ``base_url`` (checked by
        :func:`~epmm_async.config.parse_base_url`) as ``credentials``."""
        self.base_url = base_url
        # The path as it is written (raw): it is sent as it is, so an escape in it (%23, %3F,
        # %20) must stay an escape, never become a '#', '?' or a space in the request line.
        self.base_path = base_url.raw_path.rstrip("/")
        self.credentials = credentials
        self.config = config
        self.transport = transport
        self.user_agent = config.user_agent or f"epmm-async/{__version__}"
        self.rate_limiter = (
            RateLimiter(config.rate_limit) if config.rate_limit is not None else None
        )
        self._root = str(base_url.origin()) + self.base_path
        # Built once, one set per (answer format, body kind): a request only picks one.
        self._header_sets = {
            (fmt, body): {
                "Authorization": credentials.header(),
                "Accept": accept,
                "User-Agent": self.user_agent,
                **({"Content-Type": body} if body else {}),
            }
            for fmt, accept in _ACCEPT.items()
            for body in ("", _FORM, _JSON)
        }
        # One slot per pooled connection: a request waits here, where a halt can stop it,
        # never in the transport's pool queue, from which it would leave after the halt.
        self._slots = anyio.Semaphore(config.connection_limit)
        self._state = "new"
        self._answered = False
        """Whether the server has answered as the API once (a 404 page before: a wrong URL)."""
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"Sender({str(self.base_url)!r}, user={self.credentials.username!r})"

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the transport (once)."""
        if self._state == "closed":
            raise ClientClosedError("this client was closed; create a new one")
        if self._state == "new":
            await self.transport.open()
            self._state = "open"

    async def close(self) -> None:
        """Close the transport; nothing can be sent afterwards."""
        self._state = "closed"
        await self.transport.close()

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._state == "closed"

    def _check_open(self) -> None:
        if self._state == "open":
            return
        if self._state == "closed":
            raise ClientClosedError("the client is closed; create a new EpmmClient")
        raise ClientClosedError(
            "the client is not open; use 'async with EpmmClient(...) as epmm:'"
        )

    # -- sizes ------------------------------------------------------------------------------

    def header_bytes(self) -> int:
        """An upper bound on the bytes of the headers sent with a request (``Name: value``
        CRLF each, the blank line included): what a front end's limit on request line plus
        headers counts besides the line."""
        own = max(sum(len(k) + len(v) + 4 for k, v in headers.items())
                  for headers in self._header_sets.values())
        return own + 2 + self.transport.extra_header_bytes

    def request_line_length(self, req: ApiRequest) -> int:
        """What ``req`` costs against a front end's request-line limit."""
        return req.request_line_length(self.base_path)

    def http_request(self, req: ApiRequest) -> HttpRequest:
        """``req`` as the transport sends it: the URL below the base URL, the headers."""
        kind, body = ((_FORM, req.form.encode()) if req.form is not None else
                      (_JSON, req.json) if req.json is not None else ("", None))
        headers = self._header_sets[req.wire or self.config.response_format, kind]
        return HttpRequest(req.method, self._root + req.target, headers, body, req.named_path)

    # -- sending ----------------------------------------------------------------------------

    async def send(self, req: ApiRequest) -> Response:
        """Send ``req`` with the retry policy; return its answer or raise a typed error.

        The API's 404 "no data" answer is returned (``Response.no_data`` set), not raised. A
        3xx is a :class:`RedirectError`, never an answer. Inside a job
        (:mod:`epmm_async.pacing`), no attempt starts once the job's halt is set, and every
        wait between attempts ends at once: :class:`JobInterrupted` is raised instead.
        """
        self._check_open()
        http = self.http_request(req)
        cap = self.config.max_response_bytes
        wire = req.wire or self.config.response_format
        retry = Retrying(req, self.config.retry, self._rng, self.rate_limiter)
        # The loop is written out here, not behind an attempt callback: every coroutine
        # frame between the caller and the transport is resumed at every suspension.
        while True:
            if not retry.ready():
                await retry.wait_turn()
            if not self._slot_free(retry.halt):
                await self._take_slot(retry)
            number = retry.start()
            try:
                async with self.transport.exchange(http) as reply:
                    retry.answered(reply.status)
                    body = await reply.read(cap)
                    fmt = detect_format(reply.content_type, wire)
                    status = reply.status
                    empty = None if status < 300 else no_data_messages(status, body, fmt)
                    if status < 300 or empty is not None:
                        self._answered = True
                        return retry.succeeded(Response(status, body, fmt, number,
                                                        time.monotonic() - retry.started,
                                                        no_data=empty))
                    raise self._status_error(req, reply, body, fmt)
            except EpmmError as error:
                retry.failed(error)
            finally:
                self._slots.release()

    @asynccontextmanager
    async def stream(self, req: ApiRequest, chunk_size: int = 64 * 1024) -> AsyncIterator[
        AsyncIterator[bytes]
    ]:
        """Open ``req`` and yield an iterator over its body chunks (for large exports).

        Opening goes through the same retry rules as :meth:`send` (a 3xx or an error status
        is raised before the first chunk); a failure mid-stream is raised as a
        :class:`~epmm_async.errors.TransportError` (the caller has consumed part of it).
        """
        self._check_open()
        http = self.http_request(req)
        cap = self.config.max_response_bytes
        wire = req.wire or self.config.response_format
        retry = Retrying(req, self.config.retry, self._rng, self.rate_limiter)
        # The stream holds its pooled connection until released: it holds a slot as long.
        if not self._slot_free(retry.halt):
            await self._take_slot(retry)
        try:
            while True:
                if not retry.ready():
                    await retry.wait_turn()
                retry.start()
                stack = AsyncExitStack()
                try:
                    reply = await stack.enter_async_context(self.transport.exchange(http))
                    retry.answered(reply.status)
                    if reply.status < 300:
                        break
                    async with stack:
                        body = await reply.read(cap)
                        fmt = detect_format(reply.content_type, wire)
                        raise self._status_error(req, reply, body, fmt)
                except EpmmError as error:
                    retry.failed(error)
            retry.succeeded(None)
            async with stack:
                self._answered = True
                yield reply.chunks(chunk_size)
        finally:
            self._slots.release()

    def _status_error(
        self, req: ApiRequest, reply: Reply, body: bytes, fmt: ResponseFormat
    ) -> ApiError:
        status = reply.status
        if 300 <= status < 400:
            location = reply.location
            return RedirectError(
                status,
                method=req.method,
                path=req.named_path,
                location=redact_url(location) if location else None,
            )
        error = api_error(
            status,
            body,
            fmt,
            method=req.method,
            path=req.named_path,
            retry_after=parse_retry_after(reply.retry_after),
        )
        scrubbed = tuple(self.credentials.scrub(m) for m in error.messages)
        if scrubbed != error.messages:
            error = type(error)(status, scrubbed, method=req.method, path=req.named_path,
                                retry_after=error.retry_after)
        if type(error) is NotFoundError and not self._answered:
            # The first answer is a web server's 404, not the API's: the URL is wrong.
            error = NotFoundError(
                status, error.messages, method=req.method, path=req.named_path,
                hint=self._wrong_base_url_hint(),
            )
            error.wrong_base_url = True
        elif error.messages:  # the API's own error body (a web server's page has none)
            self._answered = True
        return error

    def _wrong_base_url_hint(self) -> str:
        root = str(self.base_url.origin())
        # The URL last and alone: free text is redacted word by word.
        if self.base_path:
            return (
                "nothing answers here: the base_url is probably wrong; it should be the server "
                f"root, without {self.base_path}: {root}"
            )
        return (
            "nothing answers here: is this the EPMM server? (the base_url is the server root, "
            f"not .../api/v1/dm): {root}"
        )

    # -- connection slots -------------------------------------------------------------------

    def _slot_free(self, halt: Halt | None) -> bool:
        """Take a free connection slot at once, if there is one and no halt is set (anyio's
        ``acquire()`` would first give the event loop a turn: one more loop iteration per
        request). Release it with ``self._slots.release()``."""
        if halt is not None and halt.is_set():
            return False
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            return False
        return True

    async def _take_slot(self, retry: Retrying) -> None:
        """Wait for a connection slot; inside a job, where a halt can end the wait, and raise
        JobInterrupted if it does."""
        halt = retry.halt
        if halt is None:
            await self._slots.acquire()
            return
        while True:
            if halt.is_set():
                raise retry.interrupted()
            try:
                self._slots.acquire_nowait()
                break
            except anyio.WouldBlock:
                with anyio.move_on_after(0.05):
                    await self._slots.acquire()
                    break
        if halt.is_set():
            self._slots.release()
            raise retry.interrupted()
