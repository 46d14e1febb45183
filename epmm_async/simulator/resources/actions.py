"""Single-device actions: retire, lock, unlock, wipe, wake up and locate (by uuid or Wi-Fi
MAC), roaming settings and profile re-push (by uuid)."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from epmm_async.enums import DeviceStatus, LookupResult

from ..fleet import Fix, PendingFix, SimDevice
from ..params import params, parse_bool
from ..replies import Bad, messages
from ..wire import Tree
from .base import Resource, Route
from .rules import gate, numeric_passcode, passcode_tree

__all__ = ["Actions"]

Action = Callable[[web.Request, SimDevice, dict[str, str]], Awaitable[web.Response]]
"""An action on the device a route names, given the request's parameters."""

_MAX_REASON = 512


def _reason(p: dict[str, str], *, required: bool) -> str | None:
    reason = p.get("reason")
    if required and (reason is None or not reason.strip()):
        raise Bad(400, "Reason is required.")
    if reason is not None and len(reason) > _MAX_REASON:
        raise Bad(400, f"Reason exceeds {_MAX_REASON} characters.")
    return reason


def _check(d: SimDevice, action: str) -> None:
    problem = gate(d, action)
    if problem:
        raise Bad(400, problem)


class Actions(Resource):
    """``/devices/{action}/{uuid}`` and ``/devices/{action}/mac/{mac}``, with
    ``/devices/enableroaming/{uuid}`` and ``/devices/repushprofile/{uuid}``."""

    def routes(self) -> list[Route]:
        """Every action by uuid and by MAC, then roaming and re-push by uuid."""
        actions: list[tuple[str, str, Action]] = [
            ("PUT", "retire", self.a_retire),
            ("PUT", "lock", self.a_lock),
            ("GET", "unlock", self.a_unlock),
            ("PUT", "wipe", self.a_wipe),
            ("GET", "wakeup", self.a_wakeup),
            ("GET", "locate", self.a_locate),
        ]
        routes: list[Route] = []
        for method, name, action in actions:
            routes.append(Route(method, f"/devices/{name}/mac/{{mac}}", self._action(action)))
            routes.append(Route(method, f"/devices/{name}/{{uuid}}", self._action(action)))
        routes.append(Route("PUT", "/devices/repushprofile/{uuid}", self._action(self.a_repush)))
        routes.append(Route("PUT", "/devices/enableroaming/{uuid}", self._action(self.a_roaming)))
        return routes

    def _action(self, fn: Action) -> Handler:
        """A handler that finds the device, then runs ``fn`` (a :class:`Bad` is its answer)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                d = self.find(request)
                return await fn(request, d, params(request))
            except Bad as err:
                return self.bad(request, err)

        handler.__doc__ = fn.__doc__
        return handler

    def _destroy(
        self, request: web.Request, d: SimDevice, p: dict[str, str], action: str, word: str
    ) -> web.Response:
        """Retire or wipe ``d``: the status ``word`` names, in the ledger and received log."""
        reason = _reason(p, required=False)
        _check(d, action)
        d.status = DeviceStatus.RETIRED if action == "RETIRE" else DeviceStatus.WIPED
        self.state.applied(request, d.uuid, action, "single")
        self.state.ledger.record(d.uuid, action, "single", reason or "")
        return self.reply(
            request,
            {"messages": messages(f"Device is {word} successfully."), "deviceUuid": d.uuid},
        )

    async def a_retire(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """PUT /devices/retire/{uuid|mac/MAC}?Reason=."""
        return self._destroy(request, d, p, "RETIRE", "retired")

    async def a_wipe(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """PUT /devices/wipe/{uuid|mac/MAC}?Reason=."""
        return self._destroy(request, d, p, "WIPE", "wiped")

    async def a_lock(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """PUT /devices/lock/{uuid|mac/MAC}?Reason= (Reason required)."""
        reason = _reason(p, required=True)
        _check(d, "LOCK")
        tree: Tree = {"messages": messages("Device is locked successfully."), "deviceUuid": d.uuid}
        if d.kind not in ("android", "ios"):
            tree["unlockpasscode"] = numeric_passcode(self.state, d, "LOCK")
        d.locked = True
        self.state.ledger.record(d.uuid, "LOCK", "single", reason or "")
        return self.reply(request, tree)

    async def a_unlock(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """GET /devices/unlock/{uuid|mac/MAC}?Reason= (Reason required)."""
        reason = _reason(p, required=True)
        _check(d, "UNLOCK")
        passcode = passcode_tree(self.state, d)
        d.locked = False
        self.state.ledger.record(d.uuid, "UNLOCK", "single", reason or "")
        return self.reply(
            request,
            {"messages": messages("1 passcode(s) sent."), "passcodes": {"passcode": [passcode]}},
        )

    async def a_wakeup(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """GET /devices/wakeup/{uuid|mac/MAC}."""
        _check(d, "WAKEUP")
        self.state.ledger.record(d.uuid, "WAKEUP", "single")
        return self.reply(
            request,
            {
                "messages": messages(f"Wake up request sent to device with uuid:{d.uuid}"),
                "deviceUuid": d.uuid,
            },
        )

    async def a_locate(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """GET /devices/locate/{uuid|mac/MAC}?locatenow=true|false."""
        now_flag = parse_bool(p.get("locatenow"), "locatenow", False)
        _check(d, "LOCATE")
        fix = d.current_fix()
        locate_now = False
        if now_flag and d.kind != "ios":
            locate_now = True
            self._locate_now(d, fix)
        location: Tree = {"uuid": d.uuid}
        if fix is None:
            location["lookupResult"] = LookupResult.LOOKUP_FAILURE.value
        else:
            location.update(
                lookupResult=fix.lookup_result.value,
                latitude=fix.latitude,
                longitude=fix.longitude,
                radius=fix.radius,
                capturedAt=fix.captured_at_ms,
            )
        return self.reply(
            request,
            {
                "deviceUuid": d.uuid,
                "messages": messages(),
                "locations": {"location": [location]},
                "locateNow": locate_now,
            },
        )

    def _locate_now(self, d: SimDevice, fix: Fix | None) -> None:
        """Schedule a fresh fix near ``fix`` (an online device answers after a seeded delay,
        an offline one never)."""
        state = self.state
        n = state.ledger.count(d.uuid, "LOCATE_NOW")
        rng = random.Random(f"{state.seed}:{d.uuid}:{n}")
        delay = rng.uniform(2.0, 60.0) * state.time_scale
        base_lat = fix.latitude if fix else rng.uniform(-60, 70)
        base_lon = fix.longitude if fix else rng.uniform(-170, 170)
        gps = rng.random() < 0.7
        new = Fix(
            LookupResult.GPS if gps else LookupResult.CELL,
            round(base_lat + rng.uniform(-0.01, 0.01), 6),
            round(base_lon + rng.uniform(-0.01, 0.01), 6),
            rng.choice((5, 10, 25)) if gps else 1500,
            0,
        )
        if d.online:
            d.pending_fix = PendingFix(time.monotonic() + delay, new)
        detail = f"delay={delay:.3f}s" + ("" if d.online else " offline")
        state.ledger.record(d.uuid, "LOCATE_NOW", "single", detail)

    async def a_roaming(
        self, request: web.Request, d: SimDevice, p: dict[str, str]
    ) -> web.Response:
        """PUT /devices/enableroaming/{uuid}?voice=&data= (iOS only)."""
        _check(d, "ROAMING")
        if d.kind != "ios":
            raise Bad(400, "Roaming settings can be changed only on iOS devices.")
        if "voice" not in p or "data" not in p:
            raise Bad(400, "Parameters voice and data are required.")
        voice = bool(parse_bool(p["voice"], "voice"))
        data = bool(parse_bool(p["data"], "data")) and voice
        overrides = d.detail_overrides or {}
        overrides["Voice Roaming Enabled"] = str(voice).lower()
        overrides["DataRoamingEnabled"] = str(data).lower()
        d.detail_overrides = overrides
        self.state.ledger.record(d.uuid, "ROAMING", "single", f"voice={voice} data={data}".lower())
        return self.reply(
            request,
            {
                "deviceUuid": d.uuid,
                "messages": messages(
                    "Device voice roaming settings updated successfully. The voice roaming "
                    "setting is available only on certain carriers. Disabling voice roaming "
                    "also disables data roaming.",
                    "Device data roaming settings updated successfully.",
                ),
            },
        )

    async def a_repush(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """PUT /devices/repushprofile/{uuid}?id=&type=APP|POLICY."""
        _check(d, "REPUSH")
        ptype = p.get("type")
        if ptype is not None:
            ptype = ptype.strip().upper()
            if ptype not in ("APP", "POLICY"):
                raise Bad(400, f"Invalid profile type: {p['type']} (expected APP or POLICY)")
        pid = p.get("id")
        profiles = self.state.fleet.profiles(d)
        if pid is not None:
            try:
                wanted = int(pid)
            except ValueError:
                raise Bad(400, f"Invalid profile id: {pid}") from None
            profiles = [
                pr
                for pr in profiles
                if pr.id == wanted and (ptype is None or pr.profile_type == ptype)
            ]
            if not profiles:
                raise Bad(400, f"Profile {pid} is not applied to device {d.uuid}.")
        detail = f"id={pid} type={ptype}" if pid is not None else f"all type={ptype}"
        self.state.ledger.record(d.uuid, "REPUSH", "single", detail)
        return self.reply(
            request,
            {"messages": messages(f"{len(profiles)} profile(s) re-pushed."), "deviceUuid": d.uuid},
        )
