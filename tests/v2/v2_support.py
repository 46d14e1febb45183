"""Helpers of the v2 client tests: a fake paged server (fleet) and a client on MemoryTransport.

:class:`Fleet` answers ``limit``/``offset`` the way a server may: ``offset`` as an index (the
documented reading), as a page number (one public client's reading), or ignored; pages capped
at ``cap`` whatever ``limit`` says; ``hasMore`` correct, absent, always true or always false;
``totalCount`` present or not.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.transport import Canned, HttpRequest, MemoryTransport
from epmm_async.transport.memory import query_pairs
from epmm_async.v2 import V2Api

BASE = "https://epmm.v2.test"
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.002, attempts=3, deadline=5.0)
READINGS = ("index", "page", "ignore")
HAS_MORE = ("correct", "absent", "always_true", "always_false")


def uuid_of(i: int) -> str:
    """A valid device uuid for number ``i``."""
    return f"{i:08x}-0000-4000-8000-{i:012x}"


def device(i: int) -> dict[str, object]:
    """A device-search result."""
    return {"common.uuid": uuid_of(i), "common.id": i, "common.status": "ACTIVE",
            "common.compliant": i % 2 == 0}


def label(i: int, name: str | None = None) -> dict[str, object]:
    """A label_summary entry."""
    return {"id": i, "name": name or f"label-{i}", "description": "", "isStatic": True,
            "deviceCount": i, "deviceSpaceId": 1, "deviceSpaceName": "Global",
            "rowType": "ADMIN"}


@dataclass
class Fleet:
    """A paged list served by a chosen reading of ``offset`` (see the module docstring)."""

    records: list[dict[str, object]]
    reading: str = "index"
    cap: int | None = None
    has_more: str = "correct"
    total: bool = True
    page_unit: str = "limit"
    """Page reading: a page starts at ``offset * limit`` ("limit") or ``offset * size``
    ("size", the capped size)."""
    asked: list[tuple[int, int]] = field(default_factory=list)

    def answer(self, offset: int, limit: int) -> dict[str, object]:
        """The page for ``offset``/``limit``."""
        self.asked.append((offset, limit))
        size = min(limit, self.cap) if self.cap is not None else limit
        if self.reading == "index":
            start = offset
        elif self.reading == "page":
            start = offset * (limit if self.page_unit == "limit" else size)
        else:
            start = 0
        chunk = self.records[start:start + size]
        body: dict[str, object] = {"resultCount": len(chunk), "results": chunk}
        if self.total:
            body["totalCount"] = len(self.records)
        more = start + len(chunk) < len(self.records)
        if self.has_more != "absent":
            body["hasMore"] = {"correct": more, "always_true": True,
                               "always_false": False}[self.has_more]
        return body

    def responder(self) -> Callable[[HttpRequest], Canned]:
        """A MemoryTransport reply reading ``offset`` and ``limit`` from the query."""
        def reply(request: HttpRequest) -> Canned:
            params = dict(query_pairs(request))
            return Canned.json(self.answer(int(params["offset"]), int(params["limit"])))
        return reply


def client(transport: MemoryTransport, **options: object) -> EpmmClient:
    """A client on ``transport`` (fast retries; device space 1 unless said otherwise)."""
    options.setdefault("retry", FAST)
    options.setdefault("device_space_id", 1)
    return EpmmClient(BASE, username="api", password="pw-v2",
                      config=ClientConfig(**options),  # type: ignore[arg-type]
                      transport=transport)


def v2(epmm: EpmmClient) -> V2Api:
    """The client's v2 API (until ``epmm.v2`` is wired)."""
    return V2Api(epmm.sender, epmm.config)


def params(request: HttpRequest) -> dict[str, str]:
    """The request's query parameters (decoded; the last of a repeated name)."""
    return dict(query_pairs(request))


def raw_query(request: HttpRequest) -> str:
    """The request's query string as sent."""
    return request.url.partition("?")[2]


def slow(body: object, delay: float = 0.02) -> Callable[[HttpRequest], Awaitable[Canned]]:
    """An async reply that answers ``body`` after ``delay`` seconds."""
    async def reply(request: HttpRequest) -> Canned:
        await asyncio.sleep(delay)
        return Canned.json(body)
    return reply


V2_URL = re.compile(re.escape(BASE) + r"/api/v2/")
