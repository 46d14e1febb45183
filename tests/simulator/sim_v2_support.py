"""Plain-HTTP helpers for the API v2 simulator tests (aiohttp only, never the client), and
expectations computed from the fleet's own SimDevice data."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from epmm_async.simulator import SimDevice, Simulator

V2 = "/api/v2"
DM = "/api/v1/dm"
SPACE = {"adminDeviceSpaceId": "1"}
PLATFORMS = {"android": "Android", "ios": "iOS", "windows": "Windows", "macos": "macOS"}


def auth(sim: Simulator) -> dict[str, str]:
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    return {"Authorization": "Basic " + token}


def encode_query(params: Mapping[str, str]) -> str:
    """``params`` percent-encoded (``%20`` for a space, every reserved character encoded)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())


async def call(
    sim: Simulator,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    *,
    body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    authorized: bool = True,
) -> tuple[int, Any, str]:
    """One request to ``path`` (already encoded, under the server root) with ``params``
    encoded; answers (status, parsed JSON or None, content type)."""
    target = path + ("?" + encode_query(params) if params else "")
    hdrs = {**(auth(sim) if authorized else {}), **(headers or {})}
    payload = data
    if body is not None:
        payload = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, URL(sim.url + target, encoded=True), headers=hdrs, data=payload) as r,
    ):
        text = await r.text()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return r.status, parsed, r.content_type


async def v2(
    sim: Simulator,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    *,
    space: bool = True,
    body: Any = None,
) -> tuple[int, Any]:
    """A v2 call (``path`` under ``/api/v2``), with ``adminDeviceSpaceId=1`` unless
    ``space`` is False."""
    all_params = {**(SPACE if space else {}), **(params or {})}
    status, parsed, _ = await call(sim, method, V2 + path, all_params, body=body)
    return status, parsed


async def count(sim: Simulator, query: str) -> tuple[int, Any]:
    """``GET /devices/count?query=``."""
    return await v2(sim, "GET", "/devices/count", {"query": query})


async def total(sim: Simulator, query: str) -> int:
    """The count of ``query``, which must be accepted."""
    status, body = await count(sim, query)
    assert status == 200, body
    return int(body["totalCount"])


async def search(sim: Simulator, **params: str) -> tuple[int, Any]:
    """``GET /devices`` with ``params``."""
    return await v2(sim, "GET", "/devices", params)


async def dm(sim: Simulator, path: str) -> tuple[int, Any]:
    """A v1 GET (JSON)."""
    status, parsed, _ = await call(sim, "GET", DM + path)
    return status, parsed


def error_text(body: Any) -> str:
    """The message of a v2 error body, checking its shape."""
    assert isinstance(body, dict) and isinstance(body.get("messages"), list), body
    (msg,) = body["messages"]
    assert msg["type"] == "Error" and msg["messageKey"] and msg["localizedMessage"], msg
    return str(msg["localizedMessage"])


def where(sim: Simulator, keep: Callable[[SimDevice], bool]) -> list[SimDevice]:
    """The fleet's devices ``keep`` selects, in fleet order."""
    return [d for d in sim.fleet.devices.values() if keep(d)]


def stamp(ts: float) -> str:
    """A v2 timestamp (``2020-11-09T07:38:22.000Z``), computed here on its own."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def platform(d: SimDevice) -> str:
    return PLATFORMS[d.kind]


def v1_details(entry: Any) -> dict[str, Any]:
    """A v1 device's details (``Quirks.clean()``: ``{"entry": [{key, value}]}``)."""
    return {e["key"]: e["value"] for e in entry["details"]["entry"]}
