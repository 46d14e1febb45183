"""The plan of a job (``epmm.ops.plan_*``): laid out by the code the run uses, nothing sent, and
the run of a plan sends exactly its requests."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from epmm_async import BulkAction, EpmmClient, MacAddress, ValidationError
from epmm_async.core import requests
from epmm_async.core.requests import API_PREFIX
from epmm_async.enums import MessageMode
from epmm_async.ops import JobPreview, JobSettings, OutcomeStatus, PlannedRequest
from epmm_async.ops.outcomes import collect
from epmm_async.simulator import Simulator

MakeClient = Callable[..., EpmmClient]
UNKNOWN_MAC = "02:00:00:00:00:01"


def _active(sim: Simulator, n: int, *, ios: bool | None = None) -> list[str]:
    found = []
    for uuid, d in sim.fleet.devices.items():
        if d.status.value != "ACTIVE" or (ios is not None and (d.kind == "ios") != ios):
            continue
        found.append(uuid)
        if len(found) == n:
            break
    return found


def _planned(preview: JobPreview) -> Counter[tuple[str, str, str]]:
    """(method, path, raw query) of every planned request, as the simulator records them."""
    return Counter(
        (r.method, API_PREFIX + r.request.path, r.request.query) for r in preview.requests
    )


def _received(sim: Simulator, after: int = 0, *, path: str = "") -> Counter[tuple[str, str, str]]:
    return Counter(
        (r.method, r.path, r.query) for r in sim.received.requests[after:]
        if r.path.startswith(path)
    )


async def test_a_bulk_run_sends_exactly_the_planned_requests(
    sim: Simulator, epmm: EpmmClient
) -> None:
    uuids = list(sim.fleet.devices)[:450]
    preview = await epmm.ops.plan_bulk("LOCK", [u.upper() for u in uuids] + uuids)
    # Planned, not sent: not even a read.
    assert sim.received.requests == []
    assert preview.action == "lock" and preview.how == "bulk"
    assert preview.devices == tuple(uuids)  # validated, lower-cased, deduplicated, in order
    assert len(preview.requests) == 3 and sum(preview.chunk_sizes) == 450
    assert preview.chunk_sizes[0] > preview.chunk_sizes[-1]
    budget = epmm.request_budget()
    assert all(r.request_line_length() <= budget for r in preview.requests)
    sample = preview.sample
    assert isinstance(sample, PlannedRequest)
    assert sample.method == "POST"
    assert sample.target.startswith("/api/v1/dm/bulk/devices/LOCK?deviceUuids=")
    assert sample.devices == tuple(uuids[: len(sample.devices)])
    assert sim.password not in sample.target and sim.username not in sample.target
    # The chunks are the chunker's, over the same budget.
    assert [list(r.devices) for r in preview.requests] == [
        list(c) for c in epmm.ops._chunker(  # the run's own chunker
            lambda c: requests.bulk_action("LOCK", c), max_ids=20_000, line_limit=8190,
        )(uuids)
    ]

    report = await epmm.ops.run_plan(preview)
    assert report.total == 450
    assert {o.action for o in report.outcomes} == {"lock"}
    assert _received(sim) == _planned(preview)


async def test_a_per_device_run_sends_exactly_the_planned_requests(
    sim: Simulator, epmm: EpmmClient
) -> None:
    uuids = _active(sim, 25)
    preview = await epmm.ops.plan_fan_out("lock", uuids, reason="Lost on a train")
    assert sim.received.requests == []
    assert preview.how == "per-device" and preview.chunk_sizes == [1] * 25
    assert preview.sample is not None
    assert preview.sample.target == (
        f"/api/v1/dm/devices/lock/{uuids[0]}?Reason=Lost%20on%20a%20train")
    assert preview.sample.method == "PUT"

    report = await epmm.ops.run_plan(preview)
    assert report.count(OutcomeStatus.SUCCEEDED) == 25
    assert _received(sim) == _planned(preview)
    assert sum(_received(sim).values()) == 25


async def test_stream_and_plan_of_the_same_job_agree(sim: Simulator, epmm: EpmmClient) -> None:
    uuids = _active(sim, 12)
    preview = await epmm.ops.plan_fan_out("wipe", uuids)
    await collect(epmm.ops.stream_fan_out("wipe", uuids))
    assert _received(sim) == _planned(preview)
    before = len(sim.received.requests)
    others = list(sim.fleet.devices)[100:400]
    bulk = await epmm.ops.plan_bulk(BulkAction.WAKEUP_DEVICE, others, max_uuids=100)
    assert bulk.chunk_sizes == [100, 100, 100]
    await collect(epmm.ops.stream_bulk(BulkAction.WAKEUP_DEVICE, others, max_uuids=100))
    assert _received(sim, before) == _planned(bulk)


async def test_macs_are_looked_up_once_when_planning(sim: Simulator, epmm: EpmmClient) -> None:
    uuids = _active(sim, 3)
    named_twice = sim.fleet.devices[uuids[0]].wifi_mac
    by_mac = sim.fleet.devices[_active(sim, 4)[3]]
    targets = [*uuids, MacAddress(named_twice), MacAddress(by_mac.wifi_mac),
               MacAddress(UNKNOWN_MAC)]
    preview = await epmm.ops.plan_fan_out("wakeup", targets)
    # Mixed uuids and MACs: each MAC is looked up (reads only) so one device gets one request.
    assert preview.lookups == 3
    assert sum(_received(sim, path="/api/v1/dm/devices/mac/").values()) == 3
    assert preview.devices == (*uuids, by_mac.uuid)
    assert [o.device for o in preview.early] == [str(MacAddress(UNKNOWN_MAC))]
    assert preview.early[0].status is OutcomeStatus.INVALID
    assert preview.total == 5
    assert len(sim.ledger) == 0
    after_plan = len(sim.received.requests)

    report = await epmm.ops.run_plan(preview)
    assert report.total == 5
    assert report.count(OutcomeStatus.INVALID) == 1
    # The run does not look them up again, and sends the plan's requests.
    assert _received(sim, after_plan) == _planned(preview)


async def test_all_macs_per_device_plan_the_mac_endpoints(
    sim: Simulator, epmm: EpmmClient
) -> None:
    macs = [MacAddress(sim.fleet.devices[u].wifi_mac) for u in _active(sim, 3)]
    preview = await epmm.ops.plan_fan_out("wakeup", macs)
    assert preview.lookups == 0 and sim.received.requests == []
    assert preview.sample is not None
    assert preview.sample.target == f"/api/v1/dm/devices/wakeup/mac/{macs[0]}"
    await epmm.ops.run_plan(preview)
    assert _received(sim) == _planned(preview)


async def test_locate_now_plan_knows_ios_records(sim: Simulator, epmm: EpmmClient) -> None:
    android = _active(sim, 2, ios=False)
    ios = await epmm.devices.get(_active(sim, 1, ios=True)[0])
    preview = await epmm.ops.plan_locate_now([*android, ios], deadline=2, interval=0.5,
                                             jitter=0.0)
    assert preview.how == "locate-now"
    assert preview.max_polls == 4
    queries = {r.devices[0]: r.request.query for r in preview.requests}
    assert queries[android[0]] == "locatenow=true"
    # Known to be iOS by its record: one plain locate, never locate-now.
    assert queries[ios.uuid.lower()] == ""


async def test_send_message_plan_by_mac(sim: Simulator, epmm: EpmmClient) -> None:
    macs = [MacAddress(sim.fleet.devices[u].wifi_mac) for u in _active(sim, 5)]
    preview = await epmm.ops.plan_send_message(macs, message="Please update",
                                               mode=MessageMode.PNS)
    assert preview.how == "send-message" and preview.chunk_sizes == [5]
    assert preview.sample is not None
    assert preview.sample.target.startswith(
        "/api/v1/dm/bulk/mac/sendmessage?mode=pns&message=Please%20update"
        "&deviceWiFiMacAddress=")
    await epmm.ops.run_plan(preview)
    assert _received(sim) == _planned(preview)


async def test_plan_each_with_the_callers_request(sim: Simulator, epmm: EpmmClient) -> None:
    uuids = _active(sim, 3, ios=True)
    preview = await epmm.ops.plan_each(
        "roaming", uuids, lambda u: epmm.devices.set_roaming(str(u), voice=False, data=False),
        request=lambda u: requests.enable_roaming(str(u), voice=False, data=False),
        job_params={"voice": "False", "data": "False"},
    )
    assert preview.action == "roaming" and len(preview.requests) == 3
    report = await epmm.ops.run_plan(preview)
    assert report.total == 3
    assert _received(sim) == _planned(preview)


async def test_planning_validates_like_the_run(sim: Simulator, epmm: EpmmClient) -> None:
    with pytest.raises(ValidationError, match="malformed"):
        await epmm.ops.plan_bulk("LOCK", ["not-a-uuid"])
    with pytest.raises(ValidationError, match="reason"):
        await epmm.ops.plan_fan_out("lock", _active(sim, 1))
    with pytest.raises(ValidationError, match="tighten"):
        await epmm.ops.plan_bulk("LOCK", _active(sim, 1), max_uuids=50_000)
    with pytest.raises(ValidationError, match="not a mix"):
        await epmm.ops.plan_send_message(
            [*_active(sim, 1), MacAddress(UNKNOWN_MAC)], message="x", mode="pns")
    with pytest.raises(ValidationError, match="JobPreview"):
        epmm.ops.stream_plan("lock")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="cannot be run"):
        JobPreview(action="lock", how="bulk", devices=(), requests=()).start()
    assert sim.received.requests == []
    empty = await epmm.ops.plan_bulk("LOCK", [])
    assert empty.requests == () and empty.sample is None and empty.total == 0


async def test_a_plan_run_with_its_journal_and_run_again(
    sim: Simulator, epmm: EpmmClient, tmp_path: Path
) -> None:
    uuids = _active(sim, 6)
    journal = tmp_path / "wipe.journal"
    first = await epmm.ops.plan_fan_out("wipe", uuids[:2], reason="lost",
                                        settings=JobSettings(journal=journal))
    await epmm.ops.run_plan(first)
    preview = await epmm.ops.plan_fan_out("wipe", uuids, reason="lost",
                                          settings=JobSettings(journal=journal))
    # The plan is of a fresh run; the journal carries over what an earlier run did.
    assert len(preview.requests) == 6 and preview.destructive
    before = len(sim.received.requests)
    report = await epmm.ops.run_plan(preview)
    assert sum(o.from_journal for o in report.outcomes) == 2
    sent = _received(sim, before)
    assert sum(sent.values()) == 4 and set(sent) <= set(_planned(preview))
    # A preview may be run again: everything is in the journal now, nothing is resent.
    before = len(sim.received.requests)
    again = await epmm.ops.run_plan(preview)
    assert all(o.from_journal for o in again.outcomes) and again.total == 6
    assert len(sim.received.requests) == before
    assert set(sim.ledger.actions("WIPE").values()) == {1}


async def test_a_stopped_plan_run_cancels_the_rest(sim: Simulator, epmm: EpmmClient) -> None:
    stop = anyio.Event()
    preview = await epmm.ops.plan_fan_out("wakeup", _active(sim, 40),
                                          settings=JobSettings(stop=stop, concurrency=1))
    seen = []
    async with contextlib.aclosing(epmm.ops.stream_plan(preview)) as outcomes:
        async for outcome in outcomes:
            seen.append(outcome)
            if len(seen) == 3:
                stop.set()
    assert len(seen) == 40
    assert sum(o.status is OutcomeStatus.CANCELLED for o in seen) >= 30
