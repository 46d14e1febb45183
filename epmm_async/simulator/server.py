"""The simulated EPMM server: an aiohttp application on loopback with the V1 DM API."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import random
import re
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from epmm_async.enums import DeviceStatus, LookupResult

from .faults import FaultPlan, Faults, FaultState
from .fleet import Fix, Fleet, PendingFix, SimDevice, SimLabel, SimUser
from .ledger import Ledger, ReceivedLog, ReceivedRequest, Stats
from .wire import Quirks, Tree, encode, wants_xml

__all__ = ["API", "CSV_COLUMNS", "Simulator"]

API = "/api/v1/dm"
"""Path prefix of the Device Management API."""

CSV_COLUMNS = (
    "Operator",
    "Country",
    "Device UUID",
    "Phone Number",
    "Principal",
    "Name",
    "Platform",
    "Manufacturer",
    "Model",
    "Email Address",
    "Status Code",
    "Employee Owned",
    "Compliance",
    "Quarantine Status",
    "IMSI",
    "IMEI",
    "UDID",
    "Client Version",
    "MDM Enabled",
    "Serial Number",
    "Last Connected At",
    "Active Sync UUID",
    "Active Sync Last Sync Attempt",
    "Wi-Fi MAC Address",
    "Device Encryption",
    "Last MDM Check-In",
    "Last Security State Changed On",
    "Registered On",
)
"""Columns of ``GET /devices.csv``, in the document's order."""

_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_MAC_SEP = re.compile(r"[:\-.\s]")
_MAC_RE = re.compile(r"[0-9A-F]{12}")
_PHONE_RE = re.compile(r"\+?[0-9]{3,20}")
_DESTRUCTIVE_ONE = re.compile(API + r"/devices/(wipe|retire)/(?:(mac)/)?([^/]+)/?", re.I)
_DESTRUCTIVE_BULK = re.compile(API + r"/bulk/devices/(wipe|retire)/?", re.I)
_FORM = "application/x-www-form-urlencoded"
_MAX_REASON = 512
_BULK_ACTIONS = ("LOCK", "UNLOCK", "WAKEUP_DEVICE", "RETIRE", "WIPE")
_PLATFORMS = {
    "A": ("android", "Android 14"),
    "I": ("ios", "iOS 17.4.1"),
    "E": ("windows", "Windows 10.0.22631"),
    "M": ("windows", "Windows Phone 8.1"),
    "L": ("macos", "macOS 14.4.1"),
}
_HTML_404 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on this server.</p>\n</body></html>\n"
)
_HTML_PROXY = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>{code} {reason}</title>\n</head><body>\n<h1>{reason}</h1>\n"
    "<p>The server is temporarily unable to service your request.</p>\n</body></html>\n"
)
_HTML_414 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>414 Request-URI Too Long</title>\n</head><body>\n<h1>Request-URI Too Long</h1>\n"
    "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n"
    "</body></html>\n"
)
_HTML_401 = (
    '<!doctype html><html lang="en"><head><title>HTTP Status 401 – Unauthorized</title>'
    '<style type="text/css">body {font-family:Tahoma,Arial,sans-serif;} h1 {font-size:22px;}'
    '</style></head><body><h1>HTTP Status 401 – Unauthorized</h1><hr class="line" />'
    "<p><b>Type</b> Status Report</p><p><b>Description</b> The request has not been applied "
    "to the target resource because it lacks valid authentication credentials for that "
    'resource.</p><hr class="line" /><h3>Apache Tomcat</h3></body></html>'
)
_HTML_HEADER_400 = (
    "<html><body><h1>400 Bad Request</h1><p>Request header is too large</p></body></html>"
)
_HTML_HEADER_431 = (
    "<html><body><h1>431 Request Header Fields Too Large</h1>"
    "<p>Request header is too large</p></body></html>"
)
_PROXY_REASONS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Bad(Exception):
    """A request error answered with an API ``messages`` body."""

    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(messages[0] if messages else "")
        self.status = status
        self.messages = list(messages)


def _iso(ts: int | float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))


def _norm_mac(text: str) -> str | None:
    mac = _MAC_SEP.sub("", text.strip()).upper()
    return mac if _MAC_RE.fullmatch(mac) else None


def _bool(value: str | None, name: str, default: bool | None = None) -> bool | None:
    if value is None or value == "":
        return default
    low = value.strip().lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise _Bad(400, f"Invalid value for {name}: {value!r} (expected true or false)")


def _params(request: web.Request) -> dict[str, str]:
    """Query parameters by lower-cased name: names are matched without regard to case, and
    when one arrives twice (``Reason=a&reason=b``) the first occurrence wins."""
    out: dict[str, str] = {}
    for key, value in request.query.items():
        out.setdefault(key.lower(), value)
    return out


def _uuid_values(form: str) -> list[str]:
    """Every ``deviceUuids`` value (any case of the name) of a urlencoded string, lower-cased,
    each once."""
    pairs = urllib.parse.parse_qsl(form, keep_blank_values=True)
    keys = (v.strip().lower() for k, v in pairs if k.lower() == "deviceuuids")
    return list(dict.fromkeys(k for k in keys if k))


def _messages(*texts: str) -> Tree:
    """A ``messages`` element; with no text it is the empty ``<messages/>``."""
    return {"message": list(texts)}


class Simulator:
    """An EPMM server simulator listening on loopback; use as ``async with Simulator(...)``.

    Attributes:
        fleet: the ground truth (:class:`~epmm_async.simulator.fleet.Fleet`).
        ledger: every state change applied (:class:`~epmm_async.simulator.ledger.Ledger`).
        received: every request received, refused ones included, and every destructive
            request per device (:class:`~epmm_async.simulator.ledger.ReceivedLog`).
        stats: request counters (:class:`~epmm_async.simulator.ledger.Stats`).
        faults: the live :class:`Faults`; quirks: the live :class:`Quirks`.
        username, password: the API account; forbidden_username, forbidden_password: an
            account without the API role (answered 401 like a wrong password, or 403 with
            ``Quirks.no_role_status=403``).
    """

    def __init__(
        self,
        devices: int = 1000,
        seed: int = 7,
        *,
        username: str = "admin",
        password: str | None = None,
        quirks: Quirks | None = None,
        faults: Faults | None = None,
        time_scale: float = 1.0,
        bulk_max_uuids: int = 20_000,
        max_request_line: int = 8190,
        max_header_bytes: int = 8192,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.seed = seed
        self.fleet = Fleet(devices, seed)
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(18)
        self.forbidden_username = "auditor"
        self.forbidden_password = secrets.token_urlsafe(18)
        self.quirks = quirks if quirks is not None else Quirks()
        self._fault_state = FaultState(faults if faults is not None else Faults())
        self.time_scale = time_scale
        self.bulk_max_uuids = bulk_max_uuids
        self.max_request_line = max_request_line
        self.max_header_bytes = max_header_bytes
        self.host = host
        self.port = port
        self.ledger = Ledger()
        self.received = ReceivedLog()
        self.stats = Stats()
        self._inflight: dict[int, ReceivedRequest] = {}
        self._runner: web.AppRunner | None = None
        self._good_auth = self._basic(self.username, self.password)
        self._forbidden_auth = self._basic(self.forbidden_username, self.forbidden_password)

    # ----------------------------------------------------------------- lifecycle
    @staticmethod
    def _basic(user: str, password: str) -> str:
        return base64.b64encode(f"{user}:{password}".encode()).decode()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (the API is under ``/api/v1/dm``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def faults(self) -> Faults:
        """The live fault settings."""
        return self._fault_state.faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings while running (re-seeds the fault RNG)."""
        self._fault_state = FaultState(faults)

    def set_quirks(self, quirks: Quirks) -> None:
        """Replace the wire-format quirks while running."""
        self.quirks = quirks

    async def start(self) -> None:
        """Start listening (on ``port``; 0 picks a free port, kept across restarts)."""
        await self._listen()

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def restart(self, downtime: float = 0.0) -> None:
        """Stop (dropping connections), wait ``downtime`` seconds, listen on the same port."""
        await self.stop()
        if downtime > 0:
            await asyncio.sleep(downtime)
        await self._listen()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _listen(self) -> None:
        # aiohttp's own parser limits sit far above the simulated ones, so that requests
        # the simulated front end refuses still reach the received log.
        big = max(16 << 20, self.max_request_line * 4, self.max_header_bytes * 4)
        runner = web.AppRunner(
            self._make_app(),
            access_log=None,
            max_line_size=big,
            max_field_size=big,
            max_headers=4096,
            shutdown_timeout=0.2,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])

    def _make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._mw_received, self._mw_track, self._mw_faults, self._mw_auth],
            client_max_size=64 << 20,
        )
        r = app.router
        get, put, post = "GET", "PUT", "POST"
        routes: list[tuple[str, str, Handler]] = [
            (get, "/devices", self.h_devices),
            (get, "/devices.csv", self.h_csv),
            (get, "/devices/mac/{mac}", self.h_device_by_mac),
            (get, "/phones/{numbers}", self.h_phones),
            (get, "/users/{userid}", self.h_users),
            (get, "/labels", self.h_labels),
            (get, "/labels/{name:.+}", self.h_label_devices),
            (get, "/operators", self.h_operators),
            (get, "/countries", self.h_countries),
            (put, "/register", self.h_register),
            (put, "/register/", self.h_register),
            (post, "/bulk/devices/{action}", self.h_bulk),
            (post, "/bulk/sendmessage", self.h_sendmessage),
            (post, "/bulk/mac/sendmessage", self.h_sendmessage_mac),
            (get, "/devices/profiles/{uuid}", self.h_profiles),
            (put, "/devices/repushprofile/{uuid}", self.h_repush),
            (put, "/devices/enableroaming/{uuid}", self.h_roaming),
        ]
        actions: list[tuple[str, str, Callable[..., Awaitable[web.Response]]]] = [
            (put, "retire", self.a_retire),
            (put, "lock", self.a_lock),
            (get, "unlock", self.a_unlock),
            (put, "wipe", self.a_wipe),
            (get, "wakeup", self.a_wakeup),
            (get, "locate", self.a_locate),
        ]
        for method, name, action in actions:
            routes.append((method, f"/devices/{name}/mac/{{mac}}", self._action(action)))
            routes.append((method, f"/devices/{name}/{{uuid}}", self._action(action)))
        routes.append((get, "/devices/{uuid}", self.h_device))
        for method, path, handler in routes:
            r.add_route(method, API + path, handler)
        return app

    # ----------------------------------------------------------------- middlewares
    @web.middleware
    async def _mw_received(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Outermost: log the request at arrival and its answer (None when cut)."""
        rec = self.received.arrive(request.method, request.path, request.raw_path.partition("?")[2])
        self._inflight[id(request)] = rec
        status: int | None = None
        retry_after: str | None = None
        try:
            await self._log_destructive(request, rec)
            resp = await handler(request)
            status, retry_after = resp.status, resp.headers.get("Retry-After")
            return resp
        except web.HTTPException as exc:  # aiohttp renders it as the answer
            status, retry_after = exc.status, exc.headers.get("Retry-After")
            raise
        except Exception:  # aiohttp answers an unhandled error with a 500
            status = 500
            raise
        finally:
            self._inflight.pop(id(request), None)
            transport = request.transport
            if rec.fault == "drop" or transport is None or transport.is_closing():
                status, retry_after = None, None  # the answer never reached the client
            self.received.answer(rec, status, retry_after)

    async def _log_destructive(self, request: web.Request, rec: ReceivedRequest) -> None:
        """Record each device a wipe or retire request names (any method, any answer)."""
        path = request.path
        one = _DESTRUCTIVE_ONE.fullmatch(path)
        if one is not None:
            action, mac, target = one.group(1).upper(), one.group(2), one.group(3)
            if mac:
                norm = _norm_mac(target)
                d = self.fleet.by_mac(norm) if norm else None
                key = d.uuid if d else "mac:" + (norm or _MAC_SEP.sub("", target).upper())
            else:
                key = target.strip().lower()
            self.received.add_destructive(rec, [key], action, "single")
            return
        bulk = _DESTRUCTIVE_BULK.fullmatch(path)
        if bulk is None:
            return
        action = bulk.group(1).upper()
        self.received.add_destructive(rec, _uuid_values(rec.query), action, "bulk")
        if request.method == "POST" and request.content_type == _FORM and request.can_read_body:
            try:
                body = await request.read()  # cached: the handler reads it again
            except web.HTTPException:
                return
            text = body.decode("utf-8", "replace")
            self.received.add_destructive(rec, _uuid_values(text), action, "bulk")

    def _applied(self, request: web.Request, uuid: str, action: str, via: str) -> None:
        """Mark ``uuid`` as changed by ``request`` in the received log."""
        rec = self._inflight.get(id(request))
        if rec is not None:
            self.received.mark_applied(rec, uuid, action, via)

    @web.middleware
    async def _mw_track(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        stats = self.stats
        stats.requests_total += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            resp = await self._track_inner(request, handler)
        finally:
            stats.in_flight -= 1
        stats.by_status[resp.status] += 1
        return resp

    async def _track_inner(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        stats = self.stats
        version = request.version
        # Apache's LimitRequestLine counts "METHOD SP TARGET SP HTTP/x.y" (no CRLF).
        line = (
            len(request.method)
            + 1
            + len(request.raw_path.encode("utf-8", "surrogateescape"))
            + 1
            + len(f"HTTP/{version.major}.{version.minor}")
        )
        stats.request_lines.append(line)
        stats.max_request_line = max(stats.max_request_line, line)
        route = request.match_info.route.resource
        stats.by_path[route.canonical if route is not None else request.path] += 1
        if line > self.max_request_line:
            return web.Response(status=414, text=_HTML_414, content_type="text/html")
        # Tomcat's maxHttpHeaderSize covers the request line and every header line, CRLFs
        # included, up to the blank line.
        header_bytes = line + 2 + sum(len(k) + 2 + len(v) + 2 for k, v in request.raw_headers) + 2
        if header_bytes > self.max_header_bytes:
            status = self._fault_state.faults.header_limit_status
            page = _HTML_HEADER_431 if status == 431 else _HTML_HEADER_400
            return web.Response(status=status, text=page, content_type="text/html")
        exc = request.match_info.http_exception
        if isinstance(exc, web.HTTPMethodNotAllowed):
            resp = self._reply(request, {"messages": _messages("Method not allowed.")}, 405)
            resp.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
            return resp
        if exc is not None:
            return web.Response(status=404, text=_HTML_404, content_type="text/html")
        return await handler(request)

    @web.middleware
    async def _mw_auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "basic" else ""
        if token and secrets.compare_digest(token, self._good_auth):
            return await handler(request)
        q = self.quirks
        if token and secrets.compare_digest(token, self._forbidden_auth):
            if q.no_role_status == 403:
                return self._reply(
                    request, {"messages": _messages("User does not have the API role.")}, 403
                )
        if q.auth_error_body == "api":
            resp = self._reply(request, {"messages": _messages("Authentication required.")}, 401)
        else:
            resp = web.Response(status=401, text=_HTML_401, content_type="text/html")
        resp.headers["WWW-Authenticate"] = 'Basic realm="EPMM"'
        return resp

    @web.middleware
    async def _mw_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        plan: FaultPlan = self._fault_state.plan(request.path)
        faults = self._fault_state.faults
        counters = self.stats.faults
        rec = self._inflight.get(id(request))
        if plan.delay > 0:
            counters["latency"] += 1
            await asyncio.sleep(plan.delay)
        if plan.status is not None:
            kind = plan.kind or ("rate_limit" if plan.rate_limited else "error")
            counters[kind] += 1
            if rec is not None:
                rec.fault = kind
            if plan.status == 302:
                return web.Response(
                    status=302,
                    body=b"{}",
                    content_type="application/json",
                    headers={"Location": faults.redirect_location},
                )
            return self._fault_reply(request, plan.status, faults.retry_after)
        resp = await handler(request)
        if plan.after is None or not isinstance(resp, web.Response) or resp.body is None:
            return resp
        counters[plan.after] += 1
        if rec is not None:
            rec.fault = plan.after
        if plan.after == "applied_error":
            return self._error_reply(request, plan.after_status or 504)
        body = bytes(resp.body)  # type: ignore[arg-type]
        if plan.after == "slow":
            await asyncio.sleep(faults.slow_seconds)
            return resp
        if plan.after == "malformed":
            garbled = body[: max(1, len(body) // 2)] + b"\x00\xff<<{{garbled"
            return web.Response(
                status=200, body=garbled, headers={"Content-Type": resp.headers["Content-Type"]}
            )
        # drop: headers and part of the body, then the connection is cut
        stream = web.StreamResponse(status=resp.status)
        stream.headers.update(resp.headers)
        stream.content_length = len(body) + 1
        try:
            await stream.prepare(request)
            await stream.write(body[: max(1, len(body) // 2)])
        except ConnectionResetError:
            return stream  # the client left first
        await asyncio.sleep(0.01)
        transport = request.transport
        if transport is not None:
            transport.abort()
        return stream

    def _error_reply(self, request: web.Request, status: int) -> web.Response:
        """An error answer: the front proxy's HTML page for 502/503/504, else the API's."""
        if status in _PROXY_REASONS:
            return web.Response(
                status=status,
                text=_HTML_PROXY.format(code=status, reason=_PROXY_REASONS[status]),
                content_type="text/html",
            )
        text = "Too many requests." if status == 429 else "Internal server error."
        return self._reply(request, {"messages": _messages(text)}, status)

    def _fault_reply(
        self, request: web.Request, status: int, retry_after: float | None
    ) -> web.Response:
        resp = self._error_reply(request, status)
        if status in (429, 503) and retry_after is not None:
            ra = int(retry_after) if float(retry_after).is_integer() else retry_after
            resp.headers["Retry-After"] = str(ra)
        return resp

    # ----------------------------------------------------------------- helpers
    def _reply(self, request: web.Request, tree: Tree, status: int = 200) -> web.Response:
        body, ctype = encode(tree, xml=wants_xml(request.headers.get("Accept")), quirks=self.quirks)
        return web.Response(body=body, status=status, content_type=ctype, charset="utf-8")

    def _bad(self, request: web.Request, err: _Bad) -> web.Response:
        return self._reply(request, {"messages": _messages(*err.messages)}, err.status)

    def _empty(
        self, request: web.Request, tree: Tree, message: str, total: int = 0
    ) -> web.Response:
        if self.quirks.empty_as_404:
            return self._reply(request, {"messages": _messages(message), "totalCount": total}, 404)
        return self._reply(request, tree)

    def _device_tree(self, d: SimDevice, *, single: bool = False) -> Tree:
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
            "easLastSyncAttempt": _iso(d.last_connected_at - 120) if d.eas_uuid else None,
            "easUuid": d.eas_uuid,
            "emailAddress": user.email,
            "emailDomain": op.email_domain if op else None,
            "employeeOwned": d.employee_owned,
            "homeOperator": op.short_name if op else "PDA",
            "languageCountryId": d.country.id,
            "languageId": 1,
            "lastConnectedAt": _iso(d.last_connected_at),
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

    def _device_list(
        self,
        request: web.Request,
        devices: list[SimDevice],
        *,
        head: Tree | None = None,
        silent: bool = False,
    ) -> web.Response:
        params = _params(request)
        offset = self._int(params.get("offset"), "offset", 0)
        limit = self._int(params.get("limit"), "limit", None)
        total = len(devices)
        page = devices[offset:] if limit is None else devices[offset : offset + limit]
        tree: Tree = dict(head or {})
        msg = f"{len(page)} Device(s) returned"
        tree["messages"] = _messages() if silent else _messages(msg)
        tree["devices"] = {"device": [self._device_tree(d) for d in page]}
        tree["totalCount"] = total
        if not page:
            return self._empty(request, tree, "No devices found.", total)
        return self._reply(request, tree)

    @staticmethod
    def _int(value: str | None, name: str, default: int | None) -> Any:
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise _Bad(400, f"Invalid value for {name}: {value!r}") from None
        if number < 0:
            raise _Bad(400, f"Invalid value for {name}: {value!r}")
        return number

    def _find(self, request: web.Request) -> SimDevice:
        info = request.match_info
        if "mac" in info:
            mac = _norm_mac(info["mac"])
            device = self.fleet.by_mac(mac) if mac else None
            if device is None:
                raise _Bad(404, f"No device found with Wi-Fi MAC address {info['mac']}.")
            return device
        key = info["uuid"].strip().lower()
        found = self.fleet.devices.get(key)
        if found is None:
            raise _Bad(404, f"No device found with uuid {info['uuid']}.")
        return found

    @staticmethod
    def _gate(d: SimDevice, action: str) -> str | None:
        if d.status == DeviceStatus.RETIRED:
            return f"Device {d.uuid} is retired; {action.lower()} is not possible."
        if d.status == DeviceStatus.WIPED and action != "RETIRE":
            return f"Device {d.uuid} is wiped; the only valid action is retire."
        return None

    @staticmethod
    def _reason(params: dict[str, str], *, required: bool) -> str | None:
        reason = params.get("reason")
        if required and (reason is None or not reason.strip()):
            raise _Bad(400, "Reason is required.")
        if reason is not None and len(reason) > _MAX_REASON:
            raise _Bad(400, f"Reason exceeds {_MAX_REASON} characters.")
        return reason

    def _unlock_value(self, d: SimDevice) -> str:
        if d.kind == "ios":
            if not d.mdm_managed:
                return "NA"
            return "Q" if d.has_passcode else "F"
        if d.kind == "android":
            if not d.online:
                return "NA"
            return "Q" if d.has_passcode else "F"
        return self._numeric_passcode(d, "UNLOCK")

    def _numeric_passcode(self, d: SimDevice, action: str) -> str:
        n = self.ledger.count(d.uuid, action)
        return str(random.Random(f"{self.seed}:{d.uuid}:{action}:{n}").randrange(1000, 999999))

    def _passcode_tree(self, d: SimDevice) -> Tree:
        return {"uuid": d.uuid, "name": d.name, "value": self._unlock_value(d)}

    # ----------------------------------------------------------------- read endpoints
    async def h_devices(self, request: web.Request) -> web.Response:
        """GET /devices?status=&offset=&limit=."""
        try:
            params = _params(request)
            raw = params.get("status")
            status = DeviceStatus.ACTIVE
            if raw:
                name = raw.strip().upper()
                if DeviceStatus(name).code is None:
                    raise _Bad(400, f"Invalid status: {raw}")
                status = DeviceStatus(name)
            devices = list(self.fleet.with_status(status))
            return self._device_list(request, devices)
        except _Bad as err:
            return self._bad(request, err)

    def _single(self, request: web.Request, d: SimDevice, *, by_uuid: bool) -> web.Response:
        """A one-device reply: ``device`` (not a list), empty ``messages``, ``totalCount``;
        ``currentPhoneNumber`` only in the uuid lookup (the document lists it there alone)."""
        tree: Tree = {
            "messages": _messages(),
            "device": self._device_tree(d, single=by_uuid),
            "totalCount": 1,
        }
        return self._reply(request, tree)

    def _not_found(self, request: web.Request, message: str) -> web.Response:
        """404 with the API's body: the reason and ``totalCount`` 0."""
        return self._reply(request, {"messages": _messages(message), "totalCount": 0}, 404)

    async def h_device(self, request: web.Request) -> web.Response:
        """GET /devices/{uuid}."""
        try:
            d = self._find(request)
        except _Bad as err:
            if err.status == 404:
                return self._not_found(request, err.messages[0])
            return self._bad(request, err)
        return self._single(request, d, by_uuid=True)

    async def h_device_by_mac(self, request: web.Request) -> web.Response:
        """GET /devices/mac/{MAC}: one ``device`` (``Quirks.mac_lookup_singular``) or the
        document's ``devices`` list."""
        raw = request.match_info["mac"]
        mac = _norm_mac(raw)
        d = self.fleet.by_mac(mac) if mac else None
        if self.quirks.mac_lookup_singular:
            if d is None:
                return self._not_found(request, f"No device found with Wi-Fi MAC address {raw}.")
            return self._single(request, d, by_uuid=False)
        try:
            return self._device_list(request, [d] if d else [])
        except _Bad as err:
            return self._bad(request, err)

    async def h_phones(self, request: web.Request) -> web.Response:
        """GET /phones/{n1,n2}."""
        numbers = [n.strip() for n in request.match_info["numbers"].split(",") if n.strip()]
        found: list[SimDevice] = []
        for number in numbers:
            found.extend(
                d
                for d in self.fleet.by_phone(number.lstrip("+"))
                if d.status != DeviceStatus.RETIRED
            )
        head: Tree = {"phoneNumber": numbers[0]} if len(numbers) == 1 else {}
        if not found and len(numbers) > 1:
            head = {"phoneNumber": ",".join(numbers)}
        try:
            return self._device_list(request, found, head=head, silent=len(numbers) == 1)
        except _Bad as err:
            return self._bad(request, err)

    async def h_users(self, request: web.Request) -> web.Response:
        """GET /users/{userid}."""
        devices = [
            d
            for d in self.fleet.by_user(request.match_info["userid"])
            if d.status != DeviceStatus.RETIRED
        ]
        try:
            return self._device_list(request, devices)
        except _Bad as err:
            return self._bad(request, err)

    async def h_label_devices(self, request: web.Request) -> web.Response:
        """GET /labels/{labelname}."""
        label = self.fleet.label_named(request.match_info["name"])
        devices: list[SimDevice] = []
        if label is not None:
            devices = [
                d
                for d in self.fleet.devices.values()
                if label.matches(d) and d.status != DeviceStatus.RETIRED
            ]
        try:
            return self._device_list(request, devices)
        except _Bad as err:
            return self._bad(request, err)

    def _label_tree(self, label: SimLabel, count: int) -> Tree:
        return {
            "@id": label.id,
            "name": label.name,
            "description": label.description,
            "staticLabel": label.static,
            "query": label.query or None,
            "deviceCount": count,
            "isESSearch": 116 if label.es_search else 102,
        }

    async def h_labels(self, request: web.Request) -> web.Response:
        """GET /labels."""
        counts = self.fleet.label_counts()
        labels = [self._label_tree(lb, counts[lb.id]) for lb in self.fleet.labels]
        tree: Tree = {
            "messages": _messages(f"{len(labels)} Label (s) returned"),
            "labels": {"label": labels},
        }
        if not labels:
            return self._empty(request, tree, "No labels found.")
        return self._reply(request, tree)

    async def h_operators(self, request: web.Request) -> web.Response:
        """GET /operators."""
        ops = [
            {
                "carrierShortName": op.short_name,
                "carrierType": op.carrier_type,
                "countryCode": op.country.code,
                "countryId": op.country.id,
                "countryName": op.country.name,
                "enabled": op.enabled,
                "id": op.id,
            }
            for op in self.fleet.operators
        ]
        tree: Tree = {
            "messages": _messages(f"{len(ops)} Operator (s) returned"),
            "operators": {"operator": ops},
        }
        return self._reply(request, tree)

    async def h_countries(self, request: web.Request) -> web.Response:
        """GET /countries."""
        countries = [
            {
                "countryName": c.name,
                "countryCode": c.code,
                "isoAlpha2Code": c.iso,
                "enabledForRegistration": 116 if c.enabled else 102,
                "countryId": c.id,
            }
            for c in self.fleet.countries
        ]
        tree: Tree = {
            "messages": _messages(f"{len(countries)} Countries returned"),
            "countries": {"country": countries},
        }
        return self._reply(request, tree)

    async def h_profiles(self, request: web.Request) -> web.Response:
        """GET /devices/profiles/{uuid}."""
        try:
            d = self._find(request)
        except _Bad as err:
            return self._bad(request, err)
        profiles = [] if d.status == DeviceStatus.RETIRED else self.fleet.profiles(d)
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
        tree: Tree = {"messages": _messages(), "profiles": {"profile": items}}
        if not items:
            return self._empty(request, tree, "No profiles found.")
        return self._reply(request, tree)

    async def h_csv(self, request: web.Request) -> web.StreamResponse:
        """GET /devices.csv: every device of every status, streamed in chunks."""
        resp = web.StreamResponse(status=200)
        resp.content_type = "text/csv"
        resp.charset = "utf-8"
        resp.headers["Content-Disposition"] = 'attachment; filename="devices.csv"'
        resp.enable_chunked_encoding()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        devices = list(self.fleet.devices.values())
        try:
            await resp.prepare(request)
            for start in range(0, len(devices), 500):
                for d in devices[start : start + 500]:
                    writer.writerow(self._csv_row(d))
                await resp.write(buf.getvalue().encode())
                buf.seek(0)
                buf.truncate()
            if buf.tell():
                await resp.write(buf.getvalue().encode())
            await resp.write_eof()
        except ConnectionResetError:
            # The client went away mid-export (`epmm devices export | head`): nothing to
            # answer, and nothing to report (aiohttp would log a traceback).
            pass
        return resp

    def _csv_row(self, d: SimDevice) -> list[str]:
        det = d.details
        op = d.operator
        return [
            op.short_name if op else "PDA",
            d.country.name,
            d.uuid,
            d.phone_number or "",
            d.user.principal,
            d.name,
            d.platform,
            d.manufacturer,
            d.model,
            d.user.email,
            str(d.status_code),
            str(d.employee_owned).lower(),
            str(d.compliance),
            str(d.quarantined),
            det.get("imsi", ""),
            det.get("imei", ""),
            det.get("iPhone UDID", ""),
            det.get("client_version", det.get("Client_version", "")),
            str(d.mdm_managed).lower(),
            det.get("SerialNumber", ""),
            _iso(d.last_connected_at),
            d.eas_uuid or "",
            _iso(d.last_connected_at - 120) if d.eas_uuid else "",
            d.wifi_mac,
            det.get("prv_device_encryption", det.get("device_encryption", "")),
            _iso(d.last_connected_at) if d.kind == "ios" else "",
            _iso(d.registered_at),
            _iso(d.registered_at),
        ]

    # ----------------------------------------------------------------- single-device actions
    def _action(
        self, fn: Callable[[web.Request, SimDevice, dict[str, str]], Awaitable[web.Response]]
    ) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                d = self._find(request)
                return await fn(request, d, _params(request))
            except _Bad as err:
                return self._bad(request, err)

        handler.__doc__ = fn.__doc__
        return handler

    def _check(self, d: SimDevice, action: str) -> None:
        problem = self._gate(d, action)
        if problem:
            raise _Bad(400, problem)

    async def a_retire(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """PUT /devices/retire/{uuid|mac/MAC}?Reason=."""
        reason = self._reason(p, required=False)
        self._check(d, "RETIRE")
        d.status = DeviceStatus.RETIRED
        self._applied(request, d.uuid, "RETIRE", "single")
        self.ledger.record(d.uuid, "RETIRE", "single", reason or "")
        return self._reply(
            request,
            {"messages": _messages("Device is retired successfully."), "deviceUuid": d.uuid},
        )

    async def a_lock(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """PUT /devices/lock/{uuid|mac/MAC}?Reason= (Reason required)."""
        reason = self._reason(p, required=True)
        self._check(d, "LOCK")
        tree: Tree = {"messages": _messages("Device is locked successfully."), "deviceUuid": d.uuid}
        if d.kind not in ("android", "ios"):
            tree["unlockpasscode"] = self._numeric_passcode(d, "LOCK")
        d.locked = True
        self.ledger.record(d.uuid, "LOCK", "single", reason or "")
        return self._reply(request, tree)

    async def a_unlock(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """GET /devices/unlock/{uuid|mac/MAC}?Reason= (Reason required)."""
        reason = self._reason(p, required=True)
        self._check(d, "UNLOCK")
        passcode = self._passcode_tree(d)
        d.locked = False
        self.ledger.record(d.uuid, "UNLOCK", "single", reason or "")
        return self._reply(
            request,
            {"messages": _messages("1 passcode(s) sent."), "passcodes": {"passcode": [passcode]}},
        )

    async def a_wipe(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """PUT /devices/wipe/{uuid|mac/MAC}?Reason=."""
        reason = self._reason(p, required=False)
        self._check(d, "WIPE")
        d.status = DeviceStatus.WIPED
        self._applied(request, d.uuid, "WIPE", "single")
        self.ledger.record(d.uuid, "WIPE", "single", reason or "")
        return self._reply(
            request, {"messages": _messages("Device is wiped successfully."), "deviceUuid": d.uuid}
        )

    async def a_wakeup(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """GET /devices/wakeup/{uuid|mac/MAC}."""
        self._check(d, "WAKEUP")
        self.ledger.record(d.uuid, "WAKEUP", "single")
        return self._reply(
            request,
            {
                "messages": _messages(f"Wake up request sent to device with uuid:{d.uuid}"),
                "deviceUuid": d.uuid,
            },
        )

    async def a_locate(self, request: web.Request, d: SimDevice, p: dict[str, str]) -> web.Response:
        """GET /devices/locate/{uuid|mac/MAC}?locatenow=true|false."""
        now_flag = _bool(p.get("locatenow"), "locatenow", False)
        self._check(d, "LOCATE")
        fix = d.current_fix()
        locate_now = False
        if now_flag and d.kind != "ios":
            locate_now = True
            n = self.ledger.count(d.uuid, "LOCATE_NOW")
            rng = random.Random(f"{self.seed}:{d.uuid}:{n}")
            delay = rng.uniform(2.0, 60.0) * self.time_scale
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
            self.ledger.record(d.uuid, "LOCATE_NOW", "single", detail)
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
        return self._reply(
            request,
            {
                "deviceUuid": d.uuid,
                "messages": _messages(),
                "locations": {"location": [location]},
                "locateNow": locate_now,
            },
        )

    async def h_roaming(self, request: web.Request) -> web.Response:
        """PUT /devices/enableroaming/{uuid}?voice=&data= (iOS only)."""
        try:
            d = self._find(request)
            p = _params(request)
            self._check(d, "ROAMING")
            if d.kind != "ios":
                raise _Bad(400, "Roaming settings can be changed only on iOS devices.")
            if "voice" not in p or "data" not in p:
                raise _Bad(400, "Parameters voice and data are required.")
            voice = bool(_bool(p["voice"], "voice"))
            data = bool(_bool(p["data"], "data")) and voice
            overrides = d.detail_overrides or {}
            overrides["Voice Roaming Enabled"] = str(voice).lower()
            overrides["DataRoamingEnabled"] = str(data).lower()
            d.detail_overrides = overrides
            self.ledger.record(d.uuid, "ROAMING", "single", f"voice={voice} data={data}".lower())
            return self._reply(
                request,
                {
                    "deviceUuid": d.uuid,
                    "messages": _messages(
                        "Device voice roaming settings updated successfully. The voice roaming "
                        "setting is available only on certain carriers. Disabling voice roaming "
                        "also disables data roaming.",
                        "Device data roaming settings updated successfully.",
                    ),
                },
            )
        except _Bad as err:
            return self._bad(request, err)

    async def h_repush(self, request: web.Request) -> web.Response:
        """PUT /devices/repushprofile/{uuid}?id=&type=APP|POLICY."""
        try:
            d = self._find(request)
            p = _params(request)
            self._check(d, "REPUSH")
            ptype = p.get("type")
            if ptype is not None:
                ptype = ptype.strip().upper()
                if ptype not in ("APP", "POLICY"):
                    raise _Bad(400, f"Invalid profile type: {p['type']} (expected APP or POLICY)")
            pid = p.get("id")
            profiles = self.fleet.profiles(d)
            if pid is not None:
                try:
                    wanted = int(pid)
                except ValueError:
                    raise _Bad(400, f"Invalid profile id: {pid}") from None
                profiles = [
                    pr
                    for pr in profiles
                    if pr.id == wanted and (ptype is None or pr.profile_type == ptype)
                ]
                if not profiles:
                    raise _Bad(400, f"Profile {pid} is not applied to device {d.uuid}.")
            detail = f"id={pid} type={ptype}" if pid is not None else f"all type={ptype}"
            self.ledger.record(d.uuid, "REPUSH", "single", detail)
            return self._reply(
                request,
                {
                    "messages": _messages(f"{len(profiles)} profile(s) re-pushed."),
                    "deviceUuid": d.uuid,
                },
            )
        except _Bad as err:
            return self._bad(request, err)

    # ----------------------------------------------------------------- registration
    async def h_register(self, request: web.Request) -> web.Response:
        """PUT /register: create a device in VERIFICATION_PENDING."""
        try:
            return self._register(request, _params(request))
        except _Bad as err:
            return self._bad(request, err)

    def _register(self, request: web.Request, p: dict[str, str]) -> web.Response:
        errors: list[str] = []
        user_id = (p.get("userid") or "").strip()
        if not user_id:
            errors.append("userId is required.")
        letter = (p.get("platform") or "").strip().upper()
        if not letter:
            errors.append("platform is required.")
        elif letter not in _PLATFORMS:
            errors.append(f"Invalid platform: {p['platform']} (expected A, I, E, M or L).")
        dtype = (p.get("devicetype") or "Phone").strip().lower()
        if dtype not in ("phone", "pda"):
            errors.append(f"Invalid deviceType: {p['devicetype']} (expected Phone or PDA).")
        pda = dtype == "pda"
        phone = (p.get("phonenumber") or "").strip()
        if pda and phone.upper() in ("", "PDA"):
            phone = ""
        elif not phone:
            errors.append("phoneNumber is required for a Phone.")
        elif not _PHONE_RE.fullmatch(phone):
            errors.append(f"Invalid phoneNumber: {phone}")
        phone = phone.lstrip("+")
        code_raw = (p.get("countrycode") or "").strip()
        country = None
        if not code_raw:
            errors.append("countryCode is required.")
        else:
            country = next(
                (c for c in self.fleet.countries if str(c.code) == code_raw.lstrip("+")), None
            )
            if country is None:
                errors.append(f"Invalid countryCode: {code_raw}")
        employee = _bool(p.get("isemployeeowned"), "isEmployeeOwned", False)
        ldap = _bool(p.get("importuserfromldap"), "importUserFromLdap", False)
        _bool(p.get("notifyuser"), "notifyUser", False)
        _bool(p.get("notifyuserbysms"), "notifyuserbysms", False)
        user: SimUser | None = self.fleet.users.get(user_id) if user_id else None
        first = (p.get("userfirstname") or "").strip()
        last = (p.get("userlastname") or "").strip()
        email = (p.get("useremailaddress") or "").strip()
        if user_id and user is None and not ldap:
            for value, name in (
                (first, "userFirstName"),
                (last, "userLastName"),
                (email, "userEmailAddress"),
            ):
                if not value:
                    errors.append(f"{name} is required for a local user.")
        if phone and not errors and self.fleet.by_phone(phone):
            if any(d.status != DeviceStatus.RETIRED for d in self.fleet.by_phone(phone)):
                errors.append(f"Phone number {phone} is already registered.")
        if errors or country is None:
            raise _Bad(400, *errors)
        if user is None:
            user = self.fleet.new_user(
                user_id,
                first or user_id,
                last or "LDAP",
                email or f"{user_id}@example.com",
                bool(ldap),
            )
        kind, platform = _PLATFORMS[letter]
        operator = None
        if phone:
            ops = [o for o in self.fleet.operators if o.country.id == country.id and o.enabled]
            wanted = (p.get("operator") or "").strip().lower()
            operator = next(
                (o for o in ops if o.short_name.lower() == wanted), ops[0] if ops else None
            )
        d = self.fleet.register(
            kind=kind,
            platform=platform,
            phone_number=phone or None,
            user=user,
            country=country,
            operator=operator,
            employee_owned=bool(employee),
        )
        rng = random.Random(f"{self.seed}:{d.uuid}:register")
        self.ledger.record(d.uuid, "REGISTER", "single", user.principal)
        status = "SUCESS" if self.quirks.misspelled_sucess else "SUCCESS"
        return self._reply(
            request,
            {
                "phoneNumber": phone or "PDA",
                "registration": {
                    "messages": _messages(),
                    "deviceUuid": d.uuid,
                    "status": status,
                    "passcode": f"{rng.randrange(10000, 100000)}",
                    "passcodeTTL": 72,
                    "registrationUrl": f"{self.url}/v/{rng.getrandbits(20):05x}",
                },
            },
        )

    # ----------------------------------------------------------------- bulk
    async def _multi(self, request: web.Request, *names: str) -> tuple[list[str], dict[str, str]]:
        """Every value of a repeated parameter called any of ``names`` (any case, query
        first, then a form body if ``Quirks.bulk_form_body``), and the form's other
        parameters by lower-cased name (first wins)."""
        wanted = {name.lower() for name in names}
        values = [v for k, v in request.query.items() if k.lower() in wanted]
        extra: dict[str, str] = {}
        if self.quirks.bulk_form_body and request.content_type == _FORM:
            form = await request.post()
            values.extend(str(v) for k, v in form.items() if k.lower() in wanted)
            for key, value in form.items():
                extra.setdefault(key.lower(), str(value))
        elif request.can_read_body:
            await request.read()
        return values, extra

    def _check_count(self, n: int, name: str) -> None:
        if n == 0:
            raise _Bad(400, f"At least one {name} is required.")
        if n > self.bulk_max_uuids:
            raise _Bad(
                400,
                f"The number of device uuids ({n}) exceeds the maximum of {self.bulk_max_uuids}.",
            )

    def _bulk_tree(self, messages: list[str], invalid: list[str]) -> Tree:
        tree: Tree = {"messages": _messages(*messages)}
        if invalid:
            inv = {"uuid": invalid}
            if self.quirks.invalid_devices_in_messages:
                tree["messages"] = {**tree["messages"], "invalidDevices": inv}
            else:
                tree["invalidDevices"] = inv
        return tree

    @staticmethod
    def _unique(values: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(v.strip() for v in values if v.strip()))

    async def h_bulk(self, request: web.Request) -> web.Response:
        """POST /bulk/devices/{ACTION}?deviceUuids=...&deviceUuids=..."""
        try:
            action = request.match_info["action"]
            uuids, _ = await self._multi(request, "deviceUuids")
            if action not in _BULK_ACTIONS:
                raise _Bad(400, "Invalid action")
            self._check_count(len(uuids), "deviceUuids")
            invalid: list[str] = []
            failed: list[str] = []
            passcodes: list[Tree] = []
            for raw in self._unique(uuids):
                d = self.fleet.devices.get(raw.lower()) if _UUID_RE.fullmatch(raw) else None
                if d is None:
                    invalid.append(raw)
                    continue
                problem = self._gate(d, "RETIRE" if action == "RETIRE" else action)
                if problem:
                    (failed if action == "UNLOCK" else invalid).append(
                        f"Unlock failed for device {d.uuid}: {problem}"
                        if action == "UNLOCK"
                        else raw
                    )
                    continue
                self._apply_bulk(request, action, d, passcodes)
            tree = self._bulk_tree([], invalid)
            if action == "UNLOCK":
                if not tree["messages"]["message"]:  # keep a nested invalidDevices
                    msgs = _messages(f"{len(passcodes)} passcode(s) sent.")
                    tree["messages"] = {**tree["messages"], **msgs}
                tree["passcodes"] = {"passcode": passcodes}
                if failed:
                    tree["failedDevices"] = {"message": failed}
            return self._reply(request, tree)
        except _Bad as err:
            return self._bad(request, err)

    def _apply_bulk(
        self, request: web.Request, action: str, d: SimDevice, passcodes: list[Tree]
    ) -> None:
        if action == "LOCK":
            d.locked = True
        elif action == "UNLOCK":
            passcodes.append(self._passcode_tree(d))
            d.locked = False
        elif action == "RETIRE":
            d.status = DeviceStatus.RETIRED
            self._applied(request, d.uuid, action, "bulk")
        elif action == "WIPE":
            d.status = DeviceStatus.WIPED
            self._applied(request, d.uuid, action, "bulk")
        name = "WAKEUP" if action == "WAKEUP_DEVICE" else action
        self.ledger.record(d.uuid, name, "bulk")

    async def h_sendmessage(self, request: web.Request) -> web.Response:
        """POST /bulk/sendmessage?mode=&message=&subject=&deviceUuid=..."""
        try:
            uuids, extra = await self._multi(request, "deviceUuid")
            p = {**extra, **_params(request)}
            mode, text, subject = self._message_params(p)
            self._check_count(len(uuids), "deviceUuid")
            devices: list[SimDevice] = []
            invalid: list[str] = []
            for raw in self._unique(uuids):
                d = self.fleet.devices.get(raw.lower()) if _UUID_RE.fullmatch(raw) else None
                if d is None or d.status == DeviceStatus.RETIRED:
                    invalid.append(raw)
                else:
                    devices.append(d)
            return self._send(request, devices, invalid, mode, text, subject)
        except _Bad as err:
            return self._bad(request, err)

    async def h_sendmessage_mac(self, request: web.Request) -> web.Response:
        """POST /bulk/mac/sendmessage?mode=&message=&deviceWiFiMacAddress=..."""
        try:
            macs, extra = await self._multi(request, "deviceWiFiMacAddress", "macAddress")
            p = {**extra, **_params(request)}
            mode, text, subject = self._message_params(p)
            self._check_count(len(macs), "deviceWiFiMacAddress")
            devices: list[SimDevice] = []
            invalid: list[str] = []
            for raw in self._unique(macs):
                mac = _norm_mac(raw)
                d = self.fleet.by_mac(mac) if mac else None
                if d is None or d.status == DeviceStatus.RETIRED:
                    invalid.append(raw)
                else:
                    devices.append(d)
            return self._send(request, devices, invalid, mode, text, subject)
        except _Bad as err:
            return self._bad(request, err)

    @staticmethod
    def _message_params(p: dict[str, str]) -> tuple[str, str, str]:
        mode = (p.get("mode") or "").strip().lower()
        if mode not in ("sms", "email", "pns"):
            raise _Bad(400, f"Invalid mode: {p.get('mode')!r} (expected sms, email or pns)")
        text = p.get("message") or ""
        if not text.strip():
            raise _Bad(400, "message is required.")
        return mode, text, p.get("subject") or ""

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
            self.ledger.record(d.uuid, "MESSAGE", "bulk", f"{mode}:{subject}:{text}"[:200])
        if not invalid:
            msg = "Message sent successfully for all devices."
        elif devices:
            msg = f"Message sent successfully for {len(devices)} device(s)."
        else:
            msg = "Message not sent: no valid devices."
        tree = self._bulk_tree([msg], invalid)
        if invalid:
            tree["messageSentFailed"] = True
        return self._reply(request, tree)
