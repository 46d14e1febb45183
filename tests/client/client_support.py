"""Shared helpers of the client tests: a mocked EPMM (aioresponses) and a client factory."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import aiohttp
from aioresponses import aioresponses
from yarl import URL

from epmm_async import ClientConfig, EpmmClient, RetryPolicy

BASE = "https://epmm.example.test"
USER = "api-admin"
PASSWORD = "s3cr3t-P4ss!word"
ANY_URL = re.compile(r"^https://epmm\.example\.test/.*$")

CONTENT_TYPES = {"json": "application/json", "xml": "application/xml"}
ACCEPT = CONTENT_TYPES


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without ``stream_writer`` (aiohttp >= 3.12)."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class MockServer(aioresponses):  # type: ignore[misc]
    """aioresponses with the compat response class and helpers to inspect what was sent."""

    def add(self, url: Any, method: str = "GET", *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", _CompatResponse)
        super().add(url, method, *args, **kwargs)

    def reply(
        self,
        method: str,
        body: str | bytes = "",
        *,
        fmt: str = "json",
        status: int = 200,
        url: Any = ANY_URL,
        headers: dict[str, str] | None = None,
        repeat: bool | int = False,
        content_type: str | None = None,
    ) -> None:
        """Register one answer for ``method`` on any URL of the test server."""
        self.add(
            url,
            method,
            status=status,
            body=body,
            content_type=content_type or CONTENT_TYPES[fmt],
            headers=headers,
            repeat=repeat,
        )

    def calls(self) -> list[tuple[str, URL, dict[str, Any]]]:
        """Every request made: (method, URL as normalised by aioresponses, kwargs)."""
        out = []
        for (method, url), calls in self.requests.items():
            for call in calls:
                out.append((method, url, call.kwargs))
        return out

    def only_call(self) -> tuple[str, URL, dict[str, Any]]:
        """The one request made (fails if there were more or none)."""
        calls = self.calls()
        assert len(calls) == 1, calls
        return calls[0]

    def count(self) -> int:
        """How many requests were made."""
        return len(self.calls())




FAST_RETRY = RetryPolicy(initial_delay=0.001, max_delay=0.01, attempts=4, deadline=5.0)


def make_client(fmt: str = "json", **kwargs: Any) -> EpmmClient:
    """A client for the test server (fast retries unless told otherwise)."""
    kwargs.setdefault("retry", FAST_RETRY)
    return EpmmClient(BASE, username=USER, password=PASSWORD,
                      config=ClientConfig(response_format=fmt, **kwargs))



