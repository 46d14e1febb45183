"""Bulk jobs against the simulator: chunking, outcomes, the ledger."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest

from epmm_async import BulkAction, EpmmClient, ValidationError
from epmm_async.core import requests
from epmm_async.ops import JobSettings, OutcomeStatus, Progress, plan_chunks
from epmm_async.simulator import Simulator

MakeClient = Callable[..., EpmmClient]
UNKNOWN = [f"00000000-0000-4000-8000-{i:012d}" for i in range(7)]


async def test_50k_uuids_locked_in_the_fewest_requests(make_client: MakeClient) -> None:
    async with Simulator(devices=50_000, seed=3) as sim, make_client(sim) as epmm:
        uuids = list(sim.fleet.devices)
        lockable = {u for u, d in sim.fleet.devices.items() if d.status.value not in (
            "RETIRED", "WIPED")}
        sim.stats.reset()
        report = await epmm.ops.bulk("LOCK", uuids + UNKNOWN)
        assert report.total == len(uuids) + len(UNKNOWN)
        # Fewest requests: the greedy plan under the request budget (the line limit, less
        # the headers the client sends), and no request line over the limit.
        per = len(next(iter(plan_chunks(
            uuids, lambda c: requests.bulk_action("LOCK", c), max_ids=20_000,
            max_request_line=epmm.request_budget()))))
        assert sim.stats.by_path["/api/v1/dm/bulk/devices/{action}"] == math.ceil(
            (len(uuids) + len(UNKNOWN)) / per
        )
        assert sim.stats.max_request_line <= 8190
        assert 414 not in sim.stats.by_status
        locks = sim.ledger.actions("LOCK")
        assert set(locks) == lockable
        assert set(locks.values()) == {1}
        by_device = {o.device: o for o in report.outcomes}
        for u in UNKNOWN:
            assert by_device[u].status is OutcomeStatus.INVALID
        for u in lockable:
            assert by_device[u].status is OutcomeStatus.SUCCEEDED
        assert report.count(OutcomeStatus.SUCCEEDED) == len(lockable)
        # One spelling of the action in both modes: the registry's name.
        assert {o.action for o in report.outcomes} == {"lock"}


async def test_unlock_outcomes_carry_passcodes(sim: Simulator, epmm: EpmmClient) -> None:
    active = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"][:40]
    report = await epmm.ops.bulk(BulkAction.UNLOCK, active)
    assert report.total == 40
    assert all(o.passcode for o in report.outcomes)
    # Passcode NA (an unmanaged iOS device, an offline Android one): unlock not possible.
    not_possible = {
        u for u in active
        if (sim.fleet.devices[u].kind == "ios" and not sim.fleet.devices[u].mdm_managed)
        or (sim.fleet.devices[u].kind == "android" and not sim.fleet.devices[u].online)
    }
    assert not_possible, "the sample should include a device that cannot be unlocked"
    for o in report.outcomes:
        if o.device in not_possible:
            assert (o.status, o.reason, o.passcode) == (
                OutcomeStatus.INVALID, "unlock_not_possible", "NA")
        else:
            assert o.status is OutcomeStatus.SUCCEEDED and o.passcode != "NA"
            assert o.action == "unlock"


async def test_count_limit_splits_and_form_body(sim: Simulator, epmm: EpmmClient) -> None:
    uuids = list(sim.fleet.devices)[:250]
    sim.stats.reset()
    report = await epmm.ops.bulk("WAKEUP_DEVICE", uuids, max_uuids=100)
    assert report.total == 250
    assert sim.stats.by_path["/api/v1/dm/bulk/devices/{action}"] == 3
    sim.stats.reset()
    report = await epmm.ops.bulk("WAKEUP_DEVICE", uuids, form_body=True)
    assert sim.stats.by_path["/api/v1/dm/bulk/devices/{action}"] == 1
    assert report.total == 250


async def test_input_is_validated_and_deduplicated_before_sending(
    sim: Simulator, epmm: EpmmClient
) -> None:
    good = list(sim.fleet.devices)[:3]
    sim.stats.reset()
    with pytest.raises(ValidationError, match="#2"):
        await epmm.ops.bulk("LOCK", [good[0], "not-a-uuid", good[1]])
    assert sim.stats.requests_total == 0

    async def source():  # an async iterable with duplicates
        for u in good + good:
            yield u

    report = await epmm.ops.bulk("LOCK", source())
    assert sorted(o.device for o in report.outcomes) == sorted(good)


async def test_progress_reaches_the_total(sim: Simulator, epmm: EpmmClient) -> None:
    events: list[Progress] = []
    uuids = list(sim.fleet.devices)[:300]
    await epmm.ops.bulk("LOCK", uuids, settings=JobSettings(progress=events.append))
    assert events[-1].done == events[-1].total == 300
    assert sum(events[-1].counts.values()) == 300
    assert all(a.done <= b.done for a, b in itertools.pairwise(events))


async def test_send_message_in_chunks(sim: Simulator, epmm: EpmmClient) -> None:
    uuids = list(sim.fleet.devices)[:400] + UNKNOWN[:2]
    report = await epmm.ops.send_message(uuids, message="Please update iOS", mode="pns")
    assert report.total == 402
    invalid = {o.device for o in report.by_status(OutcomeStatus.INVALID)}
    assert set(UNKNOWN[:2]) <= invalid
    assert sim.ledger.actions("MESSAGE").keys() <= set(uuids)


async def test_job_and_chunk_events_are_logged(sim: Simulator, epmm: EpmmClient) -> None:
    import structlog

    uuids = list(sim.fleet.devices)[:250]
    with structlog.testing.capture_logs() as events:
        await epmm.ops.bulk("WAKEUP_DEVICE", uuids, max_uuids=100)
    names = [e["event"] for e in events]
    assert names.count("job.start") == 1 and names.count("job.end") == 1
    chunks = [e for e in events if e["event"] == "bulk.chunk"]
    assert sorted(e["devices"] for e in chunks) == [50, 100, 100]
    end = next(e for e in events if e["event"] == "job.end")
    assert end["requests"] == 3 and end["devices"] == 250
