"""Pre-flight skips (``JobSettings.skip``): the devices are reported SKIPPED with their
reason among the outcomes known before the run, and never sent."""

from __future__ import annotations

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
