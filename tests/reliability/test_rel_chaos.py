"""The chaos suite: many seeded trials that combine faults, stops and journals, and check the
promises on what the simulator received (refused requests included).

Every trial (see ``chaos_support``) checks, naming its seed and plan on failure:

* no device received a destructive request after one that may have been applied
  (``sim.received.violations() == []``), across the run, its resume and any refused run;
* every distinct device got exactly one outcome per run (a device named twice gets one);
  a run cut short (cancelled, broken out of, killed) gave a prefix, and its journal accounts
  for every device it sent a request for;
* no SUCCEEDED that the simulator did not apply, no FAILED/CANCELLED/SKIPPED for a device
  whose request was not certainly refused, nothing resent that the journal carried over;
* no request arrived after a stop, cancel or break returned, and each returned promptly;
* a second run on a held journal, a journal held by another task or process, and a journal
  of another job are each refused with JournalError at once, sending no action request.

``make test`` runs the reduced trials; ``make test-all`` (``-m ''``) adds the full-size ones.
The figures summed over the trials are printed at the end of the module (``-s``) and written
to ``chaos-summary.json`` in pytest's base temporary directory.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import structlog
from chaos_support import FAULT_KINDS, FULL, REDUCED, STOPS, Totals, run_trial

from epmm_async import ClientConfig, EpmmClient, RetryPolicy, Timeouts
from epmm_async.errors import EpmmError, JournalError
from epmm_async.ops import JobSettings, Journal, OutcomeStatus
from epmm_async.simulator import Faults, Simulator
from epmm_async.validation import MacAddress

TOTALS = Totals()
REDUCED_SEEDS = range(48)
FULL_SEEDS = range(1000, 1400)


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    """Debug logs of thousands of requests would cost more than the trials (the suite's
    conftest restores the configuration after each test)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@pytest.fixture(scope="module", autouse=True)
def _summary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    if not TOTALS.counts["trials"]:
        return
    path = tmp_path_factory.getbasetemp() / "chaos-summary.json"
    path.write_text(json.dumps(TOTALS.summary(), indent=2))
    print("\n" + TOTALS.render() + f"\n  (written to {path})")


@pytest.mark.parametrize("seed", REDUCED_SEEDS)
async def test_chaos_trial(seed: int, tmp_path: Path) -> None:
    await run_trial(seed, REDUCED, tmp_path, TOTALS)


@pytest.mark.slow
@pytest.mark.parametrize("seed", FULL_SEEDS)
async def test_chaos_trial_full(seed: int, tmp_path: Path) -> None:
    await run_trial(seed, FULL, tmp_path, TOTALS)


def test_chaos_covered_everything() -> None:
    """The trials that ran tried every fault kind and every way of stopping, and lost
    nothing (runs after the trials, in file order)."""
    counts = TOTALS.counts
    if counts["trials"] < 30:
        pytest.skip("fewer than 30 trials ran (a selection)")
    for kind in FAULT_KINDS:
        assert TOTALS.faults[kind] > 0, (kind, TOTALS.faults)
    assert TOTALS.faults["restart"] > 0
    fired = {key.removeprefix("stop ") for key in TOTALS.plans if key.startswith("stop ")}
    for stop in (*STOPS, "kill"):
        assert stop in fired, (stop, TOTALS.plans)
    for key in ("resumes", "resumes from a copy of the journal file", "resumes in the other mode",
                "subprocess runs killed with SIGKILL", "abandoned streams finalised"):
        assert counts[key] > 0, (key, counts)
    for key in ("second run, same process", "second run, other process",
                "held by another task", "held by another process", "another job"):
        assert TOTALS.refusals[key] > 0, (key, TOTALS.refusals)
    assert counts["violations"] == 0
    assert counts["requests after a run returned"] == 0
    # The floor: at least 30 trials that ran every check in the default run, at
    # least 300 in the full one (jobs refused before sending do not count).
    assert counts["trials (reduced)"] >= 30, counts
    if counts["trials (full)"]:
        assert counts["trials (full)"] >= 300, counts


# -- promises the trials found broken: one minimal reproduction each --------------------------


def _client(sim: Simulator) -> EpmmClient:
    return EpmmClient(
        sim.url,
        username=sim.username,
        password=sim.password,
        config=ClientConfig(
            retry=RetryPolicy(initial_delay=0.005, max_delay=0.05, deadline=5),
            timeouts=Timeouts(connect=1, read=1, total=3),
        ),
    )


def _actions(sim: Simulator, after: int = 0) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.received.requests
            if r.seq > after and "/mac/" not in r.path and r.method != "GET"]


async def test_a_stop_set_before_the_job_starts_sends_nothing() -> None:
    """A ``stop`` event that is already set when the job starts (a Ctrl-C during the
    preparation) must send nothing. Found by the trials (stop point ``start``): each worker
    sent one wipe before the stop watcher ran."""
    async with Simulator(devices=40, seed=3, time_scale=0.002) as sim, _client(sim) as epmm:
        uuids = list(sim.fleet.devices)[:10]
        stop = anyio.Event()
        stop.set()
        outcomes = [o async for o in epmm.ops.stream_fan_out(
            "wipe", uuids, concurrency=4, settings=JobSettings(stop=stop))]
        assert {o.status for o in outcomes} == {OutcomeStatus.CANCELLED}, Counter(
            o.status.value for o in outcomes)
        assert _actions(sim) == []


async def test_a_stop_ends_the_mac_lookup_waits() -> None:
    """``stop`` while the job resolves MACs (bulk always does) must end the look-ups' waits
    at once. Found by seeds 1 and 29: a 503 with ``Retry-After: 3`` on a look-up held the
    stopped job for the whole wait (2.7 s), and look-ups went on being sent after the stop."""
    faults = Faults(error_rate=1.0, error_statuses=(503,), retry_after=3.0,
                    paths=("/devices/mac/",))
    async with Simulator(devices=40, seed=3, time_scale=0.002, faults=faults) as sim, \
            _client(sim) as epmm:
        macs = [MacAddress(d.wifi_mac) for d in list(sim.fleet.devices.values())[:6]]
        stop = anyio.Event()

        async def later() -> None:
            await anyio.sleep(0.2)
            stop.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(later)
            started = time.monotonic()
            outcomes = [o async for o in epmm.ops.stream_bulk(
                "WIPE", macs, settings=JobSettings(stop=stop))]
            took = time.monotonic() - started
        assert took < 1.5, f"the stopped job waited {took:.2f} s for a Retry-After"
        assert _actions(sim) == []
        assert len(outcomes) == len(macs)


async def test_a_failed_mac_lookup_leaves_one_outcome_per_device() -> None:
    """A device named by uuid and by MAC gets one outcome, even when the MAC's look-up fails
    (or the job is refused before anything is sent). Found by the trials (seeds 7, 15, 18,
    25, 26, 30...): the MAC got an outcome of its own (FAILED "looking up the MAC's device
    failed") besides the uuid's, so the device had two, one of them saying "not applied"
    for a device the job wiped."""
    faults = Faults(redirect_rate=1.0, paths=("/devices/mac/",))
    async with Simulator(devices=40, seed=3, time_scale=0.002, faults=faults) as sim, \
            _client(sim) as epmm:
        device = next(d for d in sim.fleet.devices.values() if d.status.value == "ACTIVE")
        try:
            outcomes = [o async for o in epmm.ops.stream_fan_out(
                "wipe", [device.uuid, MacAddress(device.wifi_mac)])]
        except EpmmError:  # refusing the job before sending anything keeps the promise too
            assert _actions(sim) == []
            return
        assert len(outcomes) == 1, [(o.device, o.status.value, o.detail) for o in outcomes]


async def test_a_failed_mac_lookup_is_not_unknown_and_is_retried_on_resume(
    tmp_path: Path,
) -> None:
    """A MAC look-up is a read: when it fails, nothing was sent for the device, so its
    outcome is FAILED (safe to retry), and a resume looks it up again and acts. Found by the
    trials: a garbled look-up answer (or a retried 500) made it UNKNOWN, which a destructive
    job's journal carries over for good: the device is never wiped."""
    journal = tmp_path / "wipe.journal"
    async with Simulator(devices=40, seed=3, time_scale=0.002,
                         faults=Faults(malformed_rate=1.0, paths=("/devices/mac/",))) as sim:
        device = next(d for d in sim.fleet.devices.values() if d.status.value == "ACTIVE")
        named = [MacAddress(device.wifi_mac)]
        async with _client(sim) as epmm:
            first = [o async for o in epmm.ops.stream_fan_out(
                "wipe", named, settings=JobSettings(journal=journal))]
        assert [o.status for o in first] == [OutcomeStatus.FAILED], first
        sim.set_faults(Faults())
        async with _client(sim) as epmm:
            again = [o async for o in epmm.ops.stream_fan_out(
                "wipe", named, settings=JobSettings(journal=journal))]
        assert [o.status for o in again] == [OutcomeStatus.SUCCEEDED], again
        assert sim.ledger.count(device.uuid, "WIPE") == 1


async def test_cancelled_devices_are_sent_on_resume(tmp_path: Path) -> None:
    """A device reported CANCELLED ("nothing that may have been applied was sent, safe to
    run again") is sent again by the resume. Found by the trials (figure "devices journalled
    pending, never sent"): the pending mark written before the request stays when the stop
    interrupts its retries, so the resume reports the device UNKNOWN and never wipes it."""
    journal = tmp_path / "wipe.journal"
    faults = Faults(rate_limit_rate=1.0, retry_after=2.0, paths=("/devices/wipe/",))
    async with Simulator(devices=40, seed=3, time_scale=0.002, faults=faults) as sim:
        uuids = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"][:4]
        stop = anyio.Event()
        async with _client(sim) as epmm, anyio.create_task_group() as tg:

            async def later() -> None:
                await anyio.sleep(0.3)
                stop.set()

            tg.start_soon(later)
            first = [o async for o in epmm.ops.stream_fan_out(
                "wipe", uuids, concurrency=4, settings=JobSettings(journal=journal, stop=stop))]
        assert {o.status for o in first} == {OutcomeStatus.CANCELLED}, first
        assert all(e.certainly_refused for e in sim.received.destructive)
        sim.set_faults(Faults())
        async with _client(sim) as epmm:
            again = [o async for o in epmm.ops.stream_fan_out(
                "wipe", uuids, settings=JobSettings(journal=journal))]
        assert Counter(o.status.value for o in again) == {"succeeded": 4}, [
            (o.status.value, o.from_journal, o.detail) for o in again]


async def test_a_journal_held_elsewhere_refuses_before_any_request(tmp_path: Path) -> None:
    """A run on a journal another run holds fails with JournalError at once and sends
    nothing. Found by the trials (figure "reads sent by a run refused by its journal"): the
    MACs were looked up (one GET each) before the journal was opened."""
    journal = tmp_path / "wipe.journal"
    async with Simulator(devices=40, seed=3, time_scale=0.002) as sim, _client(sim) as epmm:
        device = next(iter(sim.fleet.devices.values()))
        async with await Journal.open(journal, {"action": "wipe", "reason": ""}):
            with pytest.raises(JournalError, match="in use"):
                async for _ in epmm.ops.stream_fan_out(
                    "wipe", [MacAddress(device.wifi_mac)], settings=JobSettings(journal=journal)):
                    pass
        assert [f"{r.method} {r.path}" for r in sim.received.requests] == []
