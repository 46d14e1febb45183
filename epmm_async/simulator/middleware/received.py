"""The outermost middleware: every request in the received log at arrival, with its answer,
its JSON body (API v2's), and every device a wipe or retire request names."""

from __future__ import annotations

import re
import urllib.parse

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..ledger import ReceivedRequest
from ..params import FORM, MAC_SEP, norm_mac
from ..state import API, SimState, is_v2

__all__ = ["received_log"]

_DESTRUCTIVE_ONE = re.compile(API + r"/devices/(wipe|retire)/(?:(mac)/)?([^/]+)/?", re.I)
_DESTRUCTIVE_BULK = re.compile(API + r"/bulk/devices/(wipe|retire)/?", re.I)


def _uuid_values(form: str) -> list[str]:
    """Every ``deviceUuids`` value (any case of the name) of a urlencoded string, lower-cased,
    each once."""
    pairs = urllib.parse.parse_qsl(form, keep_blank_values=True)
    keys = (v.strip().lower() for k, v in pairs if k.lower() == "deviceuuids")
    return list(dict.fromkeys(k for k in keys if k))


def received_log(state: SimState) -> Middleware:
    """The middleware that logs each request at arrival and its answer (None when cut)."""

    @web.middleware
    async def log_received(request: web.Request, handler: Handler) -> web.StreamResponse:
        rec = state.received.arrive(
            request.method, request.path, request.raw_path.partition("?")[2]
        )
        state.inflight[id(request)] = rec
        status: int | None = None
        retry_after: str | None = None
        try:
            await _log_json_body(request, rec)
            await _log_destructive(state, request, rec)
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
            state.inflight.pop(id(request), None)
            transport = request.transport
            if rec.fault == "drop" or transport is None or transport.is_closing():
                status, retry_after = None, None  # the answer never reached the client
            state.received.answer(rec, status, retry_after)

    return log_received


async def _log_json_body(request: web.Request, rec: ReceivedRequest) -> None:
    """Keep the body of a JSON request, and of any ``/api/v2`` request with a body."""
    if not request.can_read_body:
        return
    if request.content_type != "application/json" and not is_v2(request.path):
        return
    try:
        body = await request.read()  # cached: the handler reads it again
    except web.HTTPException:
        return
    rec.body = body.decode("utf-8", "replace")


async def _log_destructive(state: SimState, request: web.Request, rec: ReceivedRequest) -> None:
    """Record each device a wipe or retire request names (any method, any answer)."""
    path = request.path
    one = _DESTRUCTIVE_ONE.fullmatch(path)
    if one is not None:
        action, mac, target = one.group(1).upper(), one.group(2), one.group(3)
        if mac:
            norm = norm_mac(target)
            d = state.fleet.by_mac(norm) if norm else None
            key = d.uuid if d else "mac:" + (norm or MAC_SEP.sub("", target).upper())
        else:
            key = target.strip().lower()
        state.received.add_destructive(rec, [key], action, "single")
        return
    bulk = _DESTRUCTIVE_BULK.fullmatch(path)
    if bulk is None:
        return
    action = bulk.group(1).upper()
    state.received.add_destructive(rec, _uuid_values(rec.query), action, "bulk")
    if request.method == "POST" and request.content_type == FORM and request.can_read_body:
        try:
            body = await request.read()  # cached: the handler reads it again
        except web.HTTPException:
            return
        text = body.decode("utf-8", "replace")
        state.received.add_destructive(rec, _uuid_values(text), action, "bulk")
