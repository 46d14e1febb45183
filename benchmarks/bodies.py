"""Realistic list bodies: fetched from a running simulator with aiohttp.

``"typed"`` is the simulator's default dialect (what the field notes' typed-JSON evidence says
real servers send: Jettison writes numbers and booleans bare); ``"quoted"`` is the dialect
with every scalar a string (``Quirks.quoted()``). XML is the same in both.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Literal

import aiohttp

from epmm_async.simulator import Quirks, Simulator

__all__ = ["DEVICES", "Dialect", "list_bodies"]

DEVICES = 20_000
Dialect = Literal["typed", "quoted"]


async def _fetch(n: int, dialect: Dialect) -> dict[str, bytes]:
    quirks = Quirks() if dialect == "typed" else Quirks.quoted()
    # ~80 % of a fleet is ACTIVE (what GET /devices lists): build enough for n.
    async with Simulator(devices=int(n * 1.3), seed=7, quirks=quirks) as sim:
        auth = aiohttp.encode_basic_auth(sim.username, sim.password)
        out: dict[str, bytes] = {}
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:
            for fmt in ("json", "xml"):
                async with session.get(
                    f"{sim.url}/api/v1/dm/devices",
                    params={"limit": str(n)},
                    headers={"Accept": f"application/{fmt}"},
                ) as resp:
                    resp.raise_for_status()
                    out[fmt] = await resp.read()
        return out


@functools.cache
def list_bodies(n: int = DEVICES, dialect: Dialect = "typed") -> dict[str, bytes]:
    """``{"json": body, "xml": body}`` of one ``GET /devices?limit=n`` answer."""
    return asyncio.run(_fetch(n, dialect))
