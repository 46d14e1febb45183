"""``EpmmClient``: the entry point, one long-lived session opened by ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from yarl import URL

from .api import BulkApi, CountriesApi, DevicesApi, LabelsApi, OperatorsApi
from .config import ClientConfig, parse_base_url
from .credentials import Credentials
from .errors import ValidationError
from .ops.engine import Runs
from .sender import Sender
from .transport.aio import AiohttpTransport
from .transport.base import Transport
from .v2 import V2Api

if TYPE_CHECKING:
    from .ops import Operations

__all__ = ["EpmmClient"]


class EpmmClient:
    """Async client for the EPMM V1 Device Management API.

    Use it as ``async with EpmmClient(url, username=..., password=...) as epmm:``; one
    session lives for the block. ``config`` (a :class:`~epmm_async.config.ClientConfig`)
    holds every option: wire format, timeouts, TLS, connection limit, retry policy, rate
    limit, response cap, bulk limits, user agent. ``transport`` replaces the default aiohttp
    transport (:class:`~epmm_async.transport.memory.MemoryTransport` serves canned answers
    in memory, for tests); the client opens and closes whichever it uses.
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        config: ClientConfig | None = None,
        transport: Transport | None = None,
    ) -> None:
        """Configure the client; nothing is opened until ``async with`` (or :meth:`open`)."""
        self.config = config if config is not None else ClientConfig()
        if not isinstance(self.config, ClientConfig):
            raise ValidationError("config must be a ClientConfig")
        url = parse_base_url(base_url, allow_insecure_http=self.config.allow_insecure_http)
        credentials = Credentials(username, password)
        self.transport: Transport = (
            transport if transport is not None else AiohttpTransport(self.config)
        )
        """What moves the bytes (the aiohttp transport unless one was given)."""
        self.sender = Sender(url, credentials, self.config, self.transport)
        """Sends requests with retries, pacing and the API's answer rules."""
        self.bulk_limits = self.config.bulk
        self.devices = DevicesApi(self.sender)
        """Device reads, searches, registration and per-device actions."""
        self.v2 = V2Api(self.sender, self.config)
        """API v2: device search by query, label lists and label membership."""
        self.labels = LabelsApi(self.sender)
        """All labels."""
        self.operators = OperatorsApi(self.sender)
        """All operators."""
        self.countries = CountriesApi(self.sender)
        """All countries."""
        self.bulk = BulkApi(self.sender, self.bulk_limits)
        """One bulk-action or send-message request."""
        if self.request_budget() < 256:
            raise ValidationError(
                f"bulk.max_request_bytes={self.bulk_limits.max_request_bytes} leaves "
                f"{self.request_budget()} bytes for a request line beside this client's "
                "headers: too little for any bulk request"
            )
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
            f"EpmmClient({str(self.sender.base_url)!r}, "
            f"username={self.sender.credentials.username!r}, "
            f"format={self.config.response_format!r})"
        )

    async def open(self) -> Self:
        """Open the session (``async with`` does this for you)."""
        await self.sender.open()
        return self

    @property
    def base_url(self) -> URL:
        """The server root this client talks to (no credentials in it)."""
        return self.sender.base_url

    @property
    def base_path(self) -> str:
        """The base URL's path prefix (counted in every request line)."""
        return self.sender.base_path

    def request_budget(self, max_request_line: int | None = None) -> int:
        """Bytes a bulk request line may take: the line limit, and room for the headers
        this client sends under the front end's limit on line plus headers."""
        line = max_request_line or self.bulk_limits.max_request_line
        return min(line, self.bulk_limits.max_request_bytes - self.sender.header_bytes())

    async def close(self) -> None:
        """Halt the operations' jobs, let their requests on the wire finish, then close the
        session; the client cannot be used afterwards."""
        try:
            await self.runs.close()
        finally:
            await self.sender.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
