"""What a transport is: it moves one HTTP exchange's bytes, and nothing else.

A transport takes a fully built :class:`HttpRequest` (URL, headers with the credentials,
body) and gives back a :class:`Reply` (status, the few headers the client reads, the body).
It makes one attempt: retries, pacing, connection slots and what an answer means (the API's
404 "no data", a redirect, an error body) are decided above it, by
:class:`~epmm_async.sender.Sender`. A failure is raised as the typed error that says whether
the request may have left (:class:`~epmm_async.errors.ConnectError` never did,
:class:`~epmm_async.errors.TransportError` with ``sent=True`` may have).

The aiohttp transport (:mod:`epmm_async.transport.aio`) is the default; the in-memory one
(:mod:`epmm_async.transport.memory`) records requests and serves canned answers, for tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import msgspec

from ..errors import ResponseTooLargeError

__all__ = ["HttpRequest", "Reply", "Transport", "too_large"]


class HttpRequest(msgspec.Struct, frozen=True):
    """One HTTP request, ready for the wire."""

    method: str
    url: str
    """Absolute and already percent-encoded (sent as is, never re-quoted)."""
    headers: Mapping[str, str]
    """Every header the client sets, ``Authorization`` included."""
    body: bytes | None
    path: str
    """The API path (below ``/api/v1/dm``, no query) that errors and logs name."""

    def __repr__(self) -> str:
        # Header names only: the Authorization value is the password in base64. The URL's
        # query is left out too (a reason or a message may be private).
        return (f"HttpRequest({self.method} {self.path}, headers={sorted(self.headers)}, "
                f"body={len(self.body) if self.body is not None else None} bytes)")

    def __rich_repr__(self) -> list[tuple[str, object]]:
        """What rich prints (a traceback with locals, say), the same safe parts as the repr:
        a struct's own ``__rich_repr__`` would list every field, the Authorization header
        and the URL's query among them."""
        return [("method", self.method), ("path", self.path),
                ("headers", sorted(self.headers)),
                ("body_bytes", len(self.body) if self.body is not None else None)]


class Reply(Protocol):
    """The answer to one :class:`HttpRequest`, open until its context exits."""

    @property
    def status(self) -> int:
        """The HTTP status."""

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header, if any."""

    @property
    def location(self) -> str | None:
        """The ``Location`` header, if any (a redirect's target)."""

    @property
    def retry_after(self) -> str | None:
        """The ``Retry-After`` header, if any, as sent."""

    async def read(self, limit: int) -> bytes:
        """The whole body; :class:`~epmm_async.errors.ResponseTooLargeError` past
        ``limit`` bytes, raised before more than ``limit`` bytes are held."""

    def chunks(self, size: int) -> AsyncIterator[bytes]:
        """The body in chunks of at most ``size`` bytes, as they arrive."""


class Transport(Protocol):
    """Moves HTTP exchanges: one attempt per :meth:`exchange`, no retries, no meaning."""

    extra_header_bytes: int
    """An upper bound on the bytes of the headers the transport adds itself (``Host``,
    ``Accept-Encoding``, ``Content-Length``...), for the front end's header limit."""

    async def open(self) -> None:
        """Get ready to send (once; the client calls it)."""

    async def close(self) -> None:
        """Release everything; no exchange afterwards."""

    def exchange(self, request: HttpRequest) -> AbstractAsyncContextManager[Reply]:
        """Send ``request`` once; the context holds the reply (and its connection)."""


def too_large(request: HttpRequest, status: int, limit: int,
              size: int | None = None) -> ResponseTooLargeError:
    """The error for a body over ``limit`` bytes (``size`` when the server announced it)."""
    said = f"response of {size} bytes exceeds" if size is not None else "response exceeds"
    return ResponseTooLargeError(
        f"{said} the {limit}-byte cap", method=request.method, path=request.path,
        status=status,
    )
