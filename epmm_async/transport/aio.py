"""The default transport: one long-lived aiohttp session, TLS, timeouts, a capped body.

It moves bytes (:mod:`epmm_async.transport.base`): one attempt per exchange, no retries and
no reading of what the answer means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType

import aiohttp
from yarl import URL

from ..config import ClientConfig, make_ssl_context
from ..errors import ClientClosedError, EpmmError
from .base import HttpRequest, too_large
from .failures import map_exception

__all__ = ["AiohttpTransport"]

_READ_CHUNK = 256 * 1024

# What aiohttp adds to the client's headers (Host, Accept-Encoding, Content-Length,
# Connection...): a bound for the front end's limit on request line plus headers.
_AIOHTTP_HEADER_BYTES = (
    len("Host: ") + 255 + len(":65535") + 2
    + len("Accept-Encoding: gzip, deflate, br, zstd") + 2
    + len("Content-Length: 99999999") + 2
    + 64
)


class _AiohttpReply:
    """An aiohttp response as a :class:`~epmm_async.transport.base.Reply`."""

    __slots__ = ("_request", "_resp")

    def __init__(self, resp: aiohttp.ClientResponse, request: HttpRequest) -> None:
        self._resp = resp
        self._request = request

    @property
    def status(self) -> int:
        return self._resp.status

    @property
    def content_type(self) -> str | None:
        return self._resp.headers.get("Content-Type")

    @property
    def location(self) -> str | None:
        return self._resp.headers.get("Location")

    @property
    def retry_after(self) -> str | None:
        return self._resp.headers.get("Retry-After")

    async def read(self, limit: int) -> bytes:
        resp = self._resp
        size = resp.content_length
        if size is not None and size > limit:
            raise too_large(self._request, resp.status, limit, size)
        if size is not None and resp.headers.get("Content-Encoding") is None:
            # The announced length is what will be read: no need to count chunks.
            try:
                return await resp.read()
            except BaseException as exc:
                mapped = map_exception(exc, self._request)
                if mapped is None:
                    raise
                raise mapped from None
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.chunks(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(self._request, resp.status, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_chunked(size):
                yield chunk
        except EpmmError:
            raise
        except BaseException as exc:
            mapped = map_exception(exc, self._request)
            if mapped is None:
                raise
            raise mapped from None


class AiohttpTransport:
    """Sends HTTP exchanges over one long-lived aiohttp session."""

    extra_header_bytes = _AIOHTTP_HEADER_BYTES

    def __init__(self, config: ClientConfig | None = None) -> None:
        """Take the TLS, timeout, connection and proxy options of ``config``; the session
        is created by :meth:`open`. A CA bundle that cannot be read is a
        :class:`~epmm_async.errors.ValidationError` here, before anything is sent."""
        self.config = config or ClientConfig()
        self._ssl = make_ssl_context(self.config.verify)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._session else "not open"
        return f"AiohttpTransport({state})"

    async def open(self) -> None:
        """Create the session (once); fail loudly if aiohttp's hidden resend cannot be
        turned off."""
        if self._closed:
            raise ClientClosedError("this client was closed; create a new one")
        if self._session is not None:
            return
        t = self.config.timeouts
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.config.connection_limit, ssl=self._ssl),
            timeout=aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read),
            trust_env=self.config.trust_env,
            auto_decompress=True,
            raise_for_status=False,
        )
        # aiohttp silently resends an "idempotent" method (PUT among them) once when a pooled
        # connection drops. Wipe and retire are PUTs that must never be resent once they may
        # have arrived, and a resend hidden from the retry policy would also be misreported
        # as "never sent" if it failed to connect. Every resend is the policy's decision, so
        # an aiohttp without the switch is refused rather than trusted.
        if not hasattr(session, "_retry_connection"):
            await session.close()
            raise RuntimeError(
                f"aiohttp {aiohttp.__version__} has no ClientSession._retry_connection: its "
                "hidden resend of PUT requests (wipe, retire) cannot be turned off, so "
                "epmm-async refuses to send; install an aiohttp version that epmm-async "
                "supports (see its pyproject.toml)"
            )
        session._retry_connection = False
        self._session = session

    async def close(self) -> None:
        """Close the session and its connections; the transport cannot be reopened."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def exchange(self, request: HttpRequest) -> _Exchange:
        """Send ``request`` once and hold its reply (and pooled connection) for the block."""
        if self._session is None:
            raise ClientClosedError("the transport is not open")
        return _Exchange(self._session, request)


class _Exchange:
    """The context of one exchange: the request sent on entry, the connection released on
    exit. (A class, not a generator: it is on every request.)"""

    __slots__ = ("_request", "_resp", "_session")

    def __init__(self, session: aiohttp.ClientSession, request: HttpRequest) -> None:
        self._session = session
        self._request = request
        self._resp: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> _AiohttpReply:
        request = self._request
        try:
            self._resp = await self._session.request(
                request.method,
                URL(request.url, encoded=True),
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
            )
        except BaseException as exc:
            mapped = map_exception(exc, request)
            if mapped is None:
                raise
            raise mapped from None
        return _AiohttpReply(self._resp, request)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._resp is not None:
            self._resp.release()
