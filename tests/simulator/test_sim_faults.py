"""Fault injection, concurrency tracking, restart and locate-now timing."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from epmm_async.enums import DeviceStatus
from epmm_async.simulator import Faults, SimDevice, Simulator

DM = "/api/v1/dm"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=300, seed=9, time_scale=0.002) as s:
        yield s


def _h(sim: Simulator) -> dict[str, str]:
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _active(sim: Simulator, kind: str | None = None, online: bool = True) -> SimDevice:
    return next(
        d
        for d in sim.fleet.devices.values()
        if d.status == DeviceStatus.ACTIVE
        and d.online == online
        and (kind is None or d.kind == kind)
    )


async def test_error_and_retry_after(sim: Simulator) -> None:
    d = _active(sim)
    sim.set_faults(Faults(error_rate=1.0, error_statuses=(503,), retry_after=0.05))
    async with (
        aiohttp.ClientSession(headers=_h(sim)) as s,
        s.put(f"{sim.url}{DM}/devices/lock/{d.uuid}?Reason=x") as r,
    ):
        assert r.status == 503 and r.headers["Retry-After"] == "0.05"
    assert not d.locked and sim.ledger.count(d.uuid, "LOCK") == 0  # nothing applied
    assert sim.stats.faults["error"] == 1


async def test_rate_limit_burst(sim: Simulator) -> None:
    sim.set_faults(Faults(rate_limit_rate=1.0, rate_limit_burst=2, retry_after=2))
    async with aiohttp.ClientSession(headers=_h(sim)) as s:
        async with s.get(f"{sim.url}{DM}/labels") as r:
            assert r.status == 429 and r.headers["Retry-After"] == "2"
        sim.faults.rate_limit_rate = 0.0
        statuses = []
        for _ in range(3):
            async with s.get(f"{sim.url}{DM}/labels") as r:
                statuses.append(r.status)
        assert statuses == [429, 429, 200]
    assert sim.stats.faults["rate_limit"] == 3


async def test_drop_applies_then_cuts(sim: Simulator) -> None:
    d = _active(sim)
    sim.set_faults(Faults(drop_rate=1.0, paths=("/devices/lock",)))
    async with aiohttp.ClientSession(headers=_h(sim)) as s:
        with pytest.raises(aiohttp.ClientError):
            async with s.put(f"{sim.url}{DM}/devices/lock/{d.uuid}?Reason=x") as r:
                await r.read()
        async with s.get(f"{sim.url}{DM}/labels") as r:  # not targeted by paths
            assert r.status == 200
    assert d.locked and sim.ledger.count(d.uuid, "LOCK") == 1
    assert sim.stats.faults["drop"] == 1


async def test_slow_malformed_latency(sim: Simulator) -> None:
    d = _active(sim)
    async with aiohttp.ClientSession(headers=_h(sim)) as s:
        sim.set_faults(Faults(slow_rate=1.0, slow_seconds=0.3))
        t0 = time.perf_counter()
        async with s.get(f"{sim.url}{DM}/devices/wakeup/{d.uuid}") as r:
            assert r.status == 200
        assert time.perf_counter() - t0 >= 0.3 and sim.ledger.count(d.uuid, "WAKEUP") == 1
        sim.set_faults(Faults(malformed_rate=1.0))
        async with s.get(f"{sim.url}{DM}/labels") as r:
            assert r.status == 200
            with pytest.raises(ValueError):
                json.loads(await r.read())
        sim.set_faults(Faults(latency=0.2, jitter=0.05))
        t0 = time.perf_counter()
        async with s.get(f"{sim.url}{DM}/countries") as r:
            assert r.status == 200
        assert time.perf_counter() - t0 >= 0.15
    assert sim.stats.faults["slow"] == 1 and sim.stats.faults["malformed"] == 1
    assert sim.stats.faults["latency"] == 1


async def test_max_in_flight(sim: Simulator) -> None:
    sim.set_faults(Faults(latency=0.2))
    sim.stats.reset()
    async with aiohttp.ClientSession(headers=_h(sim)) as s:

        async def one() -> int:
            async with s.get(f"{sim.url}{DM}/countries") as r:
                return r.status

        assert await asyncio.gather(*(one() for _ in range(8))) == [200] * 8
    assert sim.stats.max_in_flight == 8 and sim.stats.in_flight == 0
    assert sim.stats.requests_total == 8
    assert sim.stats.by_path[f"{DM}/countries"] == 8


async def test_restart_same_port(sim: Simulator) -> None:
    port = sim.port
    await sim.restart(downtime=0.05)
    assert sim.port == port
    async with aiohttp.ClientSession(headers=_h(sim)) as s, s.get(f"{sim.url}{DM}/labels") as r:
        assert r.status == 200
    await sim.stop()
    async with aiohttp.ClientSession(headers=_h(sim)) as s:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with s.get(f"{sim.url}{DM}/labels"):
                pass
    await sim.start()
    assert sim.port == port


async def _locate(
    s: aiohttp.ClientSession, sim: Simulator, d: SimDevice, now: bool = False
) -> dict[str, object]:
    q = "?locatenow=true" if now else ""
    async with s.get(f"{sim.url}{DM}/devices/locate/{d.uuid}{q}") as r:
        assert r.status == 200
        data: dict[str, object] = await r.json()
        return data


async def test_locate_now_timing(sim: Simulator) -> None:
    android = _active(sim, "android")
    offline = _active(sim, "android", online=False)
    ios = _active(sim, "ios")
    async with aiohttp.ClientSession(headers=_h(sim)) as s:
        before = await _locate(s, sim, android)
        old = before["locations"]["location"]  # type: ignore[index]
        started_ms = time.time() * 1000
        reply = await _locate(s, sim, android, now=True)
        assert reply["locateNow"] is True
        # no fix yet: delay is at least 2 s x 0.002
        still = (await _locate(s, sim, android))["locations"]["location"]  # type: ignore[index]
        assert still == old
        await asyncio.sleep(60 * 0.002 + 0.05)
        fresh = (await _locate(s, sim, android))["locations"]["location"]  # type: ignore[index]
        assert fresh["lookupResult"] in ("GPS", "Cell")
        assert int(fresh["capturedAt"]) >= started_ms - 5
        assert int(fresh["capturedAt"]) <= time.time() * 1000 + 5
        # offline: accepted, but never a new fix
        first = (await _locate(s, sim, offline))["locations"]["location"]  # type: ignore[index]
        assert (await _locate(s, sim, offline, now=True))["locateNow"] is True
        await asyncio.sleep(0.15)
        after = (await _locate(s, sim, offline))["locations"]["location"]  # type: ignore[index]
        assert after == first
        # iOS ignores locatenow
        assert (await _locate(s, sim, ios, now=True))["locateNow"] is False
    assert sim.ledger.count(android.uuid, "LOCATE_NOW") == 1
    assert sim.ledger.count(offline.uuid, "LOCATE_NOW") == 1
    assert sim.ledger.count(ios.uuid, "LOCATE_NOW") == 0
