# ruff: noqa: B023
"""The retry loop's promises, counted at the transport, over many seeded trials.

Written by a review of the sender's retry rewrite, apart from the code: single requests
under random per-attempt failures (one ``http.request`` event per attempt, one
``http.retry`` per retry, the slot returned, wipe and retire resent only after failures
that certainly were not applied, the attempt facts right, no success for a non-answer);
jobs stopped at random moments (no request after the stop, waits end at once, one outcome
per device); ``JobInterrupted``'s facts after a stop in backoff; ``stream()`` releasing its
connection slot on every path; a consumer that stops early; random cancellation. The
request scripts are in ``_retry_scripts.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.errors import ConnectError, TransportError
from epmm_async.ops import JobSettings, OutcomeStatus
from epmm_async.transport import Canned, HttpRequest, MemoryTransport

sys.path.insert(0, str(Path(__file__).parent))
import _retry_scripts as _trace

UUID = _trace.UUID


def uuid(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-{i:012x}"


# -- single requests: invariants over 1500 seeded scripts ---------------------------------

MAY_APPLY = {"ok", "ok_xml", "timeout_sent", "drop_body", "500", "502", "503", "empty",
             "login", "bad_json"}


@pytest.mark.parametrize("chunk", range(3))
async def test_single_request_invariants(chunk: int) -> None:
    for seed in range(chunk * 500, chunk * 500 + 500):
        t = await _trace.single(seed)
        op, script, res = t["op"], t["script"], t["result"]
        sent = script[: t["requests"]] if len(script) >= t["requests"] else (
            script + [script[-1]] * (t["requests"] - len(script)))
        assert t["slots_after"] == 1 and t["open"] == 0, t
        # one http.request per attempt, one http.retry per retry
        reqs = [e for e in t["events"] if e[0] == "http.request"]
        retries = [e for e in t["events"] if e[0] == "http.retry"]
        assert len(reqs) == t["requests"], t
        assert [e[1] for e in reqs] == list(range(1, t["requests"] + 1)), t
        assert len(retries) == t["requests"] - 1, t
        if op in ("wipe", "retire"):
            # resent only after failures certainly not applied
            for kind in sent[:-1]:
                assert kind in ("refuse", "429", "429ra", "503ra", "emfile"), t
        if "error" in res:
            if res["error"] not in ("DecodeError", "DeviceNotFound"):  # pre-existing: 0
                assert res["attempts"] == t["requests"], t
            if res["error"] not in ("DecodeError", "DeviceNotFound"):  # pre-existing, see report
                assert res["earlier"] == any(k in MAY_APPLY for k in sent[:-1]), t
        else:
            # never a success for a non-answer (export: see
            # test_export_of_a_login_page_is_not_an_empty_export)
            if op != "export":
                assert sent[-1] in ("ok", "ok_xml"), t
            if op != "export":
                assert res["attempts"] == t["requests"], t


# -- jobs: stop at a random time ----------------------------------------------------------

KINDS = ["ok", "refuse", "timeout", "500", "503ra_long", "429ra_long", "slow_ok"]


async def test_seeded_stops_no_request_after_stop_waits_end_at_once() -> None:
    for seed in range(150):
        rng = random.Random(seed)
        action = rng.choice(["wipe", "lock", "retire"])
        stop = anyio.Event()
        after_stop: list[str] = []
        per: dict[str, list[str]] = {}

        async def respond(request: HttpRequest, rng: random.Random = rng,
                          stop: anyio.Event = stop) -> Canned:
            if stop.is_set():
                after_stop.append(request.path)
            kind = rng.choice(KINDS)
            per.setdefault(request.path, []).append(kind)
            await asyncio.sleep(rng.random() * 0.003)
            dev = request.path.rsplit("/", 1)[1]
            if kind == "refuse":
                raise ConnectError("refused", method="PUT", path=request.path)
            if kind == "timeout":
                raise TransportError("timeout", method="PUT", path=request.path, sent=True)
            if kind == "500":
                return Canned.html(500)
            if kind == "503ra_long":
                return Canned(503, b"", "text/html", retry_after="30")
            if kind == "429ra_long":
                return Canned(429, b"", "text/html", retry_after="30")
            if kind == "slow_ok":
                await asyncio.sleep(0.01)
            return Canned.json({"deviceUuid": dev, "messages": {"message": "ok"}})

        transport = MemoryTransport()
        transport.on("PUT", re.compile(r"/devices/\w+/.*"), respond)
        ids = [uuid(seed * 100 + i) for i in range(rng.randint(1, 30))]
        limit = rng.randint(1, 3)
        rate = rng.choice([None, 50.0, 2.0])
        policy = RetryPolicy(initial_delay=rng.choice([0.001, 5.0]), max_delay=10,
                             attempts=4, deadline=60, max_retry_after=60)
        stop_at = rng.random() * 0.05
        async with EpmmClient("https://epmm.stop.test", username="u", password="pw",
                              config=ClientConfig(retry=policy, connection_limit=limit,
                                                  rate_limit=rng.choice([None, 100.0])),
                              transport=transport) as epmm:
            seen = []
            kwargs = {"reason": "r"} if action == "lock" else {}

            async def consume() -> None:
                async for o in epmm.ops.stream_fan_out(
                        action, ids, concurrency=rng.randint(1, 8), rate=rate,
                        settings=JobSettings(stop=stop, max_consecutive_outages=10**6),
                        **kwargs):
                    seen.append(o)

            task = asyncio.create_task(consume())
            await asyncio.sleep(stop_at)
            stop.set()
            t0 = time.monotonic()
            await asyncio.wait_for(task, 5)
            took = time.monotonic() - t0
            assert epmm.sender._slots.value == limit, seed
        assert after_stop == [], (seed, after_stop)
        assert took < 0.25, (seed, took)
        assert sorted(o.device for o in seen) == sorted(ids), seed
        for o in seen:
            path = f"/devices/{action}/{o.device}"
            kinds = per.get(path, [])
            assert o.attempts == len(kinds) or o.status is OutcomeStatus.SUCCEEDED \
                or o.attempts == len(kinds), (seed, o, kinds)
            if action in ("wipe", "retire"):
                for k in kinds[:-1]:
                    assert k in ("refuse", "503ra_long", "429ra_long"), (seed, o, kinds)
            if o.status is OutcomeStatus.SUCCEEDED:
                assert kinds and kinds[-1] in ("ok", "slow_ok"), (seed, o, kinds)
            if o.status is OutcomeStatus.CANCELLED or o.status is OutcomeStatus.FAILED:
                # certainly not applied
                assert all(k in ("refuse", "503ra_long", "429ra_long") for k in kinds), \
                    (seed, o, kinds)


async def test_job_interrupted_facts_after_a_stop_in_backoff() -> None:
    """Direct: a lock that got a 500 then waits a long backoff; a stop ends the wait and the
    JobInterrupted says 1 attempt that may have applied; a wipe refused first says 1 attempt,
    not applied."""
    for path_kind, first, earlier in (("lock", Canned.html(500), True),
                                      ("wipe", None, False)):
        def refuse(request: HttpRequest) -> Canned:
            raise ConnectError("refused", method="PUT", path=request.path)

        transport = MemoryTransport()
        transport.on("PUT", f"/devices/{path_kind}/{UUID}", first or refuse)
        policy = RetryPolicy(initial_delay=20, max_delay=20, jitter=0, deadline=100)
        stop = anyio.Event()
        async with EpmmClient("https://x.test", username="u", password="pw",
                              config=ClientConfig(retry=policy), transport=transport) as epmm:
            seen = []

            async def consume() -> None:
                kw = {"reason": "r"} if path_kind == "lock" else {}
                async for o in epmm.ops.stream_fan_out(path_kind, [UUID],
                                                       settings=JobSettings(stop=stop), **kw):
                    seen.append(o)

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(task, 1)
        [o] = seen
        assert o.attempts == 1 and len(transport.requests) == 1
        assert o.status is (OutcomeStatus.UNKNOWN if earlier else OutcomeStatus.CANCELLED), o


# -- stream(): slot released on every path --------------------------------------------------

class _Stream:
    extra_header_bytes = 0

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    @asynccontextmanager
    async def exchange(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        self.requests += 1
        mode = self.mode
        body = b"UUID,Phone Number\n" + b"".join(b"u%d,+1\n" % i for i in range(2000))

        class R:
            status = 200
            content_type = "text/csv"
            location = None
            retry_after = None

            async def read(self, limit: int) -> bytes:
                return body

            async def chunks(self, size: int):  # type: ignore[no-untyped-def]
                for i in range(0, len(body), 64):
                    if mode == "drop" and i > 256:
                        raise TransportError("cut", method="GET", path=request.path, sent=True)
                    if mode == "hang" and i > 256:
                        await asyncio.sleep(30)
                    await asyncio.sleep(0)
                    yield body[i:i + 64]
        yield R()


@pytest.mark.parametrize("mode", ["drop", "hang", "break", "raise"])
async def test_stream_releases_its_slot_on_every_path(mode: str) -> None:
    transport = _Stream("drop" if mode == "drop" else "hang" if mode == "hang" else "ok")
    async with EpmmClient("https://x.test", username="u", password="pw",
                          config=ClientConfig(connection_limit=1),
                          transport=transport) as epmm:  # type: ignore[arg-type]
        for _ in range(3):
            async def read() -> None:
                n = 0
                agen = epmm.devices.export_csv()
                try:
                    async for _row in agen:
                        n += 1
                        if mode == "break" and n == 3:
                            break
                        if mode == "raise" and n == 3:
                            raise KeyError("consumer")
                finally:
                    await agen.aclose()
            task = asyncio.create_task(read())
            await asyncio.sleep(0.05)
            if mode == "hang":
                task.cancel()
            with pytest.raises((TransportError, KeyError, asyncio.CancelledError)) \
                    if mode != "break" else contextlib.nullcontext():
                await task
            assert epmm.sender._slots.value == 1, mode
        assert transport.requests == 3


@asynccontextmanager
async def _nothing():  # type: ignore[no-untyped-def]
    yield


# -- an early consumer leaves at most one extra request per worker ---------------------------

async def test_early_consumer_at_most_one_extra_per_worker() -> None:
    for seed in range(40):
        rng = random.Random(seed)
        conc = rng.randint(1, 8)
        arrived = 0

        async def lock(request: HttpRequest) -> Canned:
            nonlocal arrived
            arrived += 1
            if rng.random() < 0.5:
                await asyncio.sleep(rng.random() * 0.002)
            return Canned.json({"deviceUuid": request.path.rsplit("/", 1)[1],
                                "messages": {"message": "ok"}})

        transport = MemoryTransport()
        transport.on("PUT", re.compile(r"/devices/lock/.*"), lock)
        ids = [uuid(i) for i in range(300)]
        take = rng.randint(1, 100)
        async with EpmmClient("https://x.test", username="u", password="pw",
                              transport=transport) as epmm:
            stream = epmm.ops.stream_fan_out("lock", ids, reason="r", concurrency=conc)
            taken = 0
            async for _ in stream:
                taken += 1
                if taken == take:
                    break
            await stream.aclose()
            at_close = len(transport.requests)
            await asyncio.sleep(0.02)
        assert len(transport.requests) == at_close, seed
        assert at_close <= take + conc, (seed, at_close, take, conc)


# -- credentials ---------------------------------------------------------------------------

# -- cancellation at random points ---------------------------------------------------------

async def test_seeded_cancellation_releases_slots_and_never_resends_a_wipe() -> None:
    for seed in range(300):
        rng = random.Random(seed)
        kinds: list[str] = []

        async def wipe(request: HttpRequest, rng: random.Random = rng) -> Canned:
            kind = rng.choice(["refuse", "503ra", "ok", "slow", "timeout"])
            kinds.append(kind)
            if kind == "refuse":
                raise ConnectError("refused", method="PUT", path=request.path)
            if kind == "timeout":
                raise TransportError("t", method="PUT", path=request.path, sent=True)
            if kind == "503ra":
                return Canned(503, b"", "text/html", retry_after="0")
            if kind == "slow":
                await asyncio.sleep(0.01)
            return Canned.json({"deviceUuid": UUID})

        transport = MemoryTransport()
        transport.on("PUT", f"/devices/wipe/{UUID}", wipe)
        transport.on("GET", "/devices.csv", Canned(200, b"UUID\n" + b"x\n" * 10, "text/csv"))
        policy = RetryPolicy(initial_delay=0.001, max_delay=0.003, attempts=5)
        async with EpmmClient("https://x.test", username="u", password="pw",
                              config=ClientConfig(retry=policy, connection_limit=1),
                              transport=transport) as epmm:
            async def export() -> None:
                async for _ in epmm.devices.export_csv():
                    await asyncio.sleep(0.001)
            tasks = [asyncio.create_task(epmm.devices.wipe(UUID)),
                     asyncio.create_task(export())]
            await asyncio.sleep(rng.random() * 0.02)
            for t in tasks:
                if rng.random() < 0.7:
                    t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            assert epmm.sender._slots.value == 1, seed
        for k in kinds[:-1]:
            assert k in ("refuse", "503ra"), (seed, kinds)
