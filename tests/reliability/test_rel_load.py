"""Load: a 100,000-device fleet listed page by page and bulk-locked end to end, with the
client's memory bounded (the simulator runs in a subprocess so tracemalloc sees only the
client)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from rel_support import fast_retry

from epmm_async import ClientConfig, EpmmClient
from epmm_async.ops import JobSettings, OutcomeStatus

PAGE = 500


@asynccontextmanager
async def sim_process(devices: int) -> AsyncIterator[dict[str, str]]:
    env = {**os.environ, "EPMM_SIM_PASSWORD": "load-test-pw"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "epmm_async.simulator", "--devices", str(devices), "--port", "0",
        "--seed", "17", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    info: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        while "password" not in info:
            line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
            assert line, "simulator exited"
            if "=" in line:
                key, _, value = line.strip().partition("=")
                info[key] = value
        yield info
    finally:
        proc.terminate()
        await proc.wait()


def client(info: dict[str, str]) -> EpmmClient:
    return EpmmClient(
        info["url"],
        username=info["username"],
        password=info["password"],
        config=ClientConfig(retry=fast_retry(deadline=60)),
    )


async def list_peak(devices: int) -> tuple[int, int]:
    """(devices listed, tracemalloc peak in bytes) for iterating the whole fleet."""
    async with sim_process(devices) as info, client(info) as epmm:
        tracemalloc.start()
        try:
            seen = 0
            async for device in epmm.devices.iter(page_size=PAGE):
                assert device.uuid
                seen += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return seen, peak


@pytest.mark.slow
async def test_listing_memory_does_not_grow_with_the_fleet() -> None:
    small_n, small_peak = await list_peak(10_000)
    big_n, big_peak = await list_peak(100_000)
    print(f"\nLOAD listing: {small_n} devices peak {small_peak/1e6:.1f} MB; "
          f"{big_n} devices peak {big_peak/1e6:.1f} MB")
    assert big_n > 9 * small_n
    # One page at a time: ten times the devices may not cost anywhere near ten times the memory.
    assert big_peak < 2 * small_peak + 5_000_000
    assert big_peak < 60_000_000


@pytest.mark.slow
async def test_100k_fleet_bulk_locked_end_to_end() -> None:
    async with sim_process(100_000) as info, client(info) as epmm:
        tracemalloc.start()
        started = time.monotonic()
        try:
            uuids = [d.uuid async for d in epmm.devices.iter(page_size=PAGE)]
            listed = time.monotonic() - started
            counts: dict[str, int] = {}
            seen: set[str] = set()
            async for outcome in epmm.ops.stream_bulk("LOCK", uuids,
                                                      settings=JobSettings(concurrency=4)):
                assert outcome.device not in seen
                seen.add(outcome.device)
                counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    elapsed = time.monotonic() - started
    print(f"\nLOAD bulk: {len(uuids)} listed in {listed:.1f}s, locked; {counts}; "
          f"{elapsed:.1f}s total; peak {peak/1e6:.1f} MB")
    assert len(uuids) > 70_000 and len(set(uuids)) == len(uuids)
    assert seen == set(uuids)
    assert counts == {OutcomeStatus.SUCCEEDED.value: len(uuids)}
    assert peak < 300_000_000  # uuids + one outcome per device, nowhere near the fleet's bodies
