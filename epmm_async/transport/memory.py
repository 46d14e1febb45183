"""An in-memory transport: it records every request and serves canned answers, no socket.

For tests of the API and operations layers (and of applications built on them)::

    transport = MemoryTransport()
    transport.on("PUT", "/devices/lock/" + uuid, Canned.json({"actionResult": ...}))
    async with EpmmClient("https://epmm.test", username="u", password="p",
                          transport=transport) as epmm:
        await epmm.devices.lock(uuid, reason="lost")
    assert [r.method for r in transport.requests] == ["PUT"]

A route answers with its replies in turn, the last one again and again; a reply may be a
function of the request (sync or async), which may raise a transport error
(:class:`~epmm_async.errors.ConnectError`, :class:`~epmm_async.errors.TransportError`) to
stand for a network failure. A request no route matches gets a web server's 404 page, as a
wrong URL would.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import msgspec

from ..errors import ClientClosedError
from .base import HttpRequest, too_large

__all__ = ["Canned", "MemoryTransport", "Responder", "query_pairs"]


@dataclass(frozen=True, slots=True)
class Canned:
    """A canned reply."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    location: str | None = None
    retry_after: str | None = None

    @classmethod
    def json(cls, obj: object, status: int = 200, **headers: str | None) -> Canned:
        """A JSON reply of ``obj``."""
        return cls(status, msgspec.json.encode(obj), "application/json", **headers)

    @classmethod
    def html(cls, status: int, text: str = "<html><body>error</body></html>") -> Canned:
        """A web server's HTML page (what a front end or a wrong URL answers)."""
        return cls(status, text.encode(), "text/html")

    async def read(self, limit: int) -> bytes:
        """The body (see :meth:`MemoryTransport.exchange` for the cap)."""
        return self.body

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        """The body in chunks of ``size`` bytes."""
        for start in range(0, len(self.body), size):
            yield self.body[start:start + size]


Responder = Callable[[HttpRequest], "Canned | Awaitable[Canned]"]
"""A reply computed from the request; it may raise a transport error."""

_NOT_FOUND = Canned.html(404, "<html><body><h1>404 Not Found</h1></body></html>")


class _CappedReply:
    """A canned reply read under the client's body cap, as a real transport reads it."""

    __slots__ = ("_canned", "_request")

    def __init__(self, canned: Canned, request: HttpRequest) -> None:
        self._canned = canned
        self._request = request

    @property
    def status(self) -> int:
        return self._canned.status

    @property
    def content_type(self) -> str | None:
        return self._canned.content_type

    @property
    def location(self) -> str | None:
        return self._canned.location

    @property
    def retry_after(self) -> str | None:
        return self._canned.retry_after

    async def read(self, limit: int) -> bytes:
        if len(self._canned.body) > limit:
            raise too_large(self._request, self._canned.status, limit)
        return self._canned.body

    def chunks(self, size: int) -> AsyncIterator[bytes]:
        return self._canned.chunks(size)


class MemoryTransport:
    """Records requests and answers them from routes, in memory (see the module docstring)."""

    extra_header_bytes = 0

    def __init__(self, fallback: Responder | None = None) -> None:
        """Routes are added with :meth:`on`; ``fallback`` answers what no route matches
        (default: a web server's 404 page)."""
        self.requests: list[HttpRequest] = []
        """Every request received, in order."""
        self._routes: list[tuple[str, str | re.Pattern[str], list[Canned | Responder]]] = []
        self._fallback = fallback
        self.opened = False
        self.closed = False

    def __repr__(self) -> str:
        return f"MemoryTransport({len(self._routes)} routes, {len(self.requests)} requests)"

    def on(self, method: str, path: str | re.Pattern[str], *replies: Canned | Responder) -> None:
        """Answer ``method`` on ``path`` (the API path below ``/api/v1/dm``, without the
        query; or a pattern it must match whole) with ``replies`` in turn, the last one for
        every request after."""
        if not replies:
            raise ValueError("a route needs at least one reply")
        self._routes.append((method.upper(), path, list(replies)))

    def received(self, method: str | None = None, path: str | None = None) -> list[HttpRequest]:
        """The requests received, optionally only those of ``method`` and/or ``path``."""
        return [r for r in self.requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)]

    async def open(self) -> None:
        """Ready (a closed transport cannot be reopened)."""
        if self.closed:
            raise ClientClosedError("this client was closed; create a new one")
        self.opened = True

    async def close(self) -> None:
        """No request is accepted afterwards."""
        self.closed = True

    def _route(self, request: HttpRequest) -> Canned | Responder:
        for method, path, replies in self._routes:
            if method != request.method:
                continue
            if isinstance(path, str) and path != request.path:
                continue
            if isinstance(path, re.Pattern) and path.fullmatch(request.path) is None:
                continue
            return replies.pop(0) if len(replies) > 1 else replies[0]
        return self._fallback or _NOT_FOUND

    @asynccontextmanager
    async def exchange(self, request: HttpRequest) -> AsyncIterator[_CappedReply]:
        """Record ``request`` and answer it from its route."""
        if not self.opened or self.closed:
            raise ClientClosedError("the transport is not open")
        self.requests.append(request)
        reply = self._route(request)
        if not isinstance(reply, Canned):
            made = reply(request)
            reply = await made if inspect.isawaitable(made) else made
        yield _CappedReply(reply, request)


def query_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    """The query of ``request`` as (name, value) pairs, decoded, in order."""
    return parse_qsl(urlsplit(request.url).query, keep_blank_values=True)
