"""Transports: what moves an HTTP exchange's bytes (:mod:`.base`), the aiohttp one used by
default (:mod:`.aio`) and an in-memory one for tests (:mod:`.memory`)."""

from ..config import DEFAULT_MAX_RESPONSE_BYTES, SslOption, Timeouts, make_ssl_context
from ..credentials import Credentials
from .aio import AiohttpTransport
from .base import HttpRequest, Reply, Transport
from .failures import open_files_limit
from .memory import Canned, MemoryTransport

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AiohttpTransport",
    "Canned",
    "Credentials",
    "HttpRequest",
    "MemoryTransport",
    "Reply",
    "SslOption",
    "Timeouts",
    "Transport",
    "make_ssl_context",
    "open_files_limit",
]
