"""``EpmmClient``: the entry point, one long-lived session opened by ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from .api import BulkApi, CountriesApi, DevicesApi, LabelsApi, OperatorsApi
from .api.bulk import BulkLimits
from .core.decode import ResponseFormat
from .ops.engine import Runs
from .retry import RetryPolicy
from .transport import DEFAULT_MAX_RESPONSE_BYTES, Credentials, SslOption, Timeouts, Transport

if TYPE_CHECKING:
    from .ops import Operations

__all__ = ["EpmmClient"]


class EpmmClient:
    """Async client for the EPMM V1 Device Management API.

    Use it as ``async with EpmmClient(url, username=..., password=...) as epmm:``; one
    aiohttp session lives for the block. Options:

    * ``response_format``: ``"json"`` (default) or ``"xml"``; both decode to equal structs.
    * ``timeouts``: :class:`Timeouts` (connect, read, total per attempt).
    * ``connection_limit``: open connections at most (default 100).
    * ``verify``: TLS verification: True (default, system CAs), a CA bundle path, an
      ``ssl.SSLContext``, or False (not recommended).
    * ``trust_env``: take proxies (``HTTPS_PROXY``...) and ``.netrc`` from the environment.
    * ``user_agent``; ``retry``: a :class:`RetryPolicy`; ``rate_limit``: requests per
      second for everything this client sends.
    * ``max_response_bytes``: a cap on one response body (default 128 MiB: a
      20,000-device page, about 72 MiB in XML, fits).
    * ``allow_insecure_http``: allow ``http://`` to a host other than loopback.
    * ``bulk_max_uuids``/``max_request_line``/``max_request_bytes``: what one bulk request
      may carry (the server's ``bulk.api.maxdeviceuuids``, its front end's request-line
      limit, and the limit on request line plus headers).
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
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
        bulk_max_uuids: int = 20_000,
        max_request_line: int = 8190,
        max_request_bytes: int = 8192,
    ) -> None:
        """Configure the client; nothing is opened until ``async with`` (or :meth:`open`)."""
        self.transport = Transport(
            base_url,
            Credentials(username, password),
            response_format=response_format,
            timeouts=timeouts,
            connection_limit=connection_limit,
            verify=verify,
            trust_env=trust_env,
            user_agent=user_agent,
            retry=retry,
            rate_limit=rate_limit,
            max_response_bytes=max_response_bytes,
            allow_insecure_http=allow_insecure_http,
        )
        self.bulk_limits = BulkLimits(bulk_max_uuids, max_request_line, max_request_bytes)
        self.devices = DevicesApi(self.transport)
        """Device reads, searches, registration and per-device actions."""
        self.labels = LabelsApi(self.transport)
        """All labels."""
        self.operators = OperatorsApi(self.transport)
        """All operators."""
        self.countries = CountriesApi(self.transport)
        """All countries."""
        self.bulk = BulkApi(self.transport, self.bulk_limits)
        """One bulk-action or send-message request."""
        self.runs = Runs()
        """The operations' job runs: halted and awaited when the client closes."""
        self._ops: Operations | None = None

    @property
    def ops(self) -> Operations:
        """The operations layer: chunked bulk jobs, bounded fan-out, locate-now polling."""
        if self._ops is None:
            from .ops import Operations

            self._ops = Operations(self)
        return self._ops

    def __repr__(self) -> str:
        return (
            f"EpmmClient({str(self.transport.base_url)!r}, "
            f"username={self.transport.credentials.username!r}, "
            f"format={self.transport.response_format!r})"
        )

    async def open(self) -> Self:
        """Open the session (``async with`` does this for you)."""
        await self.transport.open()
        return self

    def request_budget(self, max_request_line: int | None = None) -> int:
        """Bytes a bulk request line may take: the line limit, and room for the headers
        this client sends under the front end's limit on line plus headers."""
        line = max_request_line or self.bulk_limits.max_request_line
        return min(line, self.bulk_limits.max_request_bytes - self.transport.header_bytes())

    async def close(self) -> None:
        """Halt the operations' jobs, let their requests on the wire finish, then close the
        session; the client cannot be used afterwards."""
        try:
            await self.runs.close()
        finally:
            await self.transport.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
