"""``ClientConfig``: every option of a client, in one frozen object built once.

The client, its transport and its sender read their options from here and nowhere else; the
CLI's profiles build the same object. It holds no secret (credentials travel apart, in
:class:`~epmm_async.credentials.Credentials`), so it may be logged, shared and compared.
"""

from __future__ import annotations

import ipaddress
import math
import ssl
from dataclasses import dataclass, field, replace
from typing import Literal

from yarl import URL

from .core.decode import ResponseFormat
from .core.redact import redact_url
from .errors import ValidationError
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "BulkLimits",
    "ClientConfig",
    "SslOption",
    "Timeouts",
    "make_ssl_context",
    "parse_base_url",
]

DEFAULT_MAX_RESPONSE_BYTES = 128 * 1024 * 1024
"""The default cap on one response body: a 20,000-device page fits with room to spare
(measured on the simulator's records: 72 MiB in XML, 3.8 KB a device; 52 MiB in JSON)."""

SslOption = bool | str | ssl.SSLContext
"""TLS verification: True (system CAs), a CA bundle path, an ``SSLContext``, or False."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt timeouts in seconds (None disables one)."""

    connect: float | None = 10.0
    """Opening the TCP/TLS connection."""
    read: float | None = 60.0
    """Between two reads of the response."""
    total: float | None = 300.0
    """A whole attempt, from sending to the last byte."""

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)
                                      or not 0 < value < math.inf):
                raise ValidationError(
                    f"timeouts.{name} must be a positive, finite number of seconds or None")


def _positive_int(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{what} must be a positive integer, not {value!r}")


@dataclass(frozen=True, slots=True)
class BulkLimits:
    """What one bulk request may carry: a uuid count and a request-line byte budget.

    ``max_uuids`` mirrors the server's ``bulk.api.maxdeviceuuids`` (20,000 by default);
    ``max_request_line`` the front end's ``LimitRequestLine`` (8190 bytes by default),
    which with ~50 bytes per uuid binds long before the count does; ``max_request_bytes``
    Tomcat's limit on the request line plus headers (8 KB).
    """

    max_uuids: int = 20_000
    max_request_line: int = 8190
    max_request_bytes: int = 8192

    def __post_init__(self) -> None:
        for name in ("max_uuids", "max_request_line", "max_request_bytes"):
            _positive_int(getattr(self, name), name)
        if self.max_request_line < 64:
            raise ValidationError("max_request_line must be at least 64 bytes")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """How a client talks to its server: wire format, timeouts, TLS, limits, retries, pace.

    Built once, checked at construction (a bad value is a
    :class:`~epmm_async.errors.ValidationError` before anything is opened or sent), and read
    by every layer. :meth:`with_` returns a copy with some options changed.
    """

    response_format: ResponseFormat = "json"
    """``"json"`` (default) or ``"xml"``: what the client asks for (both decode alike)."""
    timeouts: Timeouts = field(default_factory=Timeouts)
    """Per-attempt timeouts."""
    connection_limit: int = 100
    """Open connections at most (and requests in flight at most)."""
    verify: SslOption = True
    """TLS verification (see :data:`SslOption`); False is not recommended."""
    trust_env: bool = False
    """Take proxies (``HTTPS_PROXY``...) and ``.netrc`` from the environment."""
    user_agent: str | None = None
    """The ``User-Agent`` header; None: ``epmm-async/<version>``."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """When and how failed requests are retried."""
    rate_limit: float | None = None
    """Requests per second for everything this client sends (None: unpaced)."""
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """A cap on one response body (default 128 MiB: a 20,000-device page fits)."""
    allow_insecure_http: bool = False
    """Allow ``http://`` to a host other than loopback (credentials in clear text)."""
    bulk: BulkLimits = field(default_factory=BulkLimits)
    """What one bulk request may carry."""
    device_space_id: int | None = None
    """API v2's ``adminDeviceSpaceId``; None: discovered once from ``device_spaces/mine``
    (the first space listed), else 1, the global space."""

    def __post_init__(self) -> None:
        if self.response_format not in ("json", "xml"):
            raise ValidationError(
                f"response_format must be 'json' or 'xml', got {self.response_format!r}"
            )
        _positive_int(self.connection_limit, "connection_limit")
        _positive_int(self.max_response_bytes, "max_response_bytes")
        if self.rate_limit is not None and (
            isinstance(self.rate_limit, bool) or not isinstance(self.rate_limit, int | float)
            or not 0 < self.rate_limit < math.inf
        ):
            raise ValidationError(f"rate_limit must be positive, not {self.rate_limit!r}")
        if not isinstance(self.verify, bool | str | ssl.SSLContext):
            raise ValidationError(
                "verify must be True, False, a CA bundle path or an SSLContext"
            )
        for name, kind in (("timeouts", Timeouts), ("retry", RetryPolicy),
                           ("bulk", BulkLimits)):
            if not isinstance(getattr(self, name), kind):
                raise ValidationError(f"{name} must be a {kind.__name__}")
        if self.device_space_id is not None:
            _positive_int(self.device_space_id, "device_space_id")
        if self.user_agent is not None and (
            not isinstance(self.user_agent, str) or not self.user_agent.isprintable()
        ):
            raise ValidationError("user_agent must be printable text")

    def with_(self, **changes: object) -> ClientConfig:
        """A copy with ``changes`` applied (checked like a new config)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        # The defaults are noise; a repr shows what was chosen.
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name in self.__dataclass_fields__
            if getattr(self, name) != getattr(_DEFAULTS, name)
        ]
        return f"ClientConfig({', '.join(changed)})"


_DEFAULTS = ClientConfig()


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_base_url(base_url: str, *, allow_insecure_http: bool) -> URL:
    """The server root as a URL, checked: http(s) with a host, no credentials, no query or
    fragment, and plain http only to loopback unless ``allow_insecure_http``."""
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
    return url.with_query(None).with_fragment(None)


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
