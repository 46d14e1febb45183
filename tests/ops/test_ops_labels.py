"""Static-label membership jobs (``epmm.ops.label_add``/``label_remove``) on MemoryTransport:
chunks, the cap the server does not tell (split and learnt), outcomes from the answer's
records, the label pre-check, halting, the journal and resume. Counts are of the requests the
transport received."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import random
import re
import shutil
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from epmm_async import ClientConfig, EpmmClient, RetryPolicy, ValidationError
from epmm_async.models import Device
from epmm_async.ops import JobSettings, Journal, Operations, Outcome, OutcomeStatus
from epmm_async.ops.labels import UnknownLabelError
from epmm_async.transport import Canned, HttpRequest, MemoryTransport
from epmm_async.v2 import AmbiguousLabelError, DeviceRecord
from epmm_async.validation import MacAddress

BASE = "https://epmm.labels.test"
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.002, attempts=2, deadline=5.0)
MEMBERSHIP = re.compile(r"/api/v2/devices/labels/[^/]+/(add|remove)")
M = 100  # the default max_uuids
# Requests carrying one device at most, against a fixed cap: ceil(log2(M)) refused, 1 taken.
BOUND = math.ceil(math.log2(M)) + 1
S, F, U, C = (OutcomeStatus(s) for s in ("succeeded", "failed", "unknown", "cancelled"))


def uuid_of(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-{i:012x}"


def uuids_in(request: HttpRequest) -> list[str]:
    return list(json.loads(request.body or b"{}")["deviceUuids"])


@dataclass
class Server:
    """The membership endpoint: refuses calls over ``cap`` uuids (``refusal``: a 400 saying
    "too many", a 413, or a 400 that says nothing), ``failing`` devices in records
    (``successful`` then ``all_ok``), and calls naming a ``bad`` one (a wordless 400)."""

    cap: int | None = None
    refusal: str = "too_many"
    failing: set[str] = field(default_factory=set)
    all_ok: bool = False
    bad: set[str] = field(default_factory=set)
    delay: float = 0.0
    hook: list[object] = field(default_factory=list)
    accepted: list[list[str]] = field(default_factory=list)
    count: int = 0

    async def __call__(self, request: HttpRequest) -> Canned:
        self.count += 1
        for action in self.hook:
            action(self.count)  # type: ignore[operator]
        uuids = uuids_in(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.cap is not None and len(uuids) > self.cap:
            if self.refusal == "413":
                return Canned.html(413, "<html>Payload Too Large</html>")
            said = "Too many devices" if self.refusal == "too_many" else "Bad Request"
            return Canned.json({"messages": [said]}, status=400)
        if self.bad & set(uuids):
            return Canned.json({"messages": ["Bad Request"]}, status=400)
        self.accepted.append(uuids)
        failed = [u for u in uuids if u in self.failing]
        records = [{"label": "Field", "device": u, "message": "device is retired",
                    "failureCode": "RETIRED"} for u in failed]
        return Canned.json({"successful": self.all_ok or not failed,
                            "results": {"records": records}})


def labels_route(*labels: dict[str, object]) -> Callable[[HttpRequest], Canned]:
    def reply(request: HttpRequest) -> Canned:
        query = dict(p.split("=", 1) for p in request.url.partition("?")[2].split("&"))
        start, end = int(query["offset"]), int(query["offset"]) + int(query["limit"])
        return Canned.json({"results": list(labels[start:end]), "totalCount": len(labels),
                            "hasMore": end < len(labels)})
    return reply


FIELD = {"id": 7, "name": "Field", "isStatic": True}


def setup(*replies: Server | Canned, labels: tuple[dict[str, object], ...] = (FIELD,),
          **config: object) -> tuple[MemoryTransport, EpmmClient]:
    transport = MemoryTransport()
    transport.on("PUT", MEMBERSHIP, *replies)
    transport.on("GET", "/api/v2/labels/label_summary", labels_route(*labels))
    config.setdefault("device_space_id", 1)
    epmm = EpmmClient(BASE, username="api", password="pw", transport=transport,
                      config=ClientConfig(retry=FAST, **config))  # type: ignore[arg-type]
    return transport, epmm


def puts(transport: MemoryTransport) -> list[HttpRequest]:
    return [r for r in transport.requests if r.method == "PUT"]


def carried(transport: MemoryTransport) -> Counter[str]:
    """How many requests carried each device."""
    return Counter(u for r in puts(transport) for u in uuids_in(r))


def one_each(outcomes: list[Outcome], devices: list[str]) -> dict[str, Outcome]:
    by_device = {o.device: o for o in outcomes}
    assert len(outcomes) == len(by_device) == len(devices) and set(by_device) == set(devices)
    return by_device


# -- an unknown cap: split, learnt, never exceeded ----------------------------------------------


@pytest.mark.parametrize("trial", range(8 if os.environ.get("EPMM_THOROUGH") else 3))
async def test_30000_devices_against_a_cap_the_client_does_not_know(trial: int) -> None:
    rng = random.Random(trial)
    cap = rng.choice([rng.randint(2, 12), rng.randint(13, 99), rng.randint(100, 200)])
    server = Server(cap=cap, refusal=rng.choice(["too_many", "413", "wordless"]))
    devices = [uuid_of(i) for i in range(30_000)]
    workers = rng.randint(1, 4)
    transport, epmm = setup(server)
    async with epmm:
        report = await epmm.ops.label_add("Field", devices, concurrency=workers)
    assert all(o.status is S for o in one_each(report.outcomes, devices).values())
    accepted = Counter(u for piece in server.accepted for u in piece)
    assert set(accepted.values()) == {1} and set(accepted) == set(devices)
    assert max(map(len, server.accepted)) <= cap
    assert max(carried(transport).values()) <= BOUND
    # The cap is learnt, not found again for every chunk: the refused requests are a few
    # per worker, and once found each chunk of 100 goes in ceil(100/cap) requests.
    refused = len(puts(transport)) - len(server.accepted)
    assert refused <= workers * (BOUND + 2), (cap, refused)
    fitted = math.ceil(M / min(cap, M))
    assert len(server.accepted) <= 300 * fitted + workers * 2 * BOUND * fitted


@pytest.mark.parametrize("cap", [1, 0])
async def test_a_cap_of_one_device_or_none(cap: int) -> None:
    server = Server(cap=cap)
    devices = [uuid_of(i) for i in range(2_000)]
    transport, epmm = setup(server)
    async with epmm:
        report = await epmm.ops.label_add("Field", devices)
    assert len(server.accepted) == report.count(S) == 2_000 * cap
    if cap == 0:  # even one device is too many: failed, not sent again and again
        assert report.reasons == {"failed": {"request_too_large": 2_000}}
    assert len(puts(transport)) - 2_000 <= 2 * BOUND
    assert max(carried(transport).values()) <= BOUND


async def test_a_wordless_400_for_every_call_is_not_split_for_long() -> None:
    server = Server(bad={uuid_of(i) for i in range(10_000)})
    devices = sorted(server.bad)
    transport, epmm = setup(server)
    async with epmm:
        report = await epmm.ops.label_add("Field", devices, concurrency=3)
    assert report.count(F) == 10_000
    # 100 chunks: a few descend to two refused single devices, the others go in one request.
    assert len(puts(transport)) <= 100 + 3 * 3 * BOUND


async def test_a_wordless_400_for_one_device_is_isolated_by_halving() -> None:
    devices = [uuid_of(i) for i in range(3_000)]
    bad = {devices[5], devices[1234], devices[2999]}
    server = Server(bad=bad)
    transport, epmm = setup(server)
    async with epmm:
        report = await epmm.ops.label_add("Field", devices)
    by_device = one_each(report.outcomes, devices)
    assert {d for d, o in by_device.items() if o.status is F} == bad
    assert by_device[devices[5]].http_status == 400
    assert len(puts(transport)) <= 30 + len(bad) * 2 * BOUND
    # A refused device did not teach a cap: the chunks after still go whole.
    assert Counter(map(len, server.accepted))[M] >= 25


# -- outcomes from the answer ---------------------------------------------------------------


@pytest.mark.parametrize("all_ok", [True, False])
async def test_records_name_the_devices_that_failed(all_ok: bool) -> None:
    devices = [uuid_of(i) for i in range(250)]
    server = Server(failing={devices[3], devices[140]}, all_ok=all_ok)
    transport, epmm = setup(server)
    async with epmm:
        report = await epmm.ops.label_add("Field", devices)
    by_device = one_each(report.outcomes, devices)
    assert {(by_device[d].status, by_device[d].reason, by_device[d].error)
            for d in server.failing} == {(F, "membership_failed", "device is retired")}
    assert all(by_device[d].status is S for d in devices[200:])  # no failure named there
    # The other devices of the chunks that failed: confirmed only when the answer is
    # successful; otherwise the answer does not say, and they are unknown.
    others = [d for d in devices[:200] if d not in server.failing]
    assert {by_device[d].status for d in others} == {S if all_ok else U}
    assert len(puts(transport)) == 3


async def test_a_record_per_device_confirms_each_even_when_not_successful() -> None:
    devices = [uuid_of(i) for i in range(4)]
    records: list[dict[str, object]] = [{"label": "Field", "device": {"uuid": d.upper()},
                                         "message": "ok", "failureCode": None} for d in devices[1:]]
    records.append({"label": "Field", "device": devices[0], "message": "no",
                    "failureCode": 7})
    _, epmm = setup(Canned.json({"successful": False, "results": {"records": records}}))
    async with epmm:
        report = await epmm.ops.label_add("Field", devices)
    by_device = one_each(report.outcomes, devices)
    assert by_device[devices[0]].status is F and by_device[devices[0]].detail == "failureCode 7"
    assert all(by_device[d].status is S for d in devices[1:])


@pytest.mark.parametrize(("answer", "status", "reason"), [
    ({"successful": False}, U, "unsuccessful"),
    ({"successful": False, "results": {"records": []}}, U, "unsuccessful"),
    ({"successful": True, "results": {"records": [
        {"device": "someone-else", "failureCode": "X"}]}}, U, "unconfirmed"),
    ({"successful": True}, S, None),
    ({}, S, None),
])
async def test_the_answer_without_the_device(answer: dict[str, object],
                                             status: OutcomeStatus, reason: str | None) -> None:
    transport, epmm = setup(Canned.json(answer), device_space_id=3)
    devices = [uuid_of(i) for i in range(150)]
    async with epmm:
        report = await epmm.ops.label_remove("Field", devices, check_label=False)
    assert {(o.status, o.reason) for o in report.outcomes} == {(status, reason)}
    assert report.total == 150 and {o.action for o in report.outcomes} == {"label_remove"}
    assert [r.url for r in transport.requests] == [
        f"{BASE}/api/v2/devices/labels/Field/remove?adminDeviceSpaceId=3"] * 2


@pytest.mark.parametrize(("status", "reasons"), [
    (404, {"failed": {"not_found": 100}, "skipped": {"not_sent": 400}}),  # the label is gone
    (401, {"failed": {"unauthorized": 100}, "skipped": {"not_sent": 400}}),
    (429, {"failed": {"rate_limited": 500}}),
])
async def test_errors_keep_the_usual_rules(status: int, reasons: dict[str, object]) -> None:
    _, epmm = setup(Canned.json({"messages": ["no"]}, status=status))
    async with epmm:
        report = await epmm.ops.label_add("Field", map(uuid_of, range(500)), concurrency=1)
    assert report.reasons == reasons and (report.aborted is None) is (status == 429)


# -- the label, the devices ---------------------------------------------------------------


@pytest.mark.parametrize("static", [True, False])
async def test_a_missing_or_dynamic_label_is_refused_before_membership(static: bool) -> None:
    label: dict[str, object] = {"id": 7, "name": "Other" if static else "Field", "isStatic": static}
    transport, epmm = setup(Server(), labels=(label,))
    async with epmm:
        with pytest.raises(UnknownLabelError) as caught:
            await epmm.ops.label_add("Field", [uuid_of(1)])
        with pytest.raises(UnknownLabelError):
            await epmm.ops.plan_label_remove("Field", [uuid_of(1)])
    assert caught.value.label == "Field" and isinstance(caught.value, ValidationError)
    assert ("dynamic" in str(caught.value)) is not static
    assert puts(transport) == [] and transport.requests


async def test_two_labels_of_the_name_are_ambiguous_and_the_check_can_be_skipped() -> None:
    transport, epmm = setup(Server(), labels=(FIELD, {**FIELD, "id": 2}))
    async with epmm:
        with pytest.raises(AmbiguousLabelError):
            await epmm.ops.label_add("Field", [uuid_of(1)])
        gets = len(transport.requests)
        report = await epmm.ops.label_add("Field", [uuid_of(1)], check_label=False)
    assert report.all_succeeded and len(transport.requests) == gets + 1


@pytest.mark.parametrize(("label", "devices", "options"), [
    ("Field,Sales", [uuid_of(1)], {}), ("", [uuid_of(1)], {}),
    ("Field", [MacAddress("00:11:22:33:44:55")], {}), ("Field", ["not-a-uuid"], {}),
    ("Field", [uuid_of(1)], {"max_uuids": 0}), ("Field", [uuid_of(1)], {"concurrency": 0}),
])
async def test_arguments_are_checked_first(label: str, devices: list[object],
                                           options: dict[str, object]) -> None:
    transport, epmm = setup(Server())
    async with epmm:
        with pytest.raises(ValidationError):
            await epmm.ops.label_add(label, devices, **options)  # type: ignore[arg-type]
    assert transport.requests == []


async def test_devices_are_uuids_devices_or_v2_records_each_once() -> None:
    server = Server()
    _, epmm = setup(server)
    a, b, c = uuid_of(1), uuid_of(2), uuid_of(3)

    async def more() -> AsyncGenerator[object, None]:
        yield DeviceRecord({"common.uuid": c.upper()})
        yield a

    async with epmm:
        report = await epmm.ops.label_add("Field", [a, Device(uuid=b), a.upper()])
        again = await epmm.ops.label_add("Field", more())  # type: ignore[arg-type]
    assert [o.device for o in report.outcomes] == [a, b]
    assert [o.device for o in again.outcomes] == [c, a]
    assert server.accepted == [[a, b], [c, a]]


async def test_the_plan_is_what_is_sent() -> None:
    devices = [uuid_of(i) for i in range(1_234)]
    transport, epmm = setup(Server(), device_space_id=None)
    transport.on("GET", "/api/v2/device_spaces/mine", Canned.json({"results": [{"id": 4}]}))
    async with epmm:
        preview = await epmm.ops.plan_label_add("Field", devices, max_uuids=50)
        planned = len(transport.requests)
        assert puts(transport) == []
        report = await epmm.ops.run_plan(preview)
    assert (preview.action, preview.how, preview.destructive) == (
        "label_add", "label-membership", False)
    assert preview.chunk_sizes == [50] * 24 + [34] and report.all_succeeded
    sent = sorted((r.method, r.url.removeprefix(BASE), r.body) for r in puts(transport))
    assert sent == sorted((p.method, p.target, p.request.json) for p in preview.requests)
    assert all(p.target == "/api/v2/devices/labels/Field/add?adminDeviceSpaceId=4"
               for p in preview.requests)
    assert len(transport.requests) == planned + 25  # the run looks nothing up again


# -- halting, the journal, resume ----------------------------------------------------------


@pytest.mark.parametrize("trial", range(6))
async def test_closing_the_stream_midway_then_resuming(trial: int, tmp_path: Path) -> None:
    rng = random.Random(100 + trial)
    devices = [uuid_of(i) for i in range(rng.randint(500, 3_000))]
    server = Server(cap=rng.randint(5, 150), delay=0.002)
    journal = tmp_path / "labels.journal"
    settings = JobSettings(journal=journal, concurrency=rng.randint(1, 4))
    transport, epmm = setup(server)
    seen: list[Outcome] = []
    async with epmm:
        stream = epmm.ops.stream_label_add("Field", devices, settings=settings)
        stop_after = rng.randint(1, len(devices) // 2)
        async for outcome in stream:
            seen.append(outcome)
            if len(seen) >= stop_after:
                break
        at_close = len(transport.requests)
        await stream.aclose()
        await asyncio.sleep(0.05)
        assert len(transport.requests) == at_close  # no request after the close
    assert len({o.device for o in seen}) == len(seen)
    first = Counter(u for piece in server.accepted for u in piece)
    server.accepted.clear()
    transport, epmm = setup(server)
    async with epmm:
        report = await epmm.ops.label_add("Field", devices, settings=settings)
    by_device = one_each(report.outcomes, devices)
    assert all(o.status is S for o in by_device.values())
    resent = {u for r in puts(transport) for u in uuids_in(r)}
    assert not resent & set(first)  # what the server took is not sent again
    assert {d for d, o in by_device.items() if o.from_journal} == set(first)


@pytest.mark.parametrize("trial", range(4))
async def test_a_stop_midway_gives_every_device_one_outcome(trial: int) -> None:
    rng = random.Random(200 + trial)
    stop = anyio.Event()
    after = rng.randint(1, 20)
    server = Server(cap=rng.randint(10, 120), delay=0.001)
    server.hook.append(lambda count: stop.set() if count == after else None)
    devices = [uuid_of(i) for i in range(3_000)]
    transport, epmm = setup(server)
    async with epmm:
        report = await epmm.ops.label_add(
            "Field", devices, settings=JobSettings(stop=stop, concurrency=rng.randint(1, 4)))
    by_device = one_each(report.outcomes, devices)
    assert len(puts(transport)) == after  # nothing left after the stop
    accepted = {u for piece in server.accepted for u in piece}
    assert {d for d, o in by_device.items() if o.status is S} == accepted
    assert {o.status for d, o in by_device.items() if d not in accepted} == {C}


@pytest.mark.parametrize("trial", range(5))
async def test_a_crash_resumes_without_resending_what_succeeded(trial: int, tmp_path: Path) -> None:
    """The journal copied while the job runs is the journal a kill leaves behind."""
    rng = random.Random(300 + trial)
    devices = [uuid_of(i) for i in range(rng.randint(1_000, 5_000))]
    journal, crashed = tmp_path / "run.journal", tmp_path / "crashed.journal"
    server = Server(cap=rng.randint(3, 140), failing=set(rng.sample(devices, 20)), all_ok=True)
    # Killed once the server has taken this many devices: more than the two chunks in flight
    # (the default concurrency), so a chunk's outcomes have been journalled.
    crash_at = rng.randint(2 * M + 1, len(devices) // 2)

    def crash(_: int) -> None:
        if not crashed.exists() and sum(map(len, server.accepted)) >= crash_at:
            shutil.copy(journal, crashed)

    server.hook.append(crash)
    _, epmm = setup(server)
    async with epmm:
        await epmm.ops.label_add("Field", devices, settings=JobSettings(journal=journal))
    assert crashed.exists()
    done = {d for d, e in Journal.read(crashed).entries.items() if e.status == "succeeded"}
    assert done
    server.accepted.clear()
    _, epmm = setup(server)
    async with epmm:
        report = await epmm.ops.label_add("Field", devices, settings=JobSettings(journal=crashed))
    by_device = one_each(report.outcomes, devices)
    resent = Counter(u for piece in server.accepted for u in piece)
    assert not done & set(resent) and set(resent.values()) <= {1}
    assert set(resent) | done == set(devices)
    assert {d for d, o in by_device.items() if o.status is F} == server.failing


async def test_unknown_devices_are_sent_again_on_resume(tmp_path: Path) -> None:
    devices = [uuid_of(i) for i in range(300)]
    journal = tmp_path / "j"
    _, epmm = setup(Canned.json({"successful": True}),
                    Canned.json({"messages": ["gateway"]}, status=502))
    async with epmm:
        first = await epmm.ops.label_add("Field", devices, check_label=False,
                                         settings=JobSettings(journal=journal, concurrency=1))
    assert (first.count(S), first.count(U)) == (100, 200)
    server = Server()
    _, epmm = setup(server)
    async with epmm:
        second = await epmm.ops.label_add("Field", devices, check_label=False,
                                          settings=JobSettings(journal=journal))
    assert second.all_succeeded
    assert sorted(u for piece in server.accepted for u in piece) == sorted(devices[100:])


# -- the surface ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["label_add", "label_remove"])
def test_stream_plan_and_report_take_the_same_arguments(name: str) -> None:
    signatures = [inspect.signature(getattr(Operations, f"{prefix}{name}"))
                  for prefix in ("stream_", "plan_", "")]
    assert len({tuple(s.parameters) for s in signatures}) == 1
    assert signatures[0].parameters["max_uuids"].default == M
    assert [s.return_annotation for s in signatures] == [
        "AsyncGenerator[Outcome, None]", "JobPreview", "BulkReport"]
