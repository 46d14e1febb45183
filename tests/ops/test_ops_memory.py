"""The operations layer on the in-memory transport: what the server *received*, counted.

No socket: the transport records every request, so each "never" below is checked against
the requests themselves over many seeded trials.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest

from epmm_async import (
    BulkLimits,
    ClientConfig,
    ConnectError,
    EpmmClient,
    RetryPolicy,
    TransportError,
)
from epmm_async.ops import OutcomeStatus
from epmm_async.transport import Canned, HttpRequest, MemoryTransport

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.002, attempts=3, deadline=5.0)
WIPE = re.compile(r"/devices/wipe/[0-9a-f-]{36}")
BULK = "/bulk/devices/LOCK"


def uuid(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-{i:012x}"


def client(transport: MemoryTransport, **options: object) -> EpmmClient:
    options.setdefault("retry", FAST)
    return EpmmClient("https://epmm.ops.test", username="api", password="pw",
                      config=ClientConfig(**options), transport=transport)  # type: ignore[arg-type]


def action_answer(request: HttpRequest) -> Canned:
    device = request.path.rsplit("/", 1)[1]
    return Canned.json({"deviceUuid": device, "messages": {"message": "Request Sent"}})


def bulk_uuids(request: HttpRequest) -> list[str]:
    return parse_qs(urlsplit(request.url).query)["deviceUuids"]


async def test_a_bulk_job_gives_each_device_one_outcome_from_the_answer() -> None:
    ids = [uuid(i) for i in range(1000)]
    unknown = set(ids[::97])

    def bulk(request: HttpRequest) -> Canned:
        invalid = [u for u in bulk_uuids(request) if u in unknown]
        return Canned.json({"invalidDevices": {"uuid": invalid}} if invalid else {})

    transport = MemoryTransport()
    transport.on("POST", BULK, bulk)
    async with client(transport, bulk=BulkLimits(max_uuids=300)) as epmm:
        report = await epmm.ops.bulk("LOCK", ids)
    sent = [u for r in transport.requests for u in bulk_uuids(r)]
    assert sorted(sent) == sorted(ids)  # every device sent once, in chunks of <= 300
    assert all(len(bulk_uuids(r)) <= 300 for r in transport.requests)
    assert report.count(OutcomeStatus.INVALID) == len(unknown)
    assert report.count(OutcomeStatus.SUCCEEDED) == len(ids) - len(unknown)


async def test_seeded_faults_never_send_a_wipe_twice_unless_refused_first() -> None:
    """200 seeded trials of a per-device wipe over a failing wire: each device gets exactly
    one outcome, and a wipe goes out again only after a connection that was refused."""
    for seed in range(200):
        rng = random.Random(seed)
        ids = [uuid(seed * 100 + i) for i in range(20)]
        log: dict[str, list[str]] = {}

        def wipe(request: HttpRequest, rng: random.Random = rng,
                 log: dict[str, list[str]] = log) -> Canned:
            roll = rng.random()
            kind = ("drop" if roll < 0.15 else "refuse" if roll < 0.35 else
                    "500" if roll < 0.45 else "ok")
            log.setdefault(request.path.rsplit("/", 1)[1], []).append(kind)
            if kind == "drop":
                raise TransportError("dropped", method="PUT", path=request.path, sent=True)
            if kind == "refuse":
                raise ConnectError("refused", method="PUT", path=request.path, sent=False)
            if kind == "500":
                return Canned.html(500)
            return action_answer(request)

        transport = MemoryTransport()
        transport.on("PUT", WIPE, wipe)
        async with client(transport) as epmm:
            report = await epmm.ops.fan_out("wipe", ids, concurrency=8)
        assert sorted(o.device for o in report.outcomes) == sorted(ids), seed
        for device, kinds in log.items():
            assert all(k == "refuse" for k in kinds[:-1]), (seed, device, kinds)
        by_device = {o.device: o.status for o in report.outcomes}
        for device, kinds in log.items():
            last = kinds[-1]
            expected = {"ok": OutcomeStatus.SUCCEEDED, "refuse": OutcomeStatus.FAILED,
                        "drop": OutcomeStatus.UNKNOWN, "500": OutcomeStatus.UNKNOWN}[last]
            assert by_device[device] is expected, (seed, device, kinds)


async def test_a_consumer_that_leaves_early_leaves_no_request_behind() -> None:
    answered: Counter[str] = Counter()

    async def lock(request: HttpRequest) -> Canned:
        await asyncio.sleep(0.001)
        answered[request.path] += 1
        return action_answer(request)

    transport = MemoryTransport()
    transport.on("PUT", re.compile(r"/devices/lock/.*"), lock)
    ids = [uuid(i) for i in range(500)]
    async with client(transport) as epmm:
        taken = 0
        stream = epmm.ops.stream_fan_out("lock", ids, reason="lost", concurrency=8)
        async for _ in stream:
            taken += 1
            if taken == 50:
                break
        await stream.aclose()
        received_at_close = len(transport.requests)
        await asyncio.sleep(0.05)
        # Halted: at most the attempts already on the wire, nothing new.
        assert len(transport.requests) == received_at_close
    assert received_at_close < len(ids)
    assert sum(answered.values()) == received_at_close
    assert max(answered.values()) == 1  # no lock sent twice


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_the_plan_is_what_is_sent(fmt: str) -> None:
    ids = [uuid(i) for i in range(400)]
    transport = MemoryTransport()
    body = b"<deviceManagementWebServiceResponse/>" if fmt == "xml" else b"{}"
    transport.on("POST", BULK, Canned(200, body, f"application/{fmt}"))
    async with client(transport, response_format=fmt) as epmm:
        plan = await epmm.ops.plan_bulk("LOCK", ids)
        report = await epmm.ops.run_plan(plan)
    planned = [(r.method, r.request.path, r.request.query) for r in plan.requests]
    sent = [(r.method, r.path, urlsplit(r.url).query) for r in transport.requests]
    assert sent == planned
    assert report.count(OutcomeStatus.SUCCEEDED) == len(ids)
    assert msgspec.json.encode(sorted(o.device for o in report.outcomes))
