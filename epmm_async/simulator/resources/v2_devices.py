"""API v2 reads: ``ping``, ``device_spaces/mine``, device search (``devices``), its count,
its fields (``devices/search_fields``) and the labels of one device."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ..fleet import SimDevice
from ..replies import V2Bad
from ..search import FIELDS, Field, QueryError, compile_query
from .base import Route
from .v2_base import KEY, SPACE_NAME, V2Resource, guarded

__all__ = ["VSP_VERSION", "V2Devices", "label_entry"]

VSP_VERSION = "11.12.0.0 Build 24"
"""The server version ``ping`` reports."""


def label_entry(label_id: int, name: str, static: bool) -> dict[str, Any]:
    """A label as ``devices/{uuid}/labels`` and label creation give it."""
    return {"id": label_id, "name": name, "staticLabel": static}


class V2Devices(V2Resource):
    """``GET /api/v2/ping``, ``/device_spaces/mine``, ``/devices``, ``/devices/count``,
    ``/devices/search_fields`` and ``/devices/{uuid}/labels``."""

    def routes(self) -> list[Route]:
        """The v2 reads."""
        return [
            Route("GET", "/ping", guarded(self.h_ping)),
            Route("GET", "/device_spaces/mine", guarded(self.h_spaces)),
            Route("GET", "/devices", guarded(self.h_search)),
            Route("GET", "/devices/count", guarded(self.h_count)),
            Route("GET", "/devices/search_fields", guarded(self.h_search_fields)),
            Route("GET", "/devices/{uuid}/labels", guarded(self.h_device_labels)),
        ]

    async def h_ping(self, request: web.Request) -> web.Response:
        """GET /ping (no space id)."""
        return self.json({"results": {"apiVersion": 2.0, "vspVersion": VSP_VERSION}})

    async def h_spaces(self, request: web.Request) -> web.Response:
        """GET /device_spaces/mine: the one space, or none
        (:attr:`Quirks.v2_device_space_id`)."""
        space = self.state.quirks.v2_device_space_id
        results = [] if space is None else [{"id": space, "name": SPACE_NAME}]
        return self.json({"results": results})

    def _fields(self, p: dict[str, str]) -> list[Field]:
        """The ``fields`` asked for, in order, each once; required, known, at most
        :attr:`Quirks.v2_max_fields`."""
        raw = p.get("fields")
        names = list(dict.fromkeys(n.strip() for n in (raw or "").split(",") if n.strip()))
        if not names:
            raise V2Bad(400, "fields is required.", f"{KEY}.fields.required")
        cap = self.state.quirks.v2_max_fields
        if cap is not None and len(names) > cap:
            raise V2Bad(400, f"Too many fields: {len(names)} (at most {cap}).", f"{KEY}.fields")
        unknown = [n for n in names if n not in FIELDS]
        if unknown:
            raise V2Bad(400, f"Invalid field(s): {', '.join(unknown)}", f"{KEY}.fields.invalid")
        return [FIELDS[n] for n in names]

    def _selected(self, p: dict[str, str]) -> list[SimDevice]:
        """The devices ``query`` and/or ``labelId`` select (both given: both must hold), in
        fleet order; neither given, a malformed query or an unknown label: an error."""
        query = p.get("query")
        label_raw = p.get("labelid")
        if query is None and label_raw is None:
            raise V2Bad(400, "query or labelId is required.", f"{KEY}.query.required")
        quirks = self.state.quirks
        devices: list[SimDevice] = list(self.state.fleet.devices.values())
        if query is not None:
            cap = quirks.v2_max_query_length
            if cap is not None and len(query) > cap:
                raise V2Bad(400, f"query is longer than {cap} characters.", f"{KEY}.query.tooLong")
            try:
                wanted = compile_query(query, FIELDS, left_to_right=quirks.v2_left_to_right)
            except QueryError as err:
                raise V2Bad(400, f"Invalid query: {err}", f"{KEY}.query.invalid") from None
            devices = [d for d in devices if wanted(d)]
        if label_raw is not None:
            label = self.label_id(label_raw)
            devices = [d for d in devices if label.matches(d)]
        return devices

    async def h_search(self, request: web.Request) -> web.Response:
        """GET /devices?adminDeviceSpaceId=&query=&labelId=&fields=&limit=&offset=."""
        began = time.perf_counter()
        p = self.query_params(request)
        self.space(p)
        fields = self._fields(p)
        devices = self._selected(p)
        start, stop = self.page(p, len(devices), self.state.quirks.v2_page_cap)
        rows = []
        for d in devices[start:stop]:
            row: dict[str, Any] = {}
            for f in fields:
                value = f.get(d)
                if value is not None:
                    row[f.name] = f.json(value)
            rows.append(row)
        body = self.paged(rows, start, len(devices))
        body["searchTimeMillis"] = int((time.perf_counter() - began) * 1000)
        body["currentServerTimeMilliseconds"] = int(time.time() * 1000)
        return self.json(body)

    async def h_count(self, request: web.Request) -> web.Response:
        """GET /devices/count?adminDeviceSpaceId=&query= (or labelId=)."""
        p = self.query_params(request)
        self.space(p)
        return self.json({"totalCount": len(self._selected(p))})

    async def h_search_fields(self, request: web.Request) -> web.Response:
        """GET /devices/search_fields?adminDeviceSpaceId=."""
        self.space(self.query_params(request))
        return self.json({"results": [{"name": name} for name in FIELDS]})

    async def h_device_labels(self, request: web.Request) -> web.Response:
        """GET /devices/{uuid}/labels?adminDeviceSpaceId=: every label the device is in."""
        self.space(self.query_params(request))
        raw = request.match_info["uuid"]
        fleet = self.state.fleet
        device = fleet.devices.get(raw.strip().lower())
        if device is None:
            raise V2Bad(404, f"Device {raw} not found.", f"{KEY}.device.notFound")
        results = [
            label_entry(lb.id, lb.name, lb.static) for lb in fleet.labels if lb.matches(device)
        ]
        return self.json({"results": results})
