"""The API's answers: a reply tree in the format the request negotiated (JSON or XML by its
``Accept``, see :mod:`.wire`), and the ``messages`` bodies of its errors; API v2's plain JSON
answers and its error bodies (:class:`V2Bad`, :func:`v2_reply`)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .wire import Quirks, Tree, encode, wants_xml

__all__ = ["Bad", "V2Bad", "bad", "messages", "reply", "v2_error", "v2_messages", "v2_reply"]


class Bad(Exception):
    """A request error answered with an API ``messages`` body."""

    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(messages[0] if messages else "")
        self.status = status
        self.messages = list(messages)


def messages(*texts: str) -> Tree:
    """A ``messages`` element; with no text it is the empty ``<messages/>``."""
    return {"message": list(texts)}


def reply(request: web.Request, tree: Tree, quirks: Quirks, status: int = 200) -> web.Response:
    """``tree`` encoded as ``request`` asks (XML or JSON) with ``quirks``."""
    body, ctype = encode(tree, xml=wants_xml(request.headers.get("Accept")), quirks=quirks)
    return web.Response(body=body, status=status, content_type=ctype, charset="utf-8")


def bad(request: web.Request, err: Bad, quirks: Quirks) -> web.Response:
    """The API's answer to ``err``: its status with its messages."""
    return reply(request, {"messages": messages(*err.messages)}, quirks, err.status)


class V2Bad(Exception):
    """A v2 request error, answered with a v2 ``messages`` body."""

    def __init__(self, status: int, message: str, key: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key or f"com.mobileiron.vsp.messages.http.{status}"


def v2_messages(message: str, key: str) -> dict[str, Any]:
    """A v2 error body: ``{"messages": [{"type": "Error", "messageKey", "localizedMessage"}]}``."""
    return {"messages": [{"type": "Error", "messageKey": key, "localizedMessage": message}]}


def v2_reply(body: Any, status: int = 200) -> web.Response:
    """``body`` as plain JSON (v2 never negotiates XML)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return web.Response(text=text, status=status, content_type="application/json")


def v2_error(err: V2Bad) -> web.Response:
    """The v2 answer to ``err``."""
    return v2_reply(v2_messages(err.message, err.key), err.status)
