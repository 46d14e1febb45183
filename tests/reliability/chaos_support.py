"""The chaos trials of ``test_rel_chaos.py``: a seeded plan, the run that plays it against the
simulator, the checks made after every run, and the figures summed over all trials.

A trial draws everything from ``random.Random(seed)``: the action (wipe, retire, lock), the
mode (per device or bulk in small chunks), the devices and how they are named (uuid, another
spelling of it, Wi-Fi MAC, both; devices no server has), the faults, a simulator restart, the
way the run is stopped, the journal (none, resumed, run twice at once, held by another
writer, opened for another job), and whether the run is a subprocess killed with SIGKILL and
resumed, perhaps from a copy of the journal file alone. Timing still varies between runs of
one seed (threads, sockets), so a failure names its seed and its plan.

What is checked is what the simulator *received* (``sim.received``), refused requests
included, against what the client reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import gc
import json
import os
import random
import shutil
import signal
import sys
import time
import uuid as uuidlib
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import msgspec

from epmm_async import ClientConfig, EpmmClient, RetryPolicy, Timeouts
from epmm_async.errors import DeviceLookupError, EpmmError, JournalError
from epmm_async.ops import JobSettings, Journal, Outcome, OutcomeStatus
from epmm_async.simulator import API, DestructiveRequest, Faults, ReceivedRequest, Simulator
from epmm_async.simulator.fleet import Fleet
from epmm_async.validation import MacAddress

JOB_SCRIPT = Path(__file__).with_name("chaos_job.py")
READ_TIMEOUT = 0.15
"""The client's read timeout: slow answers (0.25-0.4 s) always run past it."""
REASON = "chaos"
PROMPT = 5.0
"""A stop, cancel or break returns within this many seconds (a generous bound)."""

STOPS = (
    "none",
    "stop_event",
    "task_cancel",
    "scope_cancel",
    "break_aclosing",
    "break_abandon",
    "cancel_abandon",
)
"""How a run is stopped: not at all; ``JobSettings(stop=event)``; ``task.cancel()`` on the
consumer (which uses ``aclosing``); an anyio cancel scope around it; ``break`` inside
``aclosing``; ``break`` without it (the stream is dropped and collected); ``task.cancel()`` on
a consumer that does not use ``aclosing`` (the stream is dropped and collected)."""
GRACEFUL = frozenset({"stop_event", "task_cancel", "scope_cancel", "break_aclosing"})
ABANDONING = frozenset({"break_abandon", "cancel_abandon"})
FAULT_KINDS = ("error", "applied_error", "drop", "slow", "rate_limit", "redirect", "malformed")

S = OutcomeStatus
NOT_APPLIED_STATUSES = frozenset({S.FAILED, S.CANCELLED, S.SKIPPED})
"""Outcomes that say "certainly not applied"."""


@dataclass(frozen=True, slots=True)
class Size:
    """A trial size: devices per trial (a range)."""

    name: str
    devices: tuple[int, int]


REDUCED = Size("reduced", (20, 60))
FULL = Size("full", (50, 140))


# -- the plan ------------------------------------------------------------------------------


@dataclass(slots=True)
class Plan:
    """Every random choice of one trial."""

    seed: int
    size: str
    action: str
    mode: str
    concurrency: int
    max_uuids: int | None
    rate: float | None
    attempts: int
    targets: list[str]
    names: list[tuple[str, str]]
    """What the job is given: ("uuid", text) or ("mac", text), duplicates included."""
    ghosts: list[str]
    """Devices no server has (a uuid, or ``mac:XXXXXXXXXXXX``)."""
    sentinels: list[tuple[str, str]]
    """Devices only the refused runs name: nothing may ever be sent for them."""
    faults: Faults
    kinds: tuple[str, ...]
    long_retry_after: bool
    restart: tuple[str, float, float] | None
    """(``outcomes``/``time``, when, downtime)."""
    stop: str
    stop_at: tuple[str, float] | None
    """(``start``/``outcomes``/``time``, when); for a subprocess, (``outcomes``/``requests``,
    how many) before the SIGKILL."""
    consumer_awaits: bool
    journal: bool
    second_run: bool
    held: str | None
    other_job: bool
    resume: bool
    resume_mode: str
    from_copy: bool
    subprocess: bool

    @property
    def destructive(self) -> bool:
        return self.action in ("wipe", "retire")

    def describe(self) -> str:
        """One line naming the seed and every choice, for assertion messages."""
        f = self.faults
        bits = [
            f"seed={self.seed} ({self.size})",
            f"{self.action}/{self.mode} c={self.concurrency}",
            f"chunk={self.max_uuids}" if self.max_uuids else "",
            f"rate={self.rate:.0f}" if self.rate else "",
            f"attempts={self.attempts}",
            f"devices={len(self.targets)}+{len(self.ghosts)} ghosts, names={len(self.names)}",
            f"faults={','.join(self.kinds) or '-'} retry_after={f.retry_after}",
            f"restart={self.restart}" if self.restart else "",
            f"stop={self.stop}@{self.stop_at}",
            "awaits" if self.consumer_awaits else "",
            "journal" if self.journal else "no journal",
            "second-run" if self.second_run else "",
            f"held-by-{self.held}" if self.held else "",
            "other-job" if self.other_job else "",
            f"resume({self.resume_mode}{', copy' if self.from_copy else ''})"
            if self.resume
            else "",
        ]
        return " ".join(b for b in bits if b)


def _mac_text(mac: str, rng: random.Random) -> str:
    if rng.random() < 0.3:
        return ":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower()
    return mac


def _faults(rng: random.Random, seed: int, kinds: list[str], long_ra: bool) -> Faults:
    kw: dict[str, Any] = {}
    if "error" in kinds:
        kw["error_rate"] = rng.uniform(0.05, 0.2)
        statuses = rng.sample([500, 502, 503], rng.randint(1, 3))
        if long_ra and 503 not in statuses:
            statuses.append(503)
        kw["error_statuses"] = tuple(statuses)
    if "applied_error" in kinds:
        kw["applied_error_rate"] = rng.uniform(0.04, 0.12)
        kw["applied_error_statuses"] = tuple(rng.sample([500, 502, 504], rng.randint(1, 3)))
    if "drop" in kinds:
        kw["drop_rate"] = rng.uniform(0.03, 0.08)
    if "slow" in kinds:
        kw["slow_rate"] = rng.uniform(0.02, 0.06)
        kw["slow_seconds"] = rng.uniform(0.25, 0.4)
    if "malformed" in kinds:
        kw["malformed_rate"] = rng.uniform(0.02, 0.06)
    if "rate_limit" in kinds:
        kw["rate_limit_rate"] = rng.uniform(0.02, 0.06)
        kw["rate_limit_burst"] = rng.randint(1, 6)
    if "redirect" in kinds:
        kw["redirect_rate"] = rng.uniform(0.03, 0.1)
    retry_after = 3.0 if long_ra else rng.choice([None, 0.01, 0.05])
    if rng.random() < 0.6:
        # Faults on the actions only: a job that names devices by uuid and by MAC is refused
        # when a look-up fails, so sparing the look-ups lets more trials reach the actions.
        kw["paths"] = ACTION_PATHS
    return Faults(seed=seed, retry_after=retry_after, **kw)


ACTION_PATHS = ("/devices/wipe/", "/devices/retire/", "/devices/lock/", "/bulk/")
"""The paths of the actions the trials run (faults limited to them spare the look-ups)."""


def make_plan(seed: int, size: Size, fleet: Fleet, n: int, rng: random.Random) -> Plan:
    """Draw a trial's plan; some features cycle with the seed so every range of 40 seeds
    covers each of them."""
    action = rng.choices(["wipe", "retire", "lock"], [45, 35, 20])[0]
    mode = rng.choice(["fan_out", "bulk"])
    concurrency = rng.randint(1, 8) if mode == "fan_out" else rng.randint(1, 4)
    max_uuids = rng.randint(3, 10) if mode == "bulk" else None
    rate = rng.uniform(300, 800) if rng.random() < 0.2 else None
    attempts = rng.randint(3, 8)

    uuids = list(fleet.devices)
    targets = rng.sample(uuids, n)
    chosen = set(targets)
    rest = [u for u in uuids if u not in chosen]
    all_macs = rng.random() < 0.08
    names: list[tuple[str, str]] = []
    for u in targets:
        mac = _mac_text(fleet.devices[u].wifi_mac, rng)
        r = rng.random()
        if all_macs:
            names.append(("mac", mac))
        elif r < 0.5:
            names.append(("uuid", u))
        elif r < 0.6:
            names.append(("uuid", u.upper()))
        elif r < 0.75:
            names.append(("mac", mac))
        elif r < 0.9:
            pair = [("uuid", u), ("mac", mac)]
            rng.shuffle(pair)
            names.extend(pair)
        else:
            names.extend([("uuid", u), ("uuid", u)])
    ghosts: list[str] = []
    if not all_macs and rng.random() < 0.3:
        ghost = str(uuidlib.UUID(int=rng.getrandbits(128), version=4))
        names.append(("uuid", ghost))
        ghosts.append(ghost)
    if rng.random() < 0.2:
        while True:
            mac = f"{rng.getrandbits(48):012X}"
            if fleet.by_mac(mac) is None:
                break
        names.append(("mac", mac))
        ghosts.append("mac:" + mac)
    rng.shuffle(names)
    sentinels: list[tuple[str, str]] = [("uuid", u) for u in rest[:2]]
    if len(rest) > 2 and rng.random() < 0.5:
        sentinels.append(("mac", fleet.devices[rest[2]].wifi_mac))

    subprocess = seed % 8 == 3
    stop = "kill" if subprocess else STOPS[seed % len(STOPS)]
    kinds = rng.sample(FAULT_KINDS, rng.choice([0, 1, 2, 2, 3, 3, 4]))
    timed_stop = stop in ("stop_event", "task_cancel", "scope_cancel", "cancel_abandon")
    long_ra = (
        timed_stop and ("error" in kinds or "rate_limit" in kinds) and rng.random() < 0.25
    )
    faults = _faults(rng, seed, kinds, long_ra)
    restart = None
    if rng.random() < 0.3:
        when: tuple[str, float] = (
            ("outcomes", rng.randint(1, n)) if rng.random() < 0.5
            else ("time", rng.uniform(0.02, 0.4))
        )
        restart = (*when, rng.uniform(0.02, 0.25))

    stop_at: tuple[str, float] | None = None
    if subprocess:
        stop_at = (
            ("outcomes", rng.randint(1, max(1, n - 1))) if rng.random() < 0.5
            else ("requests", rng.randint(1, n))
        )
    elif stop in ("break_aclosing", "break_abandon"):
        stop_at = ("outcomes", rng.randint(1, n))
    elif stop != "none":
        r = rng.random()
        if long_ra:
            stop_at = ("time", rng.uniform(0.1, 0.4))
        elif r < 0.12:
            stop_at = ("start", 0)
        elif r < 0.55:
            stop_at = ("outcomes", rng.randint(1, n))
        else:
            stop_at = ("time", rng.uniform(0.0, 0.3))

    held = "process" if seed % 20 == 7 else "task" if seed % 10 == 1 else None
    journal = subprocess or held is not None or rng.random() < 0.55
    second_run = journal and not long_ra and (
        seed % 5 == 2 or seed % 16 == 3 or rng.random() < (0.4 if subprocess else 0.15))
    other_job = journal and rng.random() < 0.15
    resume = journal and (stop != "none" or rng.random() < 0.3)
    other_mode = "bulk" if mode == "fan_out" else "fan_out"
    resume_mode = other_mode if action != "lock" and rng.random() < 0.3 else mode
    from_copy = resume and rng.random() < (0.5 if subprocess else 0.2)
    return Plan(
        seed=seed, size=size.name, action=action, mode=mode, concurrency=concurrency,
        max_uuids=max_uuids, rate=rate, attempts=attempts, targets=targets, names=names,
        ghosts=ghosts, sentinels=sentinels, faults=faults, kinds=tuple(kinds),
        long_retry_after=long_ra, restart=restart, stop=stop, stop_at=stop_at,
        consumer_awaits=rng.random() < 0.5, journal=journal, second_run=second_run,
        held=held, other_job=other_job, resume=resume, resume_mode=resume_mode,
        from_copy=from_copy, subprocess=subprocess,
    )


# -- the figures ---------------------------------------------------------------------------


@dataclass
class Totals:
    """What all trials of a session tried and saw."""

    counts: Counter[str] = field(default_factory=Counter)
    plans: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    max_stop_seconds: float = 0.0
    seconds: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """The figures as plain data."""
        return {
            "counts": dict(sorted(self.counts.items())),
            "plans": dict(sorted(self.plans.items())),
            "faults_injected": dict(sorted(self.faults.items())),
            "fault_answers": dict(sorted(self.answers.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "journal_refusals": dict(sorted(self.refusals.items())),
            "max_stop_seconds": round(self.max_stop_seconds, 3),
            "seconds_by_size": {k: round(v, 1) for k, v in sorted(self.seconds.items())},
        }

    def render(self) -> str:
        """The figures, one group a line."""
        lines = ["chaos summary"]
        for key, value in self.summary().items():
            lines.append(f"  {key}: {json.dumps(value)}")
        return "\n".join(lines)


# -- one run's record ----------------------------------------------------------------------


@dataclass(slots=True)
class RunRecord:
    """What one run of the job did, as the consumer and the simulator saw it."""

    label: str
    mode: str
    journal: Path | None
    stop: str
    seq0: int
    seq1: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    complete: bool = False
    fired: bool = False
    t_ask: float | None = None
    t_return: float | None = None
    killed: bool = False


def _is_action(rec: ReceivedRequest) -> bool:
    path = rec.path
    return path.startswith(
        (API + "/devices/wipe/", API + "/devices/retire/", API + "/devices/lock/",
         API + "/bulk/devices/")
    )


def _last_seq(sim: Simulator) -> int:
    requests = sim.received.requests
    return requests[-1].seq if requests else 0


async def _until(cond: Callable[[], bool], bound: float = 60.0) -> bool:
    """Poll ``cond`` until it holds (True) or ``bound`` seconds pass (False)."""
    end = time.monotonic() + bound
    while not cond():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.002)
    return True


def journal_free(path: Path | None) -> bool:
    """Whether no run holds the journal at ``path`` (its lock can be taken)."""
    if path is None or not path.exists():
        return True
    with path.open("rb") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    return True


LOOKUP_FAILED = "looking up the MAC's device failed"
"""The detail of the outcome of a MAC whose look-up failed (before anything was sent)."""


def lookup_failed(outcome: Outcome) -> bool:
    """An outcome for a MAC the job could not resolve to its device."""
    return outcome.detail == LOOKUP_FAILED and "-" not in outcome.device


# -- the trial -----------------------------------------------------------------------------


class Trial:
    """One seeded trial: plays its plan and checks every run."""

    def __init__(self, sim: Simulator, plan: Plan, tmp: Path, totals: Totals) -> None:
        self.sim = sim
        self.plan = plan
        self.tmp = tmp
        self.totals = totals
        self.expected = {u.lower() for u in plan.targets} | set(plan.ghosts)
        self.sentinel_keys = {self.true(v if k == "uuid" else MacAddress(v))
                              for k, v in plan.sentinels}
        self.sentinel_texts = [v.lower() if k == "uuid" else str(MacAddress(v)).lower()
                               for k, v in plan.sentinels]
        self.restarts = 0

    # -- naming ---------------------------------------------------------------------------

    def true(self, key: str) -> str:
        """The device a key names: its uuid, or ``mac:X`` for a MAC no device has."""
        if "-" in key:
            return key.lower()
        mac = str(MacAddress(key))
        device = self.sim.fleet.by_mac(mac)
        return device.uuid.lower() if device is not None else "mac:" + mac

    def names(self, extra: list[tuple[str, str]] | None = None) -> list[str | MacAddress]:
        pairs = list(self.plan.names) + (extra or [])
        if extra:
            random.Random(self.plan.seed + 1).shuffle(pairs)
        return [MacAddress(v) if k == "mac" else v for k, v in pairs]

    def identity(self, mode: str) -> dict[str, str]:
        reason = REASON if self.plan.action == "lock" and mode == "fan_out" else ""
        return {"action": self.plan.action, "reason": reason}

    def msg(self, what: str) -> str:
        return f"[{self.plan.describe()}] {what}"

    # -- the client and the streams ---------------------------------------------------------

    def client(self) -> EpmmClient:
        sim = self.sim
        return EpmmClient(
            sim.url,
            username=sim.username,
            password=sim.password,
            config=ClientConfig(
                retry=RetryPolicy(attempts=self.plan.attempts, initial_delay=0.005,
                              max_delay=0.05, deadline=5),
                timeouts=Timeouts(connect=1, read=READ_TIMEOUT, total=3),
            ),
        )

    def stream(
        self,
        epmm: EpmmClient,
        mode: str,
        settings: JobSettings,
        *,
        action: str | None = None,
        reason: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> AsyncGenerator[Outcome, None]:
        plan = self.plan
        act = action or plan.action
        names = self.names(extra)
        if mode == "bulk":
            return epmm.ops.stream_bulk(act.upper(), names, settings=settings,
                                        max_uuids=plan.max_uuids or 5,
                                        concurrency=min(plan.concurrency, 4), rate=plan.rate)
        if reason is None and act == "lock":
            reason = REASON
        return epmm.ops.stream_fan_out(act, names, settings=settings, reason=reason,
                                       concurrency=plan.concurrency, rate=plan.rate)

    # -- the play -----------------------------------------------------------------------------

    async def play(self) -> None:
        plan, sim, totals = self.plan, self.sim, self.totals
        journal = self.tmp / "job.journal" if plan.journal else None
        if plan.held:
            assert journal is not None
            sim.set_faults(self.short_faults())  # a long Retry-After is for the run only
            await self.held_phase(journal)
            sim.set_faults(plan.faults)
        if plan.subprocess:
            assert journal is not None
            first = await self.subprocess_run(journal)
        else:
            async with self.client() as epmm:
                first = await self.in_process_run(epmm, "run", plan.mode, journal, plan.stop,
                                                  plan.stop_at, second_run=plan.second_run)
        await self.settle()
        self.check_after_return(first)
        self.check_run(first)
        if journal is not None:
            self.check_journal(journal, first)
        if plan.other_job:
            assert journal is not None
            await self.other_job_phase(journal)
        runs = [first]
        if plan.resume:
            assert journal is not None
            path = journal
            if plan.from_copy and journal.exists():
                copy_dir = self.tmp / "copy"
                copy_dir.mkdir()
                path = copy_dir / "job.journal"
                shutil.copyfile(journal, path)  # the file alone
                totals.counts["resumes from a copy of the journal file"] += 1
            sim.set_faults(self.short_faults())
            async with self.client() as epmm:
                second = await self.in_process_run(epmm, "resume", plan.resume_mode, path,
                                                   "none", None, second_run=False)
            await self.settle()
            assert second.complete, self.msg("the resume did not report every device")
            self.check_after_return(second)
            self.check_run(second)
            self.check_journal(path, second)
            runs.append(second)
            totals.counts["resumes"] += 1
            if plan.resume_mode != plan.mode:
                totals.counts["resumes in the other mode"] += 1
        violations = sim.received.violations()
        totals.counts["violations"] += len(violations)
        assert violations == [], self.msg(
            f"{len(violations)} device(s) got a destructive request after one that may have "
            f"been applied:\n" + "\n".join(violations[:5])
        )
        self.tally(runs)

    def short_faults(self) -> Faults:
        """The same faults, reseeded, without a long Retry-After (for the phases around the
        run: a resume, a run refused by a held journal)."""
        f = self.plan.faults
        short = None if f.retry_after is None else min(f.retry_after, 0.05)
        return dataclasses.replace(f, seed=f.seed + 1, retry_after=short)

    async def settle(self) -> None:
        """Wait (a bounded time) for every request the simulator received to be answered."""
        requests = self.sim.received.requests
        await _until(lambda: all(r.done for r in requests), bound=10)

    # -- a restart of the simulator mid-job ------------------------------------------------

    def restarter(self, progress: Callable[[], int], started: float) -> tuple[
        Callable[[], None], asyncio.Task[None] | None
    ]:
        plan = self.plan
        if plan.restart is None:
            return (lambda: None), None
        kind, when, downtime = plan.restart
        done = False

        def finish() -> None:
            nonlocal done
            done = True

        def due() -> bool:
            if done:
                return True
            if kind == "outcomes":
                return progress() >= when
            return time.monotonic() - started >= when

        async def body() -> None:
            await _until(due)
            if done:
                return
            self.restarts += 1
            await self.sim.restart(downtime)

        return finish, asyncio.get_running_loop().create_task(body())

    # -- an in-process run ------------------------------------------------------------------

    async def in_process_run(
        self,
        epmm: EpmmClient,
        label: str,
        mode: str,
        journal: Path | None,
        stop: str,
        stop_at: tuple[str, float] | None,
        *,
        second_run: bool,
    ) -> RunRecord:
        plan, sim = self.plan, self.sim
        rec = RunRecord(label, mode, journal, stop, _last_seq(sim))
        outs = rec.outcomes
        event = anyio.Event() if stop == "stop_event" else None
        settings = JobSettings(journal=journal, stop=event)
        started = time.monotonic()
        finish_restart, restart_task = self.restarter(lambda: len(outs), started)
        kind, when = stop_at if stop_at is not None else ("never", 0.0)
        pending_second = second_run and journal is not None

        def ask() -> None:
            rec.fired = True
            rec.t_ask = time.monotonic()

        def due() -> bool:
            if kind == "start":
                return True
            if kind == "outcomes":
                return len(outs) >= when
            if kind == "time":
                return time.monotonic() - started >= when
            return False

        async def take(outcome: Outcome) -> None:
            nonlocal pending_second
            outs.append(outcome)
            if pending_second:
                pending_second = False
                await self.expect_refused(
                    "a second run on the journal while the first holds it",
                    lambda c: self.stream(c, plan.mode, JobSettings(journal=journal),
                                          extra=plan.sentinels),
                    concurrent=True, needle="in use", key="second run, same process",
                )
            if plan.consumer_awaits:
                await asyncio.sleep(0)

        holder: dict[str, Any] = {}
        try:
            if stop in ("none", "stop_event"):
                timer = None
                if event is not None and kind == "start":
                    ask()
                    event.set()
                elif event is not None and kind == "time":

                    async def later() -> None:
                        await anyio.sleep(when)
                        if not event.is_set():
                            ask()
                            event.set()

                    timer = asyncio.get_running_loop().create_task(later())
                try:
                    async with contextlib.aclosing(self.stream(epmm, mode, settings)) as s:
                        async for outcome in s:
                            await take(outcome)
                            if (event is not None and kind == "outcomes" and due()
                                    and not event.is_set()):
                                ask()
                                event.set()
                finally:
                    if timer is not None:
                        timer.cancel()
                rec.t_return = time.monotonic()
            elif stop == "break_aclosing":
                async with contextlib.aclosing(self.stream(epmm, mode, settings)) as s:
                    async for outcome in s:
                        await take(outcome)
                        if due():
                            ask()
                            break
                rec.t_return = time.monotonic()
            elif stop == "break_abandon":
                stream = self.stream(epmm, mode, settings)
                async for outcome in stream:
                    await take(outcome)
                    if due():
                        ask()
                        break
                del stream
                await self.after_abandon(epmm, journal, "break without aclosing")
                rec.t_return = time.monotonic()
            else:
                await self.cancelled_run(epmm, mode, settings, rec, take, due, ask, holder)
        finally:
            finish_restart()
            if restart_task is not None:
                await restart_task
        rec.seq1 = _last_seq(sim)
        assert len(epmm.runs) == 0, self.msg(f"{label}: a job run outlived its stream")
        keys = {self.true(o.device) for o in outs}
        rec.complete = self.expected <= keys
        if stop == "stop_event" or stop == "none":
            assert rec.complete, self.msg(
                f"{label}: the stream ended without an outcome for "
                f"{sorted(self.expected - keys)[:5]}"
            )
        if rec.fired and rec.t_ask is not None and rec.t_return is not None:
            took = rec.t_return - rec.t_ask
            self.totals.max_stop_seconds = max(self.totals.max_stop_seconds, took)
            assert took < PROMPT, self.msg(f"{label}: {stop} took {took:.2f} s to return")
            if plan.long_retry_after:
                assert took < 2.5, self.msg(
                    f"{label}: {stop} waited for a Retry-After ({took:.2f} s)")
        for _ in range(5):  # the caller's task is still usable
            await asyncio.sleep(0)
        return rec

    async def cancelled_run(
        self,
        epmm: EpmmClient,
        mode: str,
        settings: JobSettings,
        rec: RunRecord,
        take: Callable[[Outcome], Any],
        due: Callable[[], bool],
        ask: Callable[[], None],
        holder: dict[str, Any],
    ) -> None:
        stop = rec.stop

        async def consumer() -> None:
            stream = self.stream(epmm, mode, settings)
            if stop == "cancel_abandon":
                async for outcome in stream:
                    await take(outcome)
                return
            with anyio.CancelScope() as scope:
                holder["scope"] = scope
                async with contextlib.aclosing(stream) as s:
                    async for outcome in s:
                        await take(outcome)

        task = asyncio.get_running_loop().create_task(consumer())
        await asyncio.sleep(0)
        await _until(lambda: task.done() or due())
        if not task.done():
            ask()
            if stop == "scope_cancel" and "scope" in holder:
                holder["scope"].cancel()
            else:
                task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not rec.fired or stop == "scope_cancel":
                raise
        if stop == "cancel_abandon":
            await self.after_abandon(epmm, settings.journal and Path(settings.journal),
                                     "a cancelled consumer without aclosing")
        rec.t_return = time.monotonic()

    async def after_abandon(self, epmm: EpmmClient, journal: Path | None, what: str) -> None:
        """After a stream was dropped: collect it, check the caller's task was not
        cancelled, and wait until the generator is finalised: its run halted and awaited,
        its journal closed. (A weak reference cannot tell: CPython clears it before the
        finaliser schedules the generator's ``aclose()``.)"""
        at = time.monotonic()
        gc.collect()
        try:
            for _ in range(20):
                await asyncio.sleep(0)
            await anyio.sleep(0.01)
            gone = await _until(lambda: len(epmm.runs) == 0 and journal_free(journal),
                                bound=PROMPT * 2)
        except asyncio.CancelledError as exc:
            raise AssertionError(self.msg(f"{what}: the caller's task was cancelled")) from exc
        assert gone, self.msg(f"{what}: the dropped stream was not finalised")
        self.totals.counts["abandoned streams finalised"] += 1
        late = [r for r in self.sim.received.requests_after(at) if _is_action(r)]
        self.totals.counts["action requests after a dropped stream, before finalisation"] += (
            len(late))

    # -- a subprocess run killed with SIGKILL ------------------------------------------------

    def job_spec(self, journal: Path, report: Path) -> dict[str, Any]:
        plan = self.plan
        return {
            "action": plan.action.upper() if plan.mode == "bulk" else plan.action,
            "mode": plan.mode,
            "journal": str(journal),
            "names": plan.names,
            "reason": REASON if plan.action == "lock" else None,
            "concurrency": plan.concurrency if plan.mode == "fan_out"
            else min(plan.concurrency, 4),
            "max_uuids": plan.max_uuids or 5,
            "rate": plan.rate,
            "attempts": plan.attempts,
            "read_timeout": READ_TIMEOUT,
            "report": str(report),
        }

    def env(self) -> dict[str, str]:
        sim = self.sim
        return {**os.environ, "EPMM_URL": sim.url, "EPMM_USERNAME": sim.username,
                "EPMM_PASSWORD": sim.password}

    async def subprocess_run(self, journal: Path) -> RunRecord:
        plan, sim = self.plan, self.sim
        rng = random.Random(plan.seed + 2)
        report = self.tmp / "report.jsonl"
        spec_file = self.tmp / "spec.json"
        spec_file.write_text(json.dumps(self.job_spec(journal, report)))
        rec = RunRecord("killed run", plan.mode, journal, "kill", _last_seq(sim))
        seq0 = rec.seq0
        started = time.monotonic()

        def lines() -> int:
            try:
                return report.read_bytes().count(b"\n")
            except FileNotFoundError:
                return 0

        finish_restart, restart_task = self.restarter(lines, started)
        assert plan.stop_at is not None
        kind, when = plan.stop_at

        def due() -> bool:
            if kind == "outcomes":
                return lines() >= when
            sent = [r for r in sim.received.requests if r.seq > seq0 and _is_action(r)]
            return len(sent) >= when

        with (self.tmp / "job.err").open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(JOB_SCRIPT), "run", str(spec_file), env=self.env(),
                stdout=asyncio.subprocess.DEVNULL, stderr=err,
            )
        try:
            await _until(lambda: proc.returncode is not None or due(), bound=60)
            if proc.returncode is None:
                await asyncio.sleep(rng.uniform(0, 0.03))  # somewhere inside a request
            if proc.returncode is None:
                if plan.second_run and lines() < len(self.expected):
                    # Frozen, it still holds the journal: a second run must be refused.
                    proc.send_signal(signal.SIGSTOP)
                    await self.expect_refused(
                        "a second run while another process holds the journal",
                        lambda c: self.stream(c, plan.mode, JobSettings(journal=journal),
                                              extra=plan.sentinels),
                        concurrent=True, needle=f"pid {proc.pid}",
                        key="second run, other process",
                    )
                proc.send_signal(signal.SIGKILL)
                rec.killed = True
            code = await asyncio.wait_for(proc.wait(), 60)
        finally:
            finish_restart()
            if restart_task is not None:
                await restart_task
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if not rec.killed and code == 3:  # chaos_job.REFUSED
            raise DeviceLookupError(
                "the job was refused in its process; nothing was sent: "
                + (self.tmp / "job.err").read_text()[-500:],
                mac="", cause=EpmmError("a MAC look-up failed in the job process"))
        assert rec.killed or code == 0, self.msg(
            f"the job process failed (exit {code}): "
            f"{(self.tmp / 'job.err').read_text()[-2000:]}")
        if rec.killed:
            self.totals.counts["subprocess runs killed with SIGKILL"] += 1
            rec.fired = True
        decoder = msgspec.json.Decoder(Outcome)
        for line in report.read_bytes().splitlines() if report.exists() else []:
            try:
                rec.outcomes.append(decoder.decode(line))
            except msgspec.DecodeError:
                pass  # a line torn by the kill
        rec.seq1 = _last_seq(sim)
        rec.complete = self.expected <= {self.true(o.device) for o in rec.outcomes}
        if not rec.killed:
            assert rec.complete, self.msg("the job process ended without every outcome")
        return rec

    # -- runs that must be refused ------------------------------------------------------------

    async def expect_refused(
        self,
        what: str,
        make: Callable[[EpmmClient], AsyncGenerator[Outcome, None]],
        *,
        concurrent: bool,
        needle: str,
        key: str,
    ) -> None:
        """Run a job (on a client of its own) that must fail at once with JournalError and
        send nothing for its devices: no action request (look-up reads are counted)."""
        sim = self.sim
        seq0 = _last_seq(sim)
        got: list[Outcome] = []
        error: JournalError | None = None
        started = time.monotonic()
        async with self.client() as epmm:
            try:
                async with contextlib.aclosing(make(epmm)) as s:
                    async for outcome in s:
                        got.append(outcome)
            except JournalError as exc:
                error = exc
        took = time.monotonic() - started
        assert error is not None, self.msg(f"{what}: no JournalError ({len(got)} outcomes)")
        assert not got, self.msg(f"{what}: outcomes before the JournalError")
        assert needle in str(error), self.msg(f"{what}: unexpected message {error}")
        assert took < PROMPT, self.msg(f"{what}: the JournalError took {took:.2f} s")
        new = [r for r in sim.received.requests if r.seq > seq0]
        if concurrent:  # the first run goes on: only what names the refused run's own devices
            new = [r for r in new
                   if any(t in (r.path + "?" + r.query).lower() for t in self.sentinel_texts)]
        actions = [r for r in new if _is_action(r)]
        assert not actions, self.msg(
            f"{what}: {len(actions)} action request(s) sent before the JournalError: "
            + ", ".join(f"{r.method} {r.path}" for r in actions[:3]))
        self.totals.refusals[key] += 1
        self.totals.counts["reads sent by a run refused by its journal"] += len(new)

    def held_stream(
        self, journal: Path
    ) -> Callable[[EpmmClient], AsyncGenerator[Outcome, None]]:
        return lambda c: self.stream(c, self.plan.mode, JobSettings(journal=journal))

    async def held_phase(self, journal: Path) -> None:
        """Another writer holds the journal: the run must be refused and send nothing."""
        plan = self.plan
        identity = self.identity(plan.mode)
        if plan.held == "task":
            holder = await Journal.open(journal, identity)
            try:
                await self.expect_refused("a run on a journal another task holds",
                                          self.held_stream(journal), concurrent=False,
                                          needle="in use", key="held by another task")
            finally:
                await holder.close()
            return
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(JOB_SCRIPT), "hold", str(journal), json.dumps(identity),
            env=self.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line.strip() == b"held", self.msg(f"the holder process said {line!r}")
            await self.expect_refused("a run on a journal another process holds",
                                      self.held_stream(journal), concurrent=False,
                                      needle=f"pid {proc.pid}", key="held by another process")
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()

    async def other_job_phase(self, journal: Path) -> None:
        """A journal opened for another job (action or reason) is refused; nothing sent."""
        plan = self.plan
        if not await anyio.Path(journal).exists():  # stopped before it opened its journal
            self.totals.counts["journal for another job: skipped, no journal yet"] += 1
            return
        other = {"wipe": ("retire", None), "retire": ("wipe", None),
                 "lock": ("unlock", "another reason")}[plan.action]
        if plan.action == "wipe" and plan.seed % 2:
            other = ("wipe", "another reason")
        mode = plan.mode if plan.action == "lock" else "fan_out"
        await self.expect_refused(
            "a journal opened for another job",
            lambda c: self.stream(c, mode, JobSettings(journal=journal), action=other[0],
                                  reason=other[1]),
            concurrent=False, needle="use another journal file", key="another job",
        )

    # -- checks ----------------------------------------------------------------------------

    def destructive_by_device(
        self, low: int, high: int
    ) -> dict[str, list[DestructiveRequest]]:
        found: dict[str, list[DestructiveRequest]] = defaultdict(list)
        for entry in self.sim.received.destructive:
            if low < entry.seq <= high:
                found[entry.device].append(entry)
        return found

    def check_after_return(self, rec: RunRecord) -> None:
        """Nothing arrived after the stop returned; little after it was asked for."""
        sim = self.sim
        if rec.t_return is not None:
            late = sim.received.requests_after(rec.t_return)
            self.totals.counts["requests after a run returned"] += len(late)
            assert not late, self.msg(
                f"{rec.label}: {len(late)} request(s) arrived after the run returned "
                f"({rec.stop}): " + ", ".join(f"{r.method} {r.path}" for r in late[:3]))
        if not rec.fired or rec.t_ask is None or rec.stop not in GRACEFUL:
            return
        after = [r for r in sim.received.requests_after(rec.t_ask) if _is_action(r)]
        self.totals.counts["action requests after a stop was asked (in flight then)"] += (
            len(after))
        assert self.plan.stop_at is not None
        if self.plan.stop_at[0] == "start":
            assert not after, self.msg(
                f"{rec.label}: {rec.stop} before the job began, yet {len(after)} action "
                f"request(s) were sent: " + ", ".join(f"{r.method} {r.path}" for r in after[:3]))
        bound = self.plan.concurrency
        assert len(after) <= bound, self.msg(
            f"{rec.label}: {len(after)} action requests arrived after {rec.stop} was asked "
            f"for; at most {bound} could have been on their way")

    def check_run(self, rec: RunRecord) -> None:
        """One outcome per device; every outcome agrees with what the simulator received."""
        plan, sim = self.plan, self.sim
        where = f"{rec.label} ({rec.stop})"
        # A MAC whose look-up failed gets an outcome of its own (nothing was sent for it).
        # A job that also names devices by uuid is refused instead (it could not tell
        # whether the MAC is one of them), so the device never gets a second outcome.
        lookups = [o for o in rec.outcomes if lookup_failed(o)]
        others = [o for o in rec.outcomes if not lookup_failed(o)]
        keys = [self.true(o.device) for o in others]
        doubled = sorted(k for k, n in Counter(keys).items() if n > 1)
        assert not doubled, self.msg(
            f"{where}: devices with more than one outcome: {doubled[:5]}: "
            + "; ".join(f"{o.device} {o.status.value} {o.reason}" for o in rec.outcomes
                        if self.true(o.device) in doubled[:2]))
        lookup_keys = [self.true(o.device) for o in lookups]
        assert len(set(lookup_keys)) == len(lookup_keys), self.msg(f"{where}: doubled MACs")
        self.totals.counts["MAC look-ups failed (an outcome of their own)"] += len(lookups)
        twice = set(lookup_keys) & set(keys)
        assert not twice, self.msg(
            f"{where}: a failed MAC look-up gave a 2nd outcome to {sorted(twice)[:5]}: "
            + "; ".join(f"{o.device} {o.status.value} {o.reason} {o.detail}"
                        for o in rec.outcomes if self.true(o.device) in sorted(twice)[:2]))
        keys += lookup_keys
        unexpected = set(keys) - self.expected
        assert not unexpected, self.msg(f"{where}: outcomes for devices not asked: "
                                        f"{sorted(unexpected)[:5]}")
        if not rec.killed and rec.stop in ("none", "stop_event"):
            assert rec.complete, self.msg(f"{where}: missing outcomes")
        mine = self.destructive_by_device(rec.seq0, rec.seq1)
        before = self.destructive_by_device(0, rec.seq0)
        for device in self.sentinel_keys:
            assert device not in mine and device not in before, self.msg(
                f"{where}: a destructive request for {device}, which only a refused run named")
        for o in others:
            device = self.true(o.device)
            text = (f"{where}: {o.device} {o.status.value} ({o.reason}, "
                    f"from_journal={o.from_journal})")
            if not plan.destructive:
                if o.status is S.SUCCEEDED and not device.startswith("mac:"):
                    assert sim.ledger.count(device, "LOCK") >= 1, self.msg(
                        f"{text}: SUCCEEDED but never locked")
                continue
            now = mine.get(device, [])
            earlier = before.get(device, [])
            if o.status is S.SUCCEEDED:
                pool = earlier if o.from_journal else now
                assert any(r.applied for r in pool), self.msg(
                    f"{text}: SUCCEEDED but the simulator applied nothing: "
                    + "; ".join(r.describe() for r in pool))
            if o.status in NOT_APPLIED_STATUSES:
                assert all(r.certainly_refused for r in now), self.msg(
                    f"{text}: says certainly not applied, but: "
                    + "; ".join(r.describe() for r in now))
            if o.status is S.INVALID and not o.from_journal:
                assert not any(r.applied for r in now), self.msg(
                    f"{text}: INVALID but applied: " + "; ".join(r.describe() for r in now))
            if o.from_journal:
                assert not now, self.msg(f"{text}: carried from the journal, yet sent again")
            if any(r.applied for r in earlier):
                assert o.from_journal and o.status in (S.SUCCEEDED, S.UNKNOWN), self.msg(
                    f"{text}: applied by an earlier run, but reported so")
            if o.status is S.UNKNOWN and not any(r.applied for r in earlier + now):
                self.totals.counts["UNKNOWN outcomes that the simulator had not applied"] += 1

    def check_journal(self, path: Path, rec: RunRecord) -> None:
        """The journal accounts for every device a destructive request was sent for, and
        records none of them as not applied; after a run that ended (not killed) and sent
        anything, it holds every device."""
        where = f"{rec.label} ({rec.stop}), journal {path.name}"
        if not path.exists():  # stopped before the journal was opened
            sent = self.destructive_by_device(0, rec.seq1)
            assert not sent, self.msg(f"{where}: requests were sent but there is no journal")
            self.totals.counts["runs stopped before their journal was opened"] += 1
            return
        snap = Journal.read(path)
        entries: dict[str, list[str]] = defaultdict(list)
        for key, entry in snap.entries.items():
            entries[self.true(key)].append(entry.status)
        for device, requests in self.destructive_by_device(0, rec.seq1).items():
            statuses = entries.get(device)
            assert statuses, self.msg(
                f"{where}: {device} was sent a destructive request but has no journal record")
            if any(r.applied for r in requests):
                allowed = {"succeeded", "unknown", "pending"}
            elif not all(r.certainly_refused for r in requests):
                allowed = {"succeeded", "unknown", "pending", "invalid"}
            else:
                continue
            assert set(statuses) & allowed, self.msg(
                f"{where}: {device} is journalled {statuses} after "
                + "; ".join(r.describe() for r in requests))
        sent_to = self.destructive_by_device(0, rec.seq1)
        never = [d for d, statuses in entries.items() if "pending" in statuses and d not in sent_to]
        if rec.label == "run":  # (the resume carries them over, unchanged)
            self.totals.counts["devices journalled pending, never sent (stopped run)"] += len(
                never)
        elif rec.killed:
            self.totals.counts["devices journalled pending, never sent (killed run)"] += len(
                never)
        sent = any(_is_action(r) for r in self.sim.received.requests
                   if rec.seq0 < r.seq <= rec.seq1)
        if sent and not rec.killed:
            missing = self.expected - set(entries)
            assert not missing, self.msg(
                f"{where}: the run sent requests but the journal has no record of "
                f"{sorted(missing)[:5]}")

    # -- figures ------------------------------------------------------------------------------

    def tally(self, runs: list[RunRecord]) -> None:
        plan, sim, totals = self.plan, self.sim, self.totals
        totals.counts["trials"] += 1
        totals.counts[f"trials ({plan.size})"] += 1
        totals.counts["devices"] += len(self.expected)
        totals.counts["device names given"] += len(plan.names)
        totals.counts["runs"] += len(runs)
        totals.plans[f"action {plan.action}/{plan.mode}"] += 1
        ended_first = plan.stop != "none" and not runs[0].fired
        totals.plans[f"stop {plan.stop}" + (" (job ended first)" if ended_first else "")] += 1
        if plan.stop_at is not None and runs[0].fired:
            totals.plans[f"stop point {plan.stop_at[0]}"] += 1
        totals.plans["with a journal" if plan.journal else "without a journal"] += 1
        for kind, n in sim.stats.faults.items():
            totals.faults[kind] += n
        totals.faults["restart"] += self.restarts
        for r in sim.received.requests:
            if r.fault is not None:
                ra = "" if r.retry_after is None else " Retry-After"
                status = "cut" if r.status is None else str(r.status)
                totals.answers[f"{r.fault} {status}{ra}"] += 1
        totals.counts["requests received"] += len(sim.received.requests)
        destructive = sim.received.destructive
        totals.counts["destructive requests received (per device)"] += len(destructive)
        totals.counts["destructive requests certainly refused"] += sum(
            e.certainly_refused for e in destructive)
        totals.counts["destructive requests applied"] += sum(e.applied for e in destructive)
        counts = sim.received.destructive_counts()
        totals.counts["devices sent a destructive request again (after a certain refusal)"] += (
            sum(1 for n in counts.values() if n > 1))
        for run in runs:
            for o in run.outcomes:
                totals.outcomes[o.status.value] += 1
                if o.from_journal:
                    totals.outcomes["(from the journal)"] += 1


async def run_trial(seed: int, size: Size, tmp: Path, totals: Totals) -> None:
    """Play the trial of ``seed`` at ``size``; raise AssertionError naming it on failure."""
    started = time.monotonic()
    rng = random.Random(seed)
    n = rng.randint(*size.devices)
    fleet = n + rng.randint(8, 16)
    async with Simulator(devices=fleet, seed=seed, time_scale=0.002) as sim:
        plan = make_plan(seed, size, sim.fleet, n, rng)
        sim.set_faults(plan.faults)
        trial = Trial(sim, plan, tmp, totals)
        try:
            await trial.play()
        except AssertionError:
            raise
        except DeviceLookupError as exc:
            # A job naming devices by uuid and by MAC is refused, before anything is sent,
            # when a MAC's look-up fails: it cannot tell whether the MAC names one of the
            # uuids. The run ends there; nothing it refused may have reached a device.
            assert sim.received.violations() == [], trial.msg(
                f"violations before a refused job: {sim.received.violations()[:3]}")
            totals.counts["jobs refused: a MAC look-up failed (nothing sent)"] += 1
            assert "nothing was sent" in str(exc), trial.msg(str(exc))
        except (Exception, asyncio.CancelledError) as exc:
            raise AssertionError(trial.msg(f"unexpected {type(exc).__name__}: {exc}")) from exc
    totals.seconds[size.name] += time.monotonic() - started
