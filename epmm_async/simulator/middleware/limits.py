"""The front end's limits and routing answers, and the request counters: the request line
(Apache's ``LimitRequestLine``, 414), the request header (Tomcat's ``maxHttpHeaderSize``, 400
or 431), a wrong method (405) and an unknown path (the web server's HTML 404), which every
``/api/v2`` path is while :attr:`Quirks.v2_enabled` is off."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..replies import messages, reply, v2_messages, v2_reply
from ..state import SimState, is_v2

__all__ = ["front_end"]

_HTML_404 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on this server.</p>\n</body></html>\n"
)
_HTML_414 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>414 Request-URI Too Long</title>\n</head><body>\n<h1>Request-URI Too Long</h1>\n"
    "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n"
    "</body></html>\n"
)
_HTML_HEADER_400 = (
    "<html><body><h1>400 Bad Request</h1><p>Request header is too large</p></body></html>"
)
_HTML_HEADER_431 = (
    "<html><body><h1>431 Request Header Fields Too Large</h1>"
    "<p>Request header is too large</p></body></html>"
)


def front_end(state: SimState) -> Middleware:
    """The middleware that counts each request and answers what the front end refuses."""

    @web.middleware
    async def track(request: web.Request, handler: Handler) -> web.StreamResponse:
        stats = state.stats
        stats.requests_total += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            resp = await _limits(state, request, handler)
        finally:
            stats.in_flight -= 1
        stats.by_status[resp.status] += 1
        return resp

    return track


async def _limits(state: SimState, request: web.Request, handler: Handler) -> web.StreamResponse:
    stats = state.stats
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
    if line > state.max_request_line:
        return web.Response(status=414, text=_HTML_414, content_type="text/html")
    # Tomcat's maxHttpHeaderSize covers the request line and every header line, CRLFs
    # included, up to the blank line.
    header_bytes = line + 2 + sum(len(k) + 2 + len(v) + 2 for k, v in request.raw_headers) + 2
    if header_bytes > state.max_header_bytes:
        status = state.fault_state.faults.header_limit_status
        page = _HTML_HEADER_431 if status == 431 else _HTML_HEADER_400
        return web.Response(status=status, text=page, content_type="text/html")
    v2 = is_v2(request.path)
    if v2 and not state.quirks.v2_enabled:
        return web.Response(status=404, text=_HTML_404, content_type="text/html")
    exc = request.match_info.http_exception
    if isinstance(exc, web.HTTPMethodNotAllowed):
        if v2:
            body = v2_messages("Method not allowed.", "com.mobileiron.vsp.messages.http.405")
            resp = v2_reply(body, 405)
        else:
            resp = reply(request, {"messages": messages("Method not allowed.")}, state.quirks, 405)
        resp.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return resp
    if exc is not None:
        return web.Response(status=404, text=_HTML_404, content_type="text/html")
    return await handler(request)
