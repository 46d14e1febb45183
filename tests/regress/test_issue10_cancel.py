"""Regression tests of cancellation and of the engine's structure (issue items 6 and 7).

"No request after cancel" is what the server RECEIVED after the moment of the cancel (or of
``stop``); "returns promptly" is a generous bound (5 s) against waits of 10 to 30 s.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import signal
import sys
import time
from contextlib import aclosing

import anyio
import pytest
from aiohttp import web
from regress_support import (
    PASSWORD,
    USERNAME,
    FakeEpmm,
    Hit,
    ThreadServer,
    client,
    fast_retry,
    json_reply,
    messages,
    serving,
    uuids,
)

from epmm_async.ops import JobSettings, OutcomeStatus

PROMPT = 5.0
"""Seconds within which a cancel or stop must return (the waits it cuts are 10 s or more)."""


def _shed_first_attempt(kind: str, seen: set[str]) -> object:
    """An answer: each device's first ``kind`` request gets 503 with Retry-After: 30."""

    async def answer(hit: Hit) -> web.StreamResponse | None:
        if hit.kind == kind and hit.target not in seen:
            seen.add(hit.target)
            return json_reply({"messages": messages("Server busy")}, 503, **{"Retry-After": "30"})
        return None

    return answer


async def _finish(job: asyncio.Task[object]) -> None:
    """Let a job that ignored the cancel end (old code), so the test can tear down."""
    if not job.done():
        await asyncio.wait({job}, timeout=90)


async def test_item06_must_show_cancel_during_retry_after_30_returns_at_once() -> None:
    """Must show: "With a server answering 503 and `Retry-After: 30`, cancelling a fan-out
    returns long before the wait would end, and the server sees no request after the
    cancel"."""
    fake = FakeEpmm()
    fake.answer = _shed_first_attempt("lock", set())  # type: ignore[assignment]
    devices = uuids(4)
    async with serving(fake) as url, client(url, retry=fast_retry(deadline=120)) as epmm:
        job = asyncio.create_task(
            epmm.ops.fan_out("lock", devices, reason="audit", concurrency=4))
        try:
            await fake.wait_for(lambda: len(fake.of("lock")) >= len(devices))
            await asyncio.sleep(0.2)  # every device is waiting out its Retry-After now
            received = len(fake.hits)
            cancelled_at = time.monotonic()
            job.cancel()
            done, _ = await asyncio.wait({job}, timeout=PROMPT)
            assert job in done, "the cancel waited for Retry-After: 30"
            assert time.monotonic() - cancelled_at < PROMPT
            assert job.cancelled(), "the cancel did not end the job as cancelled"
            await asyncio.sleep(0.3)
            assert fake.hits[received:] == [], "requests were sent after the cancel"
        finally:
            await _finish(job)


@pytest.mark.parametrize("action", ["lock", "wipe"])
async def test_item06_stop_during_retry_after_returns_at_once_one_outcome_each(
    action: str,
) -> None:
    """Item 6: "`Retry-After` waits ... ignore cancellation"; the fix: "between attempts
    (backoff, `Retry-After`...) cancellation and `stop` act at once. After a cancel or `stop`,
    no new request leaves ... every device still gets one outcome"."""
    fake = FakeEpmm()
    fake.answer = _shed_first_attempt(action, set())  # type: ignore[assignment]
    devices = uuids(4)
    stop = anyio.Event()
    reason = {"reason": "audit"} if action == "lock" else {}
    async with serving(fake) as url, client(url, retry=fast_retry(deadline=120)) as epmm:
        job = asyncio.create_task(epmm.ops.fan_out(
            action, devices, concurrency=4, settings=JobSettings(stop=stop), **reason))
        try:
            await fake.wait_for(lambda: len(fake.of(action)) >= len(devices))
            await asyncio.sleep(0.2)
            received = len(fake.hits)
            stop.set()
            done, _ = await asyncio.wait({job}, timeout=PROMPT)
            assert job in done, "stop waited for Retry-After: 30"
            report = job.result()
            await asyncio.sleep(0.3)
            assert fake.hits[received:] == [], "requests were sent after stop"
        finally:
            await _finish(job)
    assert sorted(o.device for o in report.outcomes) == devices
    # Refused with 503 + Retry-After, then stopped: certainly not applied.
    assert {o.status for o in report.outcomes} <= {OutcomeStatus.FAILED,
                                                    OutcomeStatus.CANCELLED}


def _never_fresh(seen: list[Hit]) -> object:
    async def answer(hit: Hit) -> None:
        if hit.kind == "locate":
            seen.append(hit)
        return None  # the default answer: always the same old fix

    return answer


async def test_item06_stop_stops_locate_now() -> None:
    """Item 6: "the `stop` event does not stop locate-now at all (all devices came back
    `succeeded/stale`)"; the fix: "Locate-now ... honours both": after stop, no new poll, the
    job returns promptly and the devices are CANCELLED."""
    polls: list[Hit] = []
    fake = FakeEpmm(answer=_never_fresh(polls))  # type: ignore[arg-type]
    devices = uuids(5)
    stop = anyio.Event()
    async with serving(fake) as url, client(url) as epmm:
        job = asyncio.create_task(epmm.ops.locate_now(
            devices, deadline=10, interval=0.05, jitter=0.0, settings=JobSettings(stop=stop)))
        try:
            await fake.wait_for(lambda: len(polls) >= 3 * len(devices))
            stopped_at = time.monotonic()
            stop.set()
            done, _ = await asyncio.wait({job}, timeout=PROMPT)
            assert job in done, "stop did not stop locate-now"
            report = job.result()
        finally:
            await _finish(job)
    late = [h for h in fake.hits if h.at > stopped_at]
    assert len(late) <= len(devices), f"{len(late)} requests after stop"
    assert sorted(o.device for o in report.outcomes) == devices
    assert {o.status for o in report.outcomes} == {OutcomeStatus.CANCELLED}, [
        (o.status.value, o.freshness) for o in report.outcomes]


async def test_item06_cancelled_locate_now_returns_promptly_and_stops_polling() -> None:
    """Item 6: "a cancelled locate-now (deadline 20 s) ran 19 s more and sent 758
    requests"; the fix: cancellation acts at once during locate polls."""
    polls: list[Hit] = []
    fake = FakeEpmm(answer=_never_fresh(polls))  # type: ignore[arg-type]
    devices = uuids(5)
    async with serving(fake) as url, client(url) as epmm:
        job = asyncio.create_task(
            epmm.ops.locate_now(devices, deadline=10, interval=0.05, jitter=0.0))
        try:
            await fake.wait_for(lambda: len(polls) >= 3 * len(devices))
            cancelled_at = time.monotonic()
            job.cancel()
            done, _ = await asyncio.wait({job}, timeout=PROMPT)
            assert job in done, "the cancel did not stop locate-now"
            assert job.cancelled()
            await asyncio.sleep(0.3)
        finally:
            await _finish(job)
    late = [h for h in fake.hits if h.at > cancelled_at]
    assert len(late) <= len(devices), f"{len(late)} requests after the cancel"


@pytest.mark.parametrize("where", ["job", "client"])
async def test_item06_rate_limit_wait_is_cancellable(where: str) -> None:
    """Item 6: "rate-limit waits ... ignore cancellation"; the fix: a cancel during a
    rate-limit wait returns at once and no request leaves after it."""
    fake = FakeEpmm()
    devices = uuids(3)
    options = {"rate_limit": 0.1} if where == "client" else {}
    job_rate = {"rate": 0.1} if where == "job" else {}
    async with serving(fake) as url, client(url, **options) as epmm:
        job = asyncio.create_task(
            epmm.ops.fan_out("lock", devices, reason="audit", **job_rate))  # type: ignore[arg-type]
        try:
            await fake.wait_for(lambda: len(fake.of("lock")) >= 1)
            await asyncio.sleep(0.1)  # the others wait for a slot 10 s and 20 s away
            received = len(fake.hits)
            job.cancel()
            done, _ = await asyncio.wait({job}, timeout=PROMPT)
            assert job in done, "the cancel waited for the rate limiter"
            assert job.cancelled()
            await asyncio.sleep(0.3)
            assert fake.hits[received:] == [], "requests were sent after the cancel"
        finally:
            await _finish(job)


async def test_item06_cli_ctrl_c_during_retry_after_returns_at_once() -> None:
    """Item 6: "the CLI's 'Ctrl-C again aborts at once' took 27.5 s"; the fix: Ctrl-C (stop)
    and a second Ctrl-C (cancel) act at once, and no request leaves after the first."""
    fake = FakeEpmm()
    fake.answer = _shed_first_attempt("lock", set())  # type: ignore[assignment]
    devices = uuids(3)
    args = [a for u in devices for a in ("--uuid", u)]
    async with serving(fake) as url:
        env = {**os.environ, "EPMM_URL": url, "EPMM_USERNAME": USERNAME,
               "EPMM_PASSWORD": PASSWORD}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "epmm_async", "lock", *args, "--reason", "audit", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await fake.wait_for(lambda: len(fake.of("lock")) >= len(devices), within=30)
            await asyncio.sleep(0.3)  # every device is waiting out its Retry-After now
            received = len(fake.hits)
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 0.5)
            except TimeoutError:
                proc.send_signal(signal.SIGINT)  # "Ctrl-C again to abort at once"
            try:
                await asyncio.wait_for(proc.wait(), PROMPT)
            except TimeoutError:
                pytest.fail("the CLI did not stop within 5 s of Ctrl-C twice")
            await asyncio.sleep(0.3)
            assert fake.hits[received:] == [], "requests were sent after Ctrl-C"
        finally:
            if proc.returncode is None:
                await asyncio.wait_for(proc.wait(), 90)


# -- item 7 --------------------------------------------------------------------------------------


async def test_item07_abandoned_stream_never_cancels_the_caller() -> None:
    """Item 7: "Breaking out of a stream without `aclosing` leaves the generator to the
    garbage collector, whose finaliser cancels the caller's task for good (10 of 10 later
    awaits raised `CancelledError`)"; the fix: "abandoning a stream never cancels the
    caller". Seeded trials break after a random number of outcomes."""
    for seed in range(5):
        rng = random.Random(seed)
        fake = FakeEpmm(delay=rng.uniform(0.01, 0.05))
        async with serving(fake) as url, client(url) as epmm:
            stream = epmm.ops.stream_fan_out("lock", uuids(8), reason="audit",
                                             concurrency=rng.choice([1, 2, 4]))
            stop_after = rng.randint(1, 4)
            seen = 0
            async for _ in stream:
                seen += 1
                if seen >= stop_after:
                    break
            del stream
            gc.collect()
            raised = 0
            for _ in range(10):
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError:
                    raised += 1
            task = asyncio.current_task()
            if task is not None:  # let the teardown run even on the old code
                while task.uncancel():
                    pass
            assert raised == 0, f"seed {seed}: {raised} of 10 later awaits raised CancelledError"


class Boom(Exception):
    """A caller's own exception, raised by its per-device call."""


async def test_item07_worker_exception_reaches_the_consumer_as_itself() -> None:
    """Item 7: "a worker's unexpected exception ... reaches the consumer as a bare
    `CancelledError` with the real error lost"; the fix: "a worker's exception reaches the
    caller as itself". The caller's own per-device call raising is that device's outcome
    (UNKNOWN: it may have sent its request), carrying the exception's type and text; the
    other devices go on, and the consumer's task is never cancelled."""
    fake = FakeEpmm()
    devices = uuids(6)
    async with serving(fake) as url, client(url) as epmm:

        async def call(device: object) -> object:
            result = await epmm.devices.wakeup(device)  # type: ignore[arg-type]
            if str(device) == devices[2]:
                raise Boom(f"the caller's code failed for {device}")
            return result

        seen = []
        async with aclosing(epmm.ops.stream_each(
                "wakeup", devices, call, concurrency=2)) as outcomes:
            async for outcome in outcomes:
                seen.append(outcome)
        by = {o.device: o for o in seen}
        assert sorted(by) == sorted(devices) and len(seen) == len(devices)
        boom = by[devices[2]]
        assert boom.status is OutcomeStatus.UNKNOWN and boom.error_type == "Boom"
        assert "the caller's code failed" in (boom.error or "")
        assert all(by[d].status is OutcomeStatus.SUCCEEDED for d in devices if d != devices[2])
        await asyncio.sleep(0.01)  # and the caller's task still works


async def test_item07_a_journal_failure_reaches_the_consumer_as_itself(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Item 7: a worker's unexpected error (the journal's, today a raw sqlite3 error)
    reaches the consumer as itself, a typed JournalError, after the outcomes before it."""
    from epmm_async.errors import JournalError
    from epmm_async.ops import engine

    fake = FakeEpmm()
    devices = uuids(8)
    async with serving(fake) as url, client(url) as epmm:
        path = tmp_path / "wipe.journal"
        calls = 0
        original = engine.Journal.record

        async def failing_record(self, outcomes):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            if calls == 3:
                raise JournalError("disk full", path=str(path))
            await original(self, outcomes)

        engine.Journal.record = failing_record  # type: ignore[method-assign]
        caught: BaseException | None = None
        got = 0
        try:
            async with aclosing(epmm.ops.stream_fan_out(
                    "wipe", devices, settings=JobSettings(journal=str(path)),
                    concurrency=1)) as outcomes:
                async for _ in outcomes:
                    got += 1
        except BaseException as exc:
            caught = exc
        finally:
            engine.Journal.record = original  # type: ignore[method-assign]
        assert isinstance(caught, JournalError), f"the consumer got {caught!r}"
        assert got >= 2
        await asyncio.sleep(0.01)


async def test_item07_no_task_outlives_the_client() -> None:
    """Item 7: "a task outlives the client and logs 'Session is closed'"; the fix: "No task
    outlives the client": once ``async with`` exits, nothing the library started is left."""
    server = ThreadServer(lambda: FakeEpmm(delay=0.3))
    try:
        before = asyncio.all_tasks()
        async with client(server.url) as epmm:
            stream = epmm.ops.stream_fan_out("lock", uuids(8), reason="audit", concurrency=4)
            async for _ in stream:
                break  # abandoned with requests on the wire, neither closed nor collected
        deadline = time.monotonic() + PROMPT  # time for cancelled tasks to finish, no more
        caller_cancelled = False
        while True:
            left = [t for t in asyncio.all_tasks() - before if not t.done()]
            if not left or time.monotonic() > deadline:
                break
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:  # the old engine cancels the caller as well
                caller_cancelled = True
                task = asyncio.current_task()
                while task is not None and task.uncancel():
                    pass
        assert not caller_cancelled, "a leftover task cancelled the caller after the client"
        assert stream is not None
        assert left == [], f"{len(left)} task(s) outlived the client: {left}"
    finally:
        server.close()
