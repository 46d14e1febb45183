"""Per-device fan-out: the concurrency cap, outcomes, aborts and cancellation."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing

import anyio
import pytest

from epmm_async import EpmmClient, ValidationError
from epmm_async.ops import JobSettings, OutcomeStatus
from epmm_async.simulator import Faults, Simulator

MakeClient = Callable[..., EpmmClient]


def active(sim: Simulator, n: int | None = None) -> list[str]:
    found = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"]
    return found[:n] if n is not None else found


async def test_2000_locks_never_exceed_the_cap(make_client: MakeClient) -> None:
    async with Simulator(devices=2600, seed=5, faults=Faults(latency=0.05)) as sim:
        targets = active(sim, 2000)
        assert len(targets) == 2000
        async with make_client(sim, connection_limit=200) as epmm:
            sim.stats.reset()
            report = await epmm.ops.fan_out("lock", targets, reason="Lost", concurrency=64)
        assert report.count(OutcomeStatus.SUCCEEDED) == 2000
        # The cap is reached and never exceeded (the simulator counts requests in flight).
        assert sim.stats.max_in_flight == 64
        assert set(sim.ledger.actions("LOCK").values()) == {1}
        assert len(sim.ledger.actions("LOCK")) == 2000


async def test_each_device_one_outcome_with_mixed_results(
    sim: Simulator, epmm: EpmmClient
) -> None:
    wiped = [u for u, d in sim.fleet.devices.items() if d.status.value == "WIPED"][:3]
    targets = active(sim, 20) + wiped + ["00000000-0000-4000-8000-000000000001"]
    report = await epmm.ops.fan_out("lock", targets, reason="audit", concurrency=8)
    assert sorted(o.device for o in report.outcomes) == sorted(targets)
    by = {o.device: o for o in report.outcomes}
    unknown = by["00000000-0000-4000-8000-000000000001"]
    assert (unknown.status, unknown.reason) == (OutcomeStatus.INVALID, "not_found")
    for u in wiped:  # a wiped device accepts only retire: the server refuses it, 400
        assert (by[u].status, by[u].reason, by[u].http_status) == (
            OutcomeStatus.INVALID, "wiped", 400)
    assert {o.action for o in report.outcomes} == {"lock"}
    assert report.count(OutcomeStatus.SUCCEEDED) == 20
    assert all(o.attempts >= 1 and o.elapsed >= 0 for o in report.outcomes)


async def test_unlock_by_mac_carries_passcode(sim: Simulator, epmm: EpmmClient) -> None:
    from epmm_async import MacAddress

    macs = [MacAddress(sim.fleet.devices[u].wifi_mac) for u in active(sim, 5)]
    report = await epmm.ops.fan_out("unlock", macs, reason="forgot passcode")
    assert report.count(OutcomeStatus.SUCCEEDED) == 5
    assert all(o.passcode for o in report.outcomes)


async def test_bad_input_raises_before_any_request(sim: Simulator, epmm: EpmmClient) -> None:
    sim.stats.reset()
    with pytest.raises(ValidationError):
        await epmm.ops.fan_out("lock", active(sim, 2))  # lock needs a reason
    with pytest.raises(ValidationError):
        await epmm.ops.fan_out("lock", active(sim, 2), reason="x" * 513)
    with pytest.raises(ValidationError):
        await epmm.ops.fan_out("explode", active(sim, 2))
    with pytest.raises(ValidationError, match="#3"):
        await epmm.ops.fan_out("wakeup", [*active(sim, 2), "nope"])
    assert sim.stats.requests_total == 0


async def test_authentication_failure_aborts_and_accounts_for_everyone(sim: Simulator) -> None:
    targets = active(sim, 50)
    async with EpmmClient(sim.url, username=sim.username, password="wrong") as epmm:
        sim.stats.reset()
        report = await epmm.ops.fan_out("wakeup", targets, concurrency=4)
    assert report.total == 50
    assert report.aborted and "401" in report.aborted
    assert report.count(OutcomeStatus.SKIPPED) >= 40
    assert report.count(OutcomeStatus.SUCCEEDED) == 0
    assert sim.stats.requests_total <= 8  # in-flight ones only, then it stops


async def test_server_down_aborts_after_consecutive_outages(
    sim: Simulator, make_client: MakeClient
) -> None:
    targets = active(sim, 60)
    sim.set_faults(Faults(error_rate=1.0, error_statuses=(503,), retry_after=0.001))
    async with make_client(sim) as epmm:
        report = await epmm.ops.fan_out(
            "wakeup", targets, settings=JobSettings(concurrency=2, max_consecutive_outages=5)
        )
    assert report.total == 60
    assert report.aborted and "down" in report.aborted
    assert report.count(OutcomeStatus.FAILED) >= 5
    assert report.count(OutcomeStatus.SKIPPED) >= 40


async def test_stop_event_cancels_the_rest_gracefully(
    make_client: MakeClient,
) -> None:
    async with Simulator(devices=400, seed=2, faults=Faults(latency=0.02)) as sim:
        targets = active(sim, 200)
        stop = anyio.Event()
        seen = 0
        async with make_client(sim) as epmm:
            outcomes = []
            stream = epmm.ops.stream_fan_out(
                "wakeup", targets, settings=JobSettings(concurrency=4, stop=stop)
            )
            async with aclosing(stream) as items:
                async for outcome in items:
                    outcomes.append(outcome)
                    seen += 1
                    if seen == 20:
                        stop.set()
        assert sorted(o.device for o in outcomes) == sorted(targets)
        done = [o for o in outcomes if o.status is OutcomeStatus.SUCCEEDED]
        cancelled = [o for o in outcomes if o.status is OutcomeStatus.CANCELLED]
        assert 20 <= len(done) <= 20 + 4 + 4  # what was in flight or buffered finished
        assert len(done) + len(cancelled) == 200
        assert len(sim.ledger.actions("WAKEUP")) == len(done)


async def test_hard_cancel_lets_in_flight_finish_and_journals_everyone(
    make_client: MakeClient, tmp_path: object
) -> None:
    from pathlib import Path

    from epmm_async.ops import Journal

    journal = Path(str(tmp_path)) / "job.journal"
    async with Simulator(devices=400, seed=2, faults=Faults(latency=0.05)) as sim:
        targets = active(sim, 200)
        async with make_client(sim) as epmm:
            with anyio.move_on_after(0.3):
                await epmm.ops.fan_out(
                    "wipe", targets, settings=JobSettings(concurrency=8, journal=str(journal))
                )
        await anyio.sleep(0.2)  # nothing more arrives after the cancel
        wiped = sim.ledger.actions("WIPE")
    snapshot = Journal.read(journal)
    assert dict(snapshot.identity) == {"action": "wipe", "reason": ""}
    counts = dict(snapshot.counts)
    assert sum(counts.values()) == 200
    assert counts.get("succeeded", 0) == len(wiped)  # every request on the wire was recorded
    # Never sent, or halted between attempts none of which may have applied: both are
    # safe to send on resume (the latter is journalled FAILED over its pending mark).
    assert counts.get("cancelled", 0) + counts.get("failed", 0) == 200 - len(wiped)
    assert "pending" not in counts
    for device, entry in snapshot.entries.items():
        assert entry.outcome is not None
        if device in wiped:
            assert entry.outcome.status is OutcomeStatus.SUCCEEDED
        else:  # never sent, or not applied: safe to send on resume
            assert (entry.outcome.status, entry.outcome.reason) in (
                (OutcomeStatus.CANCELLED, "not_sent"), (OutcomeStatus.FAILED, "interrupted"))


async def test_a_consumer_that_stops_early_bounds_the_extra_work(
    make_client: MakeClient,
) -> None:
    # Without aclosing, the stream is only finalised later; until then at most the requests
    # already on the wire (one per worker) may still complete.
    async with Simulator(devices=400, seed=2, faults=Faults(latency=0.02)) as sim:
        targets = active(sim, 200)
        async with make_client(sim) as epmm:
            seen = 0
            stream = epmm.ops.stream_fan_out(
                "wakeup", targets, settings=JobSettings(concurrency=4)
            )
            async for _ in stream:
                seen += 1
                if seen == 10:
                    break
            await anyio.sleep(0.3)
            applied = len(sim.ledger.actions("WAKEUP"))
            await stream.aclose()
        assert 10 <= applied <= 10 + 4


async def test_each_runs_any_per_device_call(sim: Simulator, epmm: EpmmClient) -> None:
    ios = [u for u in active(sim) if sim.fleet.devices[u].kind == "ios"][:3]
    android = [u for u in active(sim) if sim.fleet.devices[u].kind == "android"][:2]
    report = await epmm.ops.each(
        "roaming", ios + android,
        lambda d: epmm.devices.set_roaming(d, voice=True, data=False),
        job_params={"voice": "True", "data": "False"},
    )
    by = {o.device: o for o in report.outcomes}
    assert all(by[u].status is OutcomeStatus.SUCCEEDED for u in ios)
    # Roaming is iOS only: the server refuses an Android device (400 with its message).
    assert all((by[u].status, by[u].reason, by[u].http_status)
               == (OutcomeStatus.INVALID, "refused", 400) for u in android)
    assert {o.action for o in report.outcomes} == {"roaming"}
    assert set(sim.ledger.actions("ROAMING")) == set(ios)


async def test_stop_during_a_rate_limit_wait_leaves_the_journal_resumable(
    make_client: MakeClient, tmp_path: object
) -> None:
    # Workers take a device, mark it pending, then wait for the job's rate limit; the stop
    # ends those waits before anything is sent. Those devices are CANCELLED, and the journal
    # must agree: a resume sends them their (first) wipe instead of calling them UNKNOWN.
    from pathlib import Path

    from epmm_async.ops import Journal

    journal = Path(str(tmp_path)) / "wipe.journal"
    async with Simulator(devices=100, seed=2) as sim:
        targets = active(sim, 10)
        async with make_client(sim) as epmm:
            stop = anyio.Event()
            outcomes = []
            stream = epmm.ops.stream_fan_out(
                "wipe", targets, rate=0.5, concurrency=4,
                settings=JobSettings(journal=str(journal), stop=stop),
            )
            async with aclosing(stream) as items:
                async for outcome in items:
                    outcomes.append(outcome)
                    stop.set()
            sent = set(sim.received.destructive_counts("WIPE"))
            assert sorted(o.device for o in outcomes) == sorted(targets)
            for o in outcomes:
                if o.device not in sent:
                    assert o.status is OutcomeStatus.CANCELLED, o
            snapshot = Journal.read(journal)
            assert "pending" not in snapshot.counts, dict(snapshot.counts)
            resumed = await epmm.ops.fan_out(
                "wipe", targets, settings=JobSettings(journal=str(journal))
            )
        assert resumed.count(OutcomeStatus.SUCCEEDED) == len(targets), resumed.counts
        assert sim.received.destructive_counts("WIPE") == dict.fromkeys(targets, 1)
        assert sim.received.violations() == []
