"""API v2 labels: the paged ``labels/label_summary``, creating and deleting labels, and
static label membership (``PUT devices/labels/{names}/add`` and ``/remove``).

Membership is the fleet's own (``SimDevice.labels``), so v1's label search and label counts
see every change made here; each change is in the ledger (``LABEL_ADD``/``LABEL_REMOVE``,
via ``v2``, the label's name as detail).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..fleet import SimLabel
from ..replies import V2Bad
from ..search import FIELDS, QueryError, compile_query
from .base import Route
from .v2_base import KEY, SPACE_NAME, V2Resource, guarded
from .v2_devices import label_entry

__all__ = ["V2Labels"]


class V2Labels(V2Resource):
    """``GET /api/v2/labels/label_summary``, ``POST``/``DELETE /labels`` and
    ``PUT /devices/labels/{names}/add|remove``."""

    def routes(self) -> list[Route]:
        """The v2 label calls."""
        return [
            Route("GET", "/labels/label_summary", guarded(self.h_summary)),
            Route("POST", "/labels", guarded(self.h_create)),
            Route("DELETE", "/labels", guarded(self.h_delete)),
            Route("PUT", "/devices/labels/{names:.+}/add", guarded(self.h_add)),
            Route("PUT", "/devices/labels/{names:.+}/remove", guarded(self.h_remove)),
        ]

    async def h_summary(self, request: web.Request) -> web.Response:
        """GET /labels/label_summary?adminDeviceSpaceId=&limit=&offset=: every label, paged
        (``limit`` capped by :attr:`Quirks.v2_label_page_cap`)."""
        p = self.query_params(request)
        space = self.space(p)
        fleet = self.state.fleet
        labels = fleet.labels
        start, stop = self.page(p, len(labels), self.state.quirks.v2_label_page_cap)
        counts = fleet.label_counts()
        rows = [
            {
                "id": lb.id,
                "name": lb.name,
                "description": lb.description,
                "isStatic": lb.static,
                "criteria": lb.query,
                "deviceCount": counts.get(lb.id, 0),
                "deviceSpaceId": space,
                "deviceSpaceName": SPACE_NAME,
                "rowType": "SYSTEM" if lb.id < 0 else "ADMIN",
            }
            for lb in labels[start:stop]
        ]
        return self.json(self.paged(rows, start, len(labels)))

    async def h_create(self, request: web.Request) -> web.Response:
        """POST /labels {name, description, deviceSpaceId, static[, criteria]}: a static
        label, or a dynamic one following ``criteria`` (the v2 query language)."""
        space = self.space(self.query_params(request))
        body = await self.json_body(request)
        self.body_space(body, space)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise V2Bad(400, "name is required.", f"{KEY}.label.name.required")
        name = name.strip()
        description = body.get("description") or ""
        if not isinstance(description, str):
            raise V2Bad(400, "description must be text.", f"{KEY}.label.description")
        static = body.get("static", True)
        if not isinstance(static, bool):
            raise V2Bad(400, f"Invalid value for static: {static!r}", f"{KEY}.label.static")
        fleet = self.state.fleet
        if fleet.label_named(name) is not None:
            raise V2Bad(400, f"A label named {name} already exists.", f"{KEY}.label.duplicate")
        if static:
            label = fleet.create_label(name, description, static=True)
        else:
            criteria = body.get("criteria")
            if not isinstance(criteria, str) or not criteria.strip():
                raise V2Bad(
                    400, "criteria is required for a dynamic label.", f"{KEY}.label.criteria"
                )
            try:
                matcher = compile_query(
                    criteria, FIELDS, left_to_right=self.state.quirks.v2_left_to_right
                )
            except QueryError as err:
                raise V2Bad(400, f"Invalid criteria: {err}", f"{KEY}.label.criteria") from None
            label = fleet.create_label(
                name, description, static=False, query=criteria, matcher=matcher
            )
        return self.json({"results": label_entry(label.id, label.name, label.static)})

    async def h_delete(self, request: web.Request) -> web.Response:
        """DELETE /labels {reason, labelIds, deviceSpaceId}: every label or none (an unknown
        id or a system label refuses the whole call)."""
        space = self.space(self.query_params(request))
        body = await self.json_body(request)
        self.body_space(body, space)
        ids = body.get("labelIds")
        if not isinstance(ids, list) or not ids:
            raise V2Bad(400, "labelIds is required.", f"{KEY}.label.ids.required")
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise V2Bad(400, "reason must be text.", f"{KEY}.label.reason")
        labels = list({lb.id: lb for lb in (self.label_id(v) for v in ids)}.values())
        system = [lb.name for lb in labels if lb.id < 0]
        if system:
            raise V2Bad(
                400, f"System labels cannot be deleted: {', '.join(system)}", f"{KEY}.label.system"
            )
        for label in labels:
            self.state.fleet.delete_label(label)
        return self.json({"successful": True})

    async def h_add(self, request: web.Request) -> web.Response:
        """PUT /devices/labels/{names}/add {deviceUuids}."""
        return await self._membership(request, add=True)

    async def h_remove(self, request: web.Request) -> web.Response:
        """PUT /devices/labels/{names}/remove {deviceUuids}."""
        return await self._membership(request, add=False)

    def _labels(self, names_text: str) -> list[SimLabel]:
        """The labels a comma-separated (already percent-decoded) ``{names}`` names, each
        once; an unknown one: the unknown-label error."""
        names = [n.strip() for n in names_text.split(",") if n.strip()]
        if not names:
            raise V2Bad(400, "A label name is required.", f"{KEY}.label.name.required")
        found: dict[int, SimLabel] = {}
        for name in names:
            label = self.state.fleet.label_named(name)
            if label is None:
                raise self.unknown_label(name)
            found.setdefault(label.id, label)
        return list(found.values())

    def _uuids(self, body: dict[str, Any]) -> list[str]:
        """``deviceUuids``: a non-empty list of texts, at most
        :attr:`Quirks.v2_max_label_uuids` (else its status)."""
        uuids = body.get("deviceUuids")
        if not isinstance(uuids, list) or not uuids or not all(isinstance(u, str) for u in uuids):
            raise V2Bad(400, "deviceUuids must be a list of device uuids.", f"{KEY}.deviceUuids")
        quirks = self.state.quirks
        cap = quirks.v2_max_label_uuids
        if cap is not None and len(uuids) > cap:
            raise V2Bad(
                quirks.v2_label_cap_status,
                f"Too many devices: {len(uuids)} (at most {cap} in one call).",
                f"{KEY}.deviceUuids.tooMany",
            )
        return list(dict.fromkeys(uuids))

    async def _membership(self, request: web.Request, *, add: bool) -> web.Response:
        """Add the devices to every label named, or remove them: unknown devices (and, with
        :attr:`Quirks.v2_dynamic_label` ``"records"``, dynamic labels) give failure
        records and ``successful: false``, the rest is applied."""
        quirks = self.state.quirks
        self.space(self.query_params(request))
        labels = self._labels(request.match_info["names"])
        body = await self.json_body(request)
        uuids = self._uuids(body)
        dynamic = [lb.name for lb in labels if not lb.static]
        if dynamic and quirks.v2_dynamic_label == "error":
            raise V2Bad(
                400,
                f"Manual membership needs a static label: {', '.join(dynamic)}",
                f"{KEY}.label.notStatic",
            )
        fleet = self.state.fleet
        action = "LABEL_ADD" if add else "LABEL_REMOVE"
        records: list[dict[str, Any]] = []
        failed = False
        for label in labels:
            for raw in uuids:
                device = fleet.devices.get(raw.strip().lower())
                code: str | None = None
                if not label.static:
                    code, message = "LABEL_NOT_STATIC", f"Label {label.name} is not static."
                elif device is None:
                    code, message = "DEVICE_NOT_FOUND", f"Device {raw} not found."
                else:
                    if fleet.set_member(label, device, add):
                        self.state.ledger.record(device.uuid, action, "v2", label.name)
                    message = "Success"
                if code is not None:
                    failed = True
                if code is not None or quirks.v2_success_records:
                    records.append(
                        {
                            "label": label.name,
                            "device": raw,
                            "message": message,
                            "failureCode": code,
                        }
                    )
        answer: dict[str, Any] = {"successful": not failed}
        if add or quirks.v2_remove_records:
            answer["results"] = {"records": records}
        return self.json(answer, quirks.v2_partial_failure if failed else 200)
