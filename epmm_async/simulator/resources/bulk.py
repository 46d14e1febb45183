"""Bulk calls: ``POST /bulk/devices/{ACTION}`` and the messages sent by uuid or Wi-Fi MAC
(``/bulk/sendmessage``, ``/bulk/mac/sendmessage``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from aiohttp import web

from epmm_async.enums import DeviceStatus

from ..fleet import SimDevice
from ..params import FORM, norm_mac, params
from ..replies import Bad, messages
from ..wire import Tree
from .base import Resource, Route
from .rules import gate, passcode_tree

__all__ = ["Bulk"]

_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_BULK_ACTIONS = ("LOCK", "UNLOCK", "WAKEUP_DEVICE", "RETIRE", "WIPE")


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def _message_params(p: dict[str, str]) -> tuple[str, str, str]:
    mode = (p.get("mode") or "").strip().lower()
    if mode not in ("sms", "email", "pns"):
        raise Bad(400, f"Invalid mode: {p.get('mode')!r} (expected sms, email or pns)")
    text = p.get("message") or ""
    if not text.strip():
        raise Bad(400, "message is required.")
    return mode, text, p.get("subject") or ""


class Bulk(Resource):
    """The bulk actions and bulk messages."""

    def routes(self) -> list[Route]:
        """The bulk calls."""
        return [
            Route("POST", "/bulk/devices/{action}", self.h_bulk),
            Route("POST", "/bulk/sendmessage", self.h_sendmessage),
            Route("POST", "/bulk/mac/sendmessage", self.h_sendmessage_mac),
        ]

    async def _multi(self, request: web.Request, *names: str) -> tuple[list[str], dict[str, str]]:
        """Every value of a repeated parameter called any of ``names`` (any case, query
        first, then a form body if ``Quirks.bulk_form_body``), and the form's other
        parameters by lower-cased name (first wins)."""
        wanted = {name.lower() for name in names}
        values = [v for k, v in request.query.items() if k.lower() in wanted]
        extra: dict[str, str] = {}
        if self.state.quirks.bulk_form_body and request.content_type == FORM:
            form = await request.post()
            values.extend(str(v) for k, v in form.items() if k.lower() in wanted)
            for key, value in form.items():
                extra.setdefault(key.lower(), str(value))
        elif request.can_read_body:
            await request.read()
        return values, extra

    def _check_count(self, n: int, name: str) -> None:
        if n == 0:
            raise Bad(400, f"At least one {name} is required.")
        limit = self.state.bulk_max_uuids
        if n > limit:
            raise Bad(400, f"The number of device uuids ({n}) exceeds the maximum of {limit}.")

    def _bulk_tree(self, texts: list[str], invalid: list[str]) -> Tree:
        tree: Tree = {"messages": messages(*texts)}
        if invalid:
            inv = {"uuid": invalid}
            if self.state.quirks.invalid_devices_in_messages:
                tree["messages"] = {**tree["messages"], "invalidDevices": inv}
            else:
                tree["invalidDevices"] = inv
        return tree

    def _by_uuid(self, raw: str) -> SimDevice | None:
        return self.state.fleet.devices.get(raw.lower()) if _UUID_RE.fullmatch(raw) else None

    def _by_mac(self, raw: str) -> SimDevice | None:
        mac = norm_mac(raw)
        return self.state.fleet.by_mac(mac) if mac else None

    async def h_bulk(self, request: web.Request) -> web.Response:
        """POST /bulk/devices/{ACTION}?deviceUuids=...&deviceUuids=..."""
        try:
            action = request.match_info["action"]
            uuids, _ = await self._multi(request, "deviceUuids")
            if action not in _BULK_ACTIONS:
                raise Bad(400, "Invalid action")
            self._check_count(len(uuids), "deviceUuids")
            invalid: list[str] = []
            failed: list[str] = []
            passcodes: list[Tree] = []
            for raw in _unique(uuids):
                d = self._by_uuid(raw)
                if d is None:
                    invalid.append(raw)
                    continue
                problem = gate(d, "RETIRE" if action == "RETIRE" else action)
                if problem:
                    (failed if action == "UNLOCK" else invalid).append(
                        f"Unlock failed for device {d.uuid}: {problem}"
                        if action == "UNLOCK"
                        else raw
                    )
                    continue
                self._apply(request, action, d, passcodes)
            tree = self._bulk_tree([], invalid)
            if action == "UNLOCK":
                if not tree["messages"]["message"]:  # keep a nested invalidDevices
                    msgs = messages(f"{len(passcodes)} passcode(s) sent.")
                    tree["messages"] = {**tree["messages"], **msgs}
                tree["passcodes"] = {"passcode": passcodes}
                if failed:
                    tree["failedDevices"] = {"message": failed}
            return self.reply(request, tree)
        except Bad as err:
            return self.bad(request, err)

    def _apply(
        self, request: web.Request, action: str, d: SimDevice, passcodes: list[Tree]
    ) -> None:
        if action == "LOCK":
            d.locked = True
        elif action == "UNLOCK":
            passcodes.append(passcode_tree(self.state, d))
            d.locked = False
        elif action in ("RETIRE", "WIPE"):
            d.status = DeviceStatus.RETIRED if action == "RETIRE" else DeviceStatus.WIPED
            self.state.applied(request, d.uuid, action, "bulk")
        name = "WAKEUP" if action == "WAKEUP_DEVICE" else action
        self.state.ledger.record(d.uuid, name, "bulk")

    async def h_sendmessage(self, request: web.Request) -> web.Response:
        """POST /bulk/sendmessage?mode=&message=&subject=&deviceUuid=..."""
        return await self._sendmessage(request, ("deviceUuid",), self._by_uuid)

    async def h_sendmessage_mac(self, request: web.Request) -> web.Response:
        """POST /bulk/mac/sendmessage?mode=&message=&deviceWiFiMacAddress=..."""
        names = ("deviceWiFiMacAddress", "macAddress")
        return await self._sendmessage(request, names, self._by_mac)

    async def _sendmessage(
        self,
        request: web.Request,
        names: tuple[str, ...],
        lookup: Callable[[str], SimDevice | None],
    ) -> web.Response:
        """Send the message to every device a value of ``names`` finds with ``lookup``
        (unknown and retired ones are invalid); the count is checked against ``names[0]``."""
        try:
            values, extra = await self._multi(request, *names)
            p = {**extra, **params(request)}
            mode, text, subject = _message_params(p)
            self._check_count(len(values), names[0])
            devices: list[SimDevice] = []
            invalid: list[str] = []
            for raw in _unique(values):
                d = lookup(raw)
                if d is None or d.status == DeviceStatus.RETIRED:
                    invalid.append(raw)
                else:
                    devices.append(d)
            return self._send(request, devices, invalid, mode, text, subject)
        except Bad as err:
            return self.bad(request, err)

    def _send(
        self,
        request: web.Request,
        devices: list[SimDevice],
        invalid: list[str],
        mode: str,
        text: str,
        subject: str,
    ) -> web.Response:
        for d in devices:
            self.state.ledger.record(d.uuid, "MESSAGE", "bulk", f"{mode}:{subject}:{text}"[:200])
        if not invalid:
            msg = "Message sent successfully for all devices."
        elif devices:
            msg = f"Message sent successfully for {len(devices)} device(s)."
        else:
            msg = "Message not sent: no valid devices."
        tree = self._bulk_tree([msg], invalid)
        if invalid:
            tree["messageSentFailed"] = True
        return self.reply(request, tree)
