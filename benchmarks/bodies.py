"""Realistic list bodies: fetched from a running simulator (default quirks) with aiohttp."""

from __future__ import annotations

import asyncio
import functools

import aiohttp

from epmm_async.simulator import Simulator

__all__ = ["list_bodies"]

DEVICES = 20_000


async def _fetch(n: int) -> dict[str, bytes]:
    # ~80 % of a fleet is ACTIVE (what GET /devices lists): build enough for n.
    async with Simulator(devices=int(n * 1.3), seed=7) as sim:
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
def list_bodies(n: int = DEVICES) -> dict[str, bytes]:
    """``{"json": body, "xml": body}`` of one ``GET /devices?limit=n`` answer."""
    return asyncio.run(_fetch(n))
