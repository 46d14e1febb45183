"""What the API v2 resources share: the ``/api/v2`` prefix, plain JSON answers and v2 error
bodies, the ``adminDeviceSpaceId`` check, paging, JSON bodies and label lookups."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ..fleet import SimLabel
from ..params import params
from ..replies import V2Bad, v2_error, v2_reply
from ..state import API_V2
from .base import Resource

__all__ = ["DEFAULT_LIMIT", "KEY", "SPACE_NAME", "V2Resource", "count_param", "guarded"]

DEFAULT_LIMIT = 50
"""``limit`` when a paged call sends none (an assumption)."""

SPACE_NAME = "Global"
"""Name of the one device space."""

KEY = "com.mobileiron.vsp.messages"
"""Prefix of the ``messageKey`` of v2 errors (a guess)."""


def count_param(p: dict[str, str], name: str, default: int | None) -> int | None:
    """A whole number of zero or more from the query; absent is ``default``; else a 400."""
    raw = p.get(name.lower())
    if raw is None or raw.strip() == "":
        return default
    try:
        number = int(raw.strip())
    except ValueError:
        raise V2Bad(400, f"Invalid value for {name}: {raw!r}", f"{KEY}.invalid.{name}") from None
    if number < 0:
        raise V2Bad(400, f"Invalid value for {name}: {raw!r}", f"{KEY}.invalid.{name}")
    return number


def guarded(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Handler:
    """``handler`` with every :class:`V2Bad` it raises answered as a v2 error."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except V2Bad as err:
            return v2_error(err)

    return run


class V2Resource(Resource):
    """A part of API v2: plain JSON, errors as v2 ``messages`` bodies."""

    prefix = API_V2

    def json(self, body: Any, status: int = 200) -> web.Response:
        """``body`` as plain JSON."""
        return v2_reply(body, status)

    def space(self, p: dict[str, str]) -> int:
        """The ``adminDeviceSpaceId`` asked for: required, a number, the admin's space."""
        raw = p.get("admindevicespaceid")
        if raw is None or raw.strip() == "":
            raise V2Bad(400, "adminDeviceSpaceId is required.", f"{KEY}.deviceSpace.required")
        try:
            space = int(raw.strip())
        except ValueError:
            raise V2Bad(
                400, f"Invalid adminDeviceSpaceId: {raw!r}", f"{KEY}.deviceSpace.invalid"
            ) from None
        if space != self.state.quirks.v2_device_space_id:
            raise V2Bad(
                400, f"Device space {space} not found or not allowed.", f"{KEY}.deviceSpace.invalid"
            )
        return space

    def body_space(self, body: dict[str, Any], space: int) -> None:
        """A body's ``deviceSpaceId``, when given, must be the space asked for."""
        value = body.get("deviceSpaceId")
        if value is None:
            return
        if isinstance(value, bool) or str(value).strip() != str(space):
            raise V2Bad(400, f"Invalid deviceSpaceId: {value!r}", f"{KEY}.deviceSpace.invalid")

    def page(self, p: dict[str, str], total: int, cap: int | None) -> tuple[int, int]:
        """The ``[start, stop)`` of the page ``limit``/``offset`` ask for: ``limit`` above
        ``cap`` lowered to it or a 400 (:attr:`Quirks.v2_over_cap`); ``offset`` an index, or
        a page number with :attr:`Quirks.v2_offset_as_page`."""
        quirks = self.state.quirks
        limit = count_param(p, "limit", DEFAULT_LIMIT) or 0
        if cap is not None and limit > cap:
            if quirks.v2_over_cap == "error":
                raise V2Bad(400, f"limit must be at most {cap}.", f"{KEY}.invalid.limit")
            limit = cap
        offset = count_param(p, "offset", 0) or 0
        start = offset * limit if quirks.v2_offset_as_page else offset
        start = min(start, total)
        return start, min(start + limit, total)

    @staticmethod
    def paged(rows: list[Any], start: int, total: int) -> dict[str, Any]:
        """A paged answer: ``totalCount``, ``resultCount``, ``hasMore``, ``results``."""
        return {
            "totalCount": total,
            "resultCount": len(rows),
            "hasMore": start + len(rows) < total,
            "results": rows,
        }

    @staticmethod
    async def json_body(request: web.Request) -> dict[str, Any]:
        """The request's JSON object body (any content type); else a 400."""
        raw = await request.read()
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, ValueError):
            raise V2Bad(400, "The request body is not valid JSON.", f"{KEY}.invalid.body") from None
        if not isinstance(body, dict):
            raise V2Bad(400, "A JSON object body is required.", f"{KEY}.invalid.body")
        return body

    def unknown_label(self, what: str) -> V2Bad:
        """The error for an unknown label (:attr:`Quirks.v2_unknown_label_status`)."""
        return V2Bad(
            self.state.quirks.v2_unknown_label_status,
            f"Label {what} not found.",
            f"{KEY}.label.notFound",
        )

    def label_id(self, value: object) -> SimLabel:
        """The label with id ``value`` (a number, or its text); unknown: the unknown-label
        error, not a number: a 400."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise V2Bad(400, f"Invalid label id: {value!r}", f"{KEY}.invalid.labelId")
        try:
            label_id = int(str(value).strip())
        except ValueError:
            raise V2Bad(400, f"Invalid label id: {value!r}", f"{KEY}.invalid.labelId") from None
        label = self.state.fleet.label_by_id(label_id)
        if label is None:
            raise self.unknown_label(f"id {label_id}")
        return label

    @staticmethod
    def query_params(request: web.Request) -> dict[str, str]:
        """Query parameters by lower-cased name (first wins), as v1 reads them."""
        return params(request)
