"""Device reads: the listing by status, one device by uuid or Wi-Fi MAC, the searches by
phone, user and label, and a device's profiles."""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiohttp import web

from epmm_async.enums import DeviceStatus

from ..fleet import SimDevice
from ..params import norm_mac, params, parse_int
from ..replies import Bad, messages
from ..wire import Tree
from .base import Resource, Route

__all__ = ["Devices", "device_tree", "iso"]


def iso(ts: int | float) -> str:
    """A timestamp as the server writes it (``2024-06-01T00:00:00+00:00``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))


def device_tree(d: SimDevice, *, single: bool = False) -> Tree:
    """One ``device`` element; ``single``: as the lookup by uuid gives it (with
    ``currentPhoneNumber``)."""
    op = d.operator
    user = d.user
    details = d.details
    t: Tree = {
        "@id": d.id,
        "uuid": d.uuid,
        "principal": user.principal,
        "blockReason": d.block_reason,
        "clientId": d.client_id,
        "comment": d.comment,
        "compliance": d.compliance,
        "countryCode": d.country.code,
        "countryId": d.country.id,
        "countryName": d.country.name,
        # an empty <details/> while registration is pending (see Quirks.empty_details)
        "details": {"entry": [{"key": k, "value": v} for k, v in details.items()]},
        "deviceCount": 0,
        "easLastSyncAttempt": iso(d.last_connected_at - 120) if d.eas_uuid else None,
        "easUuid": d.eas_uuid,
        "emailAddress": user.email,
        "emailDomain": op.email_domain if op else None,
        "employeeOwned": d.employee_owned,
        "homeOperator": op.short_name if op else "PDA",
        "languageCountryId": d.country.id,
        "languageId": 1,
        "lastConnectedAt": iso(d.last_connected_at),
        "manufacturer": d.manufacturer,
        "mdmManaged": d.mdm_managed,
        "mdmProfileUrlId": None,
        "model": d.model,
        "name": d.name,
        "notifyUser": True,
        "operator": op.short_name if op else "PDA",
        "operatorId": op.id if op else 0,
        "phoneNumber": d.phone_number,
        "platform": d.platform,
        "quarantinedStatus": d.quarantined,
        "regCount": 0,
        "regType": "DEFAULT",
        "status": d.status.value,
        "statusCode": d.status_code,
        "userDisplayName": f"{user.first} {user.last}",
        "userFirstName": user.first,
        "userLastName": user.last,
        "userSource": int(user.source),
        "userUUID": user.uuid,
    }
    if single:
        t["currentPhoneNumber"] = d.phone_number
    if d.kind == "ios" and details:
        t["iPhoneVersion"] = details.get("BuildVersion")
    if d.extras:
        t.update(d.extras)
    return t


def _live(devices: Iterable[SimDevice]) -> list[SimDevice]:
    """``devices`` without the retired ones (the searches find registered devices only)."""
    return [d for d in devices if d.status != DeviceStatus.RETIRED]


class Devices(Resource):
    """``GET /devices``, ``/devices/{uuid}``, ``/devices/mac/{mac}``, ``/phones/{numbers}``,
    ``/users/{userid}``, ``/labels/{name}`` and ``/devices/profiles/{uuid}``."""

    def routes(self) -> list[Route]:
        """The device reads."""
        return [
            Route("GET", "/devices", self.h_devices),
            Route("GET", "/devices/mac/{mac}", self.h_device_by_mac),
            Route("GET", "/phones/{numbers}", self.h_phones),
            Route("GET", "/users/{userid}", self.h_users),
            Route("GET", "/labels/{name:.+}", self.h_label_devices),
            Route("GET", "/devices/profiles/{uuid}", self.h_profiles),
            Route("GET", "/devices/{uuid}", self.h_device),
        ]

    def _device_list(
        self,
        request: web.Request,
        devices: list[SimDevice],
        *,
        head: Tree | None = None,
        silent: bool = False,
    ) -> web.Response:
        """A page of ``devices`` (``offset``/``limit``) with ``totalCount``, after ``head``;
        ``silent``: empty ``messages``."""
        try:
            p = params(request)
            offset = parse_int(p.get("offset"), "offset", 0)
            limit = parse_int(p.get("limit"), "limit", None)
        except Bad as err:
            return self.bad(request, err)
        total = len(devices)
        page = devices[offset:] if limit is None else devices[offset : offset + limit]
        tree: Tree = dict(head or {})
        msg = f"{len(page)} Device(s) returned"
        tree["messages"] = messages() if silent else messages(msg)
        tree["devices"] = {"device": [device_tree(d) for d in page]}
        tree["totalCount"] = total
        if not page:
            return self.empty(request, tree, "No devices found.", total)
        return self.reply(request, tree)

    def _single(self, request: web.Request, d: SimDevice, *, by_uuid: bool) -> web.Response:
        """A one-device reply: ``device`` (not a list), empty ``messages``, ``totalCount``;
        ``currentPhoneNumber`` only in the uuid lookup (the document lists it there alone)."""
        tree: Tree = {
            "messages": messages(),
            "device": device_tree(d, single=by_uuid),
            "totalCount": 1,
        }
        return self.reply(request, tree)

    def _not_found(self, request: web.Request, message: str) -> web.Response:
        """404 with the API's body: the reason and ``totalCount`` 0."""
        return self.reply(request, {"messages": messages(message), "totalCount": 0}, 404)

    async def h_devices(self, request: web.Request) -> web.Response:
        """GET /devices?status=&offset=&limit=."""
        raw = params(request).get("status")
        status = DeviceStatus.ACTIVE
        if raw:
            name = raw.strip().upper()
            if DeviceStatus(name).code is None:
                return self.bad(request, Bad(400, f"Invalid status: {raw}"))
            status = DeviceStatus(name)
        return self._device_list(request, list(self.state.fleet.with_status(status)))

    async def h_device(self, request: web.Request) -> web.Response:
        """GET /devices/{uuid}."""
        try:
            d = self.find(request)
        except Bad as err:
            if err.status == 404:
                return self._not_found(request, err.messages[0])
            return self.bad(request, err)
        return self._single(request, d, by_uuid=True)

    async def h_device_by_mac(self, request: web.Request) -> web.Response:
        """GET /devices/mac/{MAC}: one ``device`` (``Quirks.mac_lookup_singular``) or the
        document's ``devices`` list."""
        raw = request.match_info["mac"]
        mac = norm_mac(raw)
        d = self.state.fleet.by_mac(mac) if mac else None
        if self.state.quirks.mac_lookup_singular:
            if d is None:
                return self._not_found(request, f"No device found with Wi-Fi MAC address {raw}.")
            return self._single(request, d, by_uuid=False)
        return self._device_list(request, [d] if d else [])

    async def h_phones(self, request: web.Request) -> web.Response:
        """GET /phones/{n1,n2}."""
        numbers = [n.strip() for n in request.match_info["numbers"].split(",") if n.strip()]
        found: list[SimDevice] = []
        for number in numbers:
            found.extend(_live(self.state.fleet.by_phone(number.lstrip("+"))))
        head: Tree = {"phoneNumber": numbers[0]} if len(numbers) == 1 else {}
        if not found and len(numbers) > 1:
            head = {"phoneNumber": ",".join(numbers)}
        return self._device_list(request, found, head=head, silent=len(numbers) == 1)

    async def h_users(self, request: web.Request) -> web.Response:
        """GET /users/{userid}."""
        return self._device_list(
            request, _live(self.state.fleet.by_user(request.match_info["userid"]))
        )

    async def h_label_devices(self, request: web.Request) -> web.Response:
        """GET /labels/{labelname}."""
        fleet = self.state.fleet
        label = fleet.label_named(request.match_info["name"])
        devices: list[SimDevice] = []
        if label is not None:
            devices = _live(d for d in fleet.devices.values() if label.matches(d))
        return self._device_list(request, devices)

    async def h_profiles(self, request: web.Request) -> web.Response:
        """GET /devices/profiles/{uuid}."""
        try:
            d = self.find(request)
        except Bad as err:
            return self.bad(request, err)
        profiles = [] if d.status == DeviceStatus.RETIRED else self.state.fleet.profiles(d)
        items: list[Tree] = []
        for p in profiles:
            item: Tree = {"@id": p.id}
            if p.uuid:
                item["uuid"] = p.uuid
            item.update(
                name=p.name,
                policyType=p.policy_type,
                status="Applied",
                profileType=p.profile_type,
                lastUpdatedAt=p.last_updated_at,
            )
            items.append(item)
        tree: Tree = {"messages": messages(), "profiles": {"profile": items}}
        if not items:
            return self.empty(request, tree, "No profiles found.")
        return self.reply(request, tree)
