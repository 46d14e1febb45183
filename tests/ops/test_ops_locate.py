"""Locate-now over many devices: fresh, stale and unsupported, with bounded polling."""

from __future__ import annotations

from collections.abc import Callable

from epmm_async import EpmmClient
from epmm_async.ops import Freshness, OutcomeStatus, Waiter
from epmm_async.simulator import Simulator

MakeClient = Callable[..., EpmmClient]


async def test_locate_now_over_500_devices(make_client: MakeClient) -> None:
    # time_scale 0.01: the simulator's 2-60 s fix delays become 20-600 ms.
    async with Simulator(devices=900, seed=21, time_scale=0.01) as sim:
        targets = [
            u for u, d in sim.fleet.devices.items()
            if d.status.value == "ACTIVE" and d.kind in ("android", "ios", "android-pda")
        ][:500]
        assert len(targets) == 500
        kinds = {u: sim.fleet.devices[u] for u in targets}
        offline = {u for u, d in kinds.items() if not d.online and d.kind != "ios"}
        ios = {u for u, d in kinds.items() if d.kind == "ios"}
        assert offline and ios
        deadline, interval, jitter = 1.5, 0.1, 0.2
        async with make_client(sim, connection_limit=64) as epmm:
            sim.stats.reset()
            report = await epmm.ops.locate_now(
                targets, deadline=deadline, interval=interval, jitter=jitter, concurrency=32
            )
        assert report.total == 500
        assert report.count(OutcomeStatus.SUCCEEDED) == 500
        by = {o.device: o for o in report.outcomes}
        for u in ios:
            assert by[u].freshness is Freshness.UNSUPPORTED
            assert by[u].polls == 0
        for u in offline:
            assert by[u].freshness is Freshness.STALE
        fresh = {u for u, o in by.items() if o.freshness is Freshness.FRESH}
        assert fresh == set(targets) - ios - offline
        for u in fresh:
            # The fix is the one the simulator produced after the request.
            fix = sim.fleet.devices[u].current_fix()
            assert fix is not None and by[u].location is not None
            assert by[u].location.latitude == fix.latitude
        # Polls are bounded by the deadline and the interval.
        bound = Waiter(interval=interval, deadline=deadline, jitter=jitter).max_polls
        assert max(o.polls for o in report.outcomes) <= bound
        located = sim.stats.by_path["/api/v1/dm/devices/locate/{uuid}"]
        assert located <= 500 * (1 + bound)
        assert sim.stats.max_in_flight <= 32


async def test_waiter_gives_up_with_the_last_value() -> None:
    import pytest

    from epmm_async import WaiterTimeout

    calls = 0

    async def poll() -> int:
        nonlocal calls
        calls += 1
        return calls

    waiter = Waiter(interval=0.01, deadline=0.1, jitter=0.0)
    with pytest.raises(WaiterTimeout) as info:
        await waiter.wait(poll, lambda v: v > 1000)
    assert info.value.last == calls  # type: ignore[attr-defined]
    assert calls <= waiter.max_polls
    target = calls + 2
    value, polls = await Waiter(interval=0.01, deadline=1).wait(poll, lambda v: v >= target)
    assert polls == 2 and value == target
