"""Pre-flight skips (``JobSettings.skip``): the devices are reported SKIPPED with their
reason among the outcomes known before the run, and never sent."""

from __future__ import annotations

from pathlib import Path

from epmm_async import EpmmClient
from epmm_async.enums import BulkAction, DeviceStatus
from epmm_async.ops import JobSettings, OutcomeStatus
from epmm_async.simulator import Simulator


def _active(sim: Simulator, n: int) -> list[str]:
    return sorted(d.uuid for d in sim.fleet.devices.values()
                  if d.status is DeviceStatus.ACTIVE)[:n]


async def test_skip_in_bulk_plan_and_run(sim: Simulator, epmm: EpmmClient) -> None:
    uuids = _active(sim, 12)
    skip = {uuids[0].upper(): "wiped", uuids[5]: "retired"}
    settings = JobSettings(skip=skip)
    preview = await epmm.ops.plan_bulk(BulkAction.LOCK, uuids, settings=settings)
    assert set(preview.devices) == set(uuids) - {uuids[0], uuids[5]}
    assert {(o.device, o.status, o.reason) for o in preview.early} == {
        (uuids[0], OutcomeStatus.SKIPPED, "wiped"), (uuids[5], OutcomeStatus.SKIPPED, "retired")}
    assert preview.total == 12
    before = len(sim.received.requests)
    report = await epmm.ops.run_plan(preview)
    assert report.counts == {"succeeded": 10, "skipped": 2}
    assert report.aborted is None
    sent = "".join(r.path + "?" + r.query for r in sim.received.requests[before:])
    assert uuids[0] not in sent and uuids[5] not in sent and uuids[1] in sent


async def test_skip_in_fan_out_stream(sim: Simulator, epmm: EpmmClient) -> None:
    uuids = _active(sim, 4)
    before = len(sim.received.requests)
    outcomes = [o async for o in epmm.ops.stream_fan_out(
        "lock", uuids, reason="r", settings=JobSettings(skip={uuids[2]: "wiped"}))]
    by = {o.device: o for o in outcomes}
    assert by[uuids[2]].status is OutcomeStatus.SKIPPED and by[uuids[2]].reason == "wiped"
    assert {o.status for d, o in by.items() if d != uuids[2]} == {OutcomeStatus.SUCCEEDED}
    assert all(uuids[2] not in r.path for r in sim.received.requests[before:])


async def test_the_journal_wins_over_a_preflight_skip(sim: Simulator, epmm: EpmmClient,
                                                      tmp_path: Path) -> None:
    # Found by review: a resumed wipe whose devices are wiped now (by the first run) was
    # reported SKIPPED "wiped" instead of carried over as SUCCEEDED, and a device the first
    # run left pending read SKIPPED instead of UNKNOWN.
    uuids = _active(sim, 4)
    journal = tmp_path / "wipe.journal"
    first = [o async for o in epmm.ops.stream_fan_out(
        "wipe", uuids[:2], reason="r", settings=JobSettings(journal=journal))]
    assert {o.status for o in first} == {OutcomeStatus.SUCCEEDED}
    before = len(sim.received.requests)
    again = [o async for o in epmm.ops.stream_fan_out(
        "wipe", uuids, reason="r",
        settings=JobSettings(journal=journal, skip={uuids[0]: "wiped", uuids[1]: "wiped"}))]
    by = {o.device: o for o in again}
    assert by[uuids[0]].status is OutcomeStatus.SUCCEEDED and by[uuids[0]].from_journal
    assert by[uuids[1]].status is OutcomeStatus.SUCCEEDED and by[uuids[1]].from_journal
    assert {by[u].status for u in uuids[2:]} == {OutcomeStatus.SUCCEEDED}
    sent = [r.path for r in sim.received.requests[before:]]
    assert not any(uuids[0] in p or uuids[1] in p for p in sent)
