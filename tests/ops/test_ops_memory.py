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


# -- found by review: each promise below broke once ----------------------------------------


async def test_a_call_that_awaits_a_cancelled_future_loses_only_its_own_outcome() -> None:
    """One device's call raising CancelledError (a shared future someone else cancelled)
    while its task is not being cancelled is that device's UNKNOWN; the rest go on."""
    for bad in (0, 3, 19):
        ids = [uuid(i) for i in range(20)]
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        gone.cancel()
        transport = MemoryTransport()
        transport.on("PUT", re.compile(r"/devices/lock/.*"), action_answer)
        async with client(transport) as epmm:
            async def call(device: object, epmm: EpmmClient = epmm, bad_id: str = ids[bad],
                           gone: asyncio.Future[None] = gone) -> object:
                if device == bad_id:
                    await gone
                return await epmm.devices.lock(device, reason="x")  # type: ignore[arg-type]

            outcomes = [o async for o in epmm.ops.stream_each("lock", ids, call, concurrency=4)]
        by_device = {o.device: o for o in outcomes}
        assert sorted(by_device) == sorted(ids)
        assert by_device[ids[bad]].status is OutcomeStatus.UNKNOWN
        assert sum(o.status is OutcomeStatus.SUCCEEDED for o in outcomes) == len(ids) - 1
        assert len(transport.requests) == len(ids) - 1


@pytest.mark.parametrize("body", [
    {"error": "session expired", "login": "/mifs/login.jsp"},
    {"successful": False},
    {"results": [], "totalCount": 0},
])
@pytest.mark.parametrize("action", ["LOCK", "WIPE", "message"])
async def test_a_2xx_that_is_not_a_bulk_answer_is_never_succeeded(
        body: dict[str, object], action: str) -> None:
    ids = [uuid(i) for i in range(5)]
    transport = MemoryTransport()
    transport.on("POST", re.compile(r"/bulk/.*|/devices/sendmessage.*"), Canned.json(body))
    transport.on("PUT", re.compile(r"/bulk/.*|/devices/sendmessage.*"), Canned.json(body))
    async with client(transport) as epmm:
        if action == "message":
            report = await epmm.ops.send_message(ids, message="hi", mode="sms")
        else:
            report = await epmm.ops.bulk(action, ids)
    assert len(transport.requests) >= 1
    assert report.count(OutcomeStatus.SUCCEEDED) == 0
    assert report.count(OutcomeStatus.UNKNOWN) == len(ids)


@pytest.mark.parametrize("body", [{}, {"deviceManagementWebServiceResponse": {}}])
async def test_an_empty_bulk_answer_is_still_a_success(body: dict[str, object]) -> None:
    transport = MemoryTransport()
    transport.on("POST", BULK, Canned.json(body))
    async with client(transport) as epmm:
        report = await epmm.ops.bulk("LOCK", [uuid(1), uuid(2)])
    assert report.count(OutcomeStatus.SUCCEEDED) == 2


async def test_message_sending_failed_for_unnamed_devices_is_unknown() -> None:
    ids = [uuid(i) for i in range(3)]
    transport = MemoryTransport()
    answer = Canned.json({"messages": {"message": "failed"}, "messageSentFailed": True})
    transport.on("POST", re.compile(r".*sendmessage.*"), answer)
    transport.on("PUT", re.compile(r".*sendmessage.*"), answer)
    async with client(transport) as epmm:
        report = await epmm.ops.send_message(ids, message="hi", mode="sms")
    assert report.count(OutcomeStatus.UNKNOWN) == len(ids)


async def test_a_stop_cuts_short_a_label_jobs_look_up_wait() -> None:
    """The label look-up before any membership request waits out a Retry-After of 20 s;
    a stop set meanwhile ends the wait at once (a generous bound tells it from 20 s)."""
    import time

    import anyio

    from epmm_async.ops import JobSettings

    transport = MemoryTransport()
    transport.on("GET", "/api/v2/device_spaces/mine", Canned.json({"results": [{"id": 1}]}))
    transport.on("GET", "/api/v2/labels/label_summary",
                 Canned.json({"messages": ["busy"]}, status=503, retry_after="20"))
    async with client(transport, retry=RetryPolicy(attempts=3, max_retry_after=60)) as epmm:
        stop = anyio.Event()

        async def stopper() -> None:
            await asyncio.sleep(0.1)
            stop.set()

        helper = asyncio.create_task(stopper())
        started = time.monotonic()
        report = await epmm.ops.label_add("L", [uuid(1)], settings=JobSettings(stop=stop))
        await helper
    assert time.monotonic() - started < 10
    assert report.count(OutcomeStatus.CANCELLED) == 1
    assert not transport.received("PUT")


async def test_a_server_refusing_every_size_does_not_get_one_request_per_device() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/device_spaces/mine", Canned.json({"results": [{"id": 1}]}))
    transport.on("GET", "/api/v2/labels/label_summary", Canned.json(
        {"results": [{"id": 7, "name": "L", "isStatic": True}], "totalCount": 1}))
    transport.on("PUT", "/api/v2/devices/labels/L/add", Canned.json({"messages": []}, 413))
    ids = [uuid(i) for i in range(1000)]
    async with client(transport) as epmm:
        report = await epmm.ops.label_add("L", ids)
    assert sorted(o.device for o in report.outcomes) == sorted(ids)
    assert report.count(OutcomeStatus.FAILED) == len(ids)
    assert len(transport.received("PUT")) < 40


async def test_an_empty_xml_root_with_attributes_is_still_a_success() -> None:
    body = (b'<deviceManagementWebServiceResponse '
            b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>')
    transport = MemoryTransport()
    transport.on("POST", BULK, Canned(200, body, "application/xml"))
    async with client(transport, response_format="xml") as epmm:
        report = await epmm.ops.bulk("LOCK", [uuid(1), uuid(2)])
    assert report.count(OutcomeStatus.SUCCEEDED) == 2


async def test_one_jobs_stop_does_not_decide_a_shared_device_space_discovery() -> None:
    from epmm_async.pacing import Halt, JobScope, job_scope

    async def mine(request: HttpRequest) -> Canned:
        await asyncio.sleep(0.05)
        return Canned.json({"results": [{"id": 5}]})

    transport = MemoryTransport()
    transport.on("GET", "/api/v2/device_spaces/mine", mine)
    async with client(transport) as epmm:
        halt = Halt()

        async def in_job() -> int:
            with job_scope(JobScope(halt)):
                return await epmm.v2.device_space()

        job = asyncio.create_task(in_job())
        await asyncio.sleep(0.01)
        plain = asyncio.create_task(epmm.v2.device_space())
        halt.set("stopped")
        assert await plain == 5
        assert await job == 5
    assert len(transport.requests) == 1
