"""Fault injection: the middleware that acts out each request's :class:`FaultPlan` (latency,
an error or a redirect before anything is applied; a drop, a slow or garbled answer or an
error after the handler applied the change)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..faults import FaultPlan
from ..replies import messages, reply
from ..state import SimState

__all__ = ["fault_injection"]

_HTML_PROXY = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>{code} {reason}</title>\n</head><body>\n<h1>{reason}</h1>\n"
    "<p>The server is temporarily unable to service your request.</p>\n</body></html>\n"
)
_PROXY_REASONS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def fault_injection(state: SimState) -> Middleware:
    """The middleware that injects the live faults of ``state``."""

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        plan: FaultPlan = state.fault_state.plan(request.path)
        faults = state.fault_state.faults
        counters = state.stats.faults
        rec = state.record_of(request)
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
            return _fault_reply(state, request, plan.status, faults.retry_after)
        resp = await handler(request)
        if plan.after is None or not isinstance(resp, web.Response) or resp.body is None:
            return resp
        counters[plan.after] += 1
        if rec is not None:
            rec.fault = plan.after
        if plan.after == "applied_error":
            return _error_reply(state, request, plan.after_status or 504)
        body = bytes(resp.body)  # type: ignore[arg-type]
        if plan.after == "slow":
            await asyncio.sleep(faults.slow_seconds)
            return resp
        if plan.after == "malformed":
            garbled = body[: max(1, len(body) // 2)] + b"\x00\xff<<{{garbled"
            return web.Response(
                status=200, body=garbled, headers={"Content-Type": resp.headers["Content-Type"]}
            )
        return await _drop(request, resp, body)

    return inject


async def _drop(request: web.Request, resp: web.Response, body: bytes) -> web.StreamResponse:
    """Send the headers and part of the body, then cut the connection."""
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


def _error_reply(state: SimState, request: web.Request, status: int) -> web.Response:
    """An error answer: the front proxy's HTML page for 502/503/504, else the API's."""
    if status in _PROXY_REASONS:
        return web.Response(
            status=status,
            text=_HTML_PROXY.format(code=status, reason=_PROXY_REASONS[status]),
            content_type="text/html",
        )
    text = "Too many requests." if status == 429 else "Internal server error."
    return reply(request, {"messages": messages(text)}, state.quirks, status)


def _fault_reply(
    state: SimState, request: web.Request, status: int, retry_after: float | None
) -> web.Response:
    resp = _error_reply(state, request, status)
    if status in (429, 503) and retry_after is not None:
        ra = int(retry_after) if float(retry_after).is_integer() else retry_after
        resp.headers["Retry-After"] = str(ra)
    return resp
