"""Authentication: HTTP Basic against the API account; a wrong or missing one is answered
401 (Tomcat's HTML page, or the API's body with ``Quirks.auth_error_body="api"``), an
account without the API role 401 too, or 403 with ``Quirks.no_role_status=403``. The API's
body of an ``/api/v2`` request is a v2 ``messages`` body."""

from __future__ import annotations

import secrets

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..replies import messages, reply, v2_messages, v2_reply
from ..state import SimState, is_v2

__all__ = ["basic_auth"]

_HTML_401 = (
    '<!doctype html><html lang="en"><head><title>HTTP Status 401 – Unauthorized</title>'
    '<style type="text/css">body {font-family:Tahoma,Arial,sans-serif;} h1 {font-size:22px;}'
    '</style></head><body><h1>HTTP Status 401 – Unauthorized</h1><hr class="line" />'
    "<p><b>Type</b> Status Report</p><p><b>Description</b> The request has not been applied "
    "to the target resource because it lacks valid authentication credentials for that "
    'resource.</p><hr class="line" /><h3>Apache Tomcat</h3></body></html>'
)


_V2_KEY = "com.mobileiron.vsp.messages.http."


def basic_auth(state: SimState) -> Middleware:
    """The middleware that lets only the API account's requests through."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "basic" else ""
        if token and secrets.compare_digest(token, state.good_auth):
            return await handler(request)
        q = state.quirks
        v2 = is_v2(request.path)
        if token and secrets.compare_digest(token, state.forbidden_auth):
            if q.no_role_status == 403:
                text = "User does not have the API role."
                if v2:
                    return v2_reply(v2_messages(text, _V2_KEY + "403"), 403)
                return reply(request, {"messages": messages(text)}, q, 403)
        if q.auth_error_body == "api":
            text = "Authentication required."
            if v2:
                resp = v2_reply(v2_messages(text, _V2_KEY + "401"), 401)
            else:
                resp = reply(request, {"messages": messages(text)}, q, 401)
        else:
            resp = web.Response(status=401, text=_HTML_401, content_type="text/html")
        resp.headers["WWW-Authenticate"] = 'Basic realm="EPMM"'
        return resp

    return authenticate
