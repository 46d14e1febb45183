"""One operation as a :class:`Job`, and the one place a job is run or laid out as a preview.

Each operation (``bulk.bulk_job``, ``fanout.fan_out_job``...) checks its arguments and
returns a :class:`Job`: how its devices are gathered (the only I/O before the run: MAC
look-ups) and how its plan is built from them. :func:`stream_job` runs it and
:func:`plan_job` lays it out, both from the same gathering and the same builder, so a
preview shows what the run sends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..core.requests import ApiRequest
from .chunking import plan_chunks
from .engine import run_job
from .gather import JobDevices, skipped
from .outcomes import Outcome
from .plan import JobPlan, JobSettings, check_positive
from .preview import JobPreview, PlannedRequest
from .session import Session

__all__ = ["Job", "chunker", "knobs", "plan_job", "stream_job"]

U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class Job(Generic[U]):
    """One operation with its arguments checked: how its devices are gathered and how its
    plan is built from them. ``stream_*`` and ``plan_*`` share it, so a preview is laid out
    by the code that runs the job."""

    how: str
    """``bulk``, ``send-message``, ``per-device``, ``locate-now`` or ``label-membership``
    (see JobPreview.how)."""
    identity: dict[str, str]
    """The action and its parameters: what the journal holds the job as."""
    settings: JobSettings
    gather: Callable[[], Awaitable[JobDevices]]
    build: Callable[[JobDevices], JobPlan[U]]
    max_polls: int = 0

    async def devices(self) -> JobDevices:
        """Gather the job's devices, the pre-flight's skips taken out."""
        return skipped(await self.gather(), self.settings.skip, self.identity["action"])


def knobs(
    settings: JobSettings | None, concurrency: int | None, rate: float | None, default: int
) -> tuple[JobSettings, int, float | None]:
    """The job's settings, concurrency and rate: the argument, else the settings, else the
    operation's default. Checked before anything is sent."""
    job = settings or JobSettings()
    if concurrency is not None:
        check_positive(concurrency, "concurrency", integer=True)
    if rate is not None:
        check_positive(rate, "rate", integer=False)
    return job, concurrency or job.concurrency or default, rate if rate is not None else job.rate


def chunker(
    session: Session,
    build: Callable[[Sequence[str]], ApiRequest],
    *,
    max_ids: int,
    line_limit: int | None,
) -> Callable[[list[str]], list[list[str]]]:
    """The units of a bulk job: chunks of at most ``max_ids`` devices whose request fits
    the request budget (``line_limit`` less the headers; None: a form body, count only)."""
    budget = session.request_budget(line_limit) if line_limit is not None else None
    base = session.base_path

    def units(todo: list[str]) -> list[list[str]]:
        return list(plan_chunks(todo, build, max_ids=max_ids, max_request_line=budget,
                                base_path=base))

    return units


def _run(
    session: Session, job: Job[U], prepare: Callable[[], Awaitable[JobPlan[U]]]
) -> AsyncGenerator[Outcome, None]:
    return run_job(session.runs, job.identity, prepare, job.settings)


def stream_job(session: Session, job: Job[U]) -> AsyncGenerator[Outcome, None]:
    """Run ``job``: the journal is opened first, then its devices are gathered."""

    async def prepare() -> JobPlan[U]:
        return job.build(await job.devices())

    return _run(session, job, prepare)


async def plan_job(session: Session, job: Job[U]) -> JobPreview:
    """Gather ``job``'s devices and lay out its requests; the preview runs that plan."""
    found = await job.devices()
    plan = job.build(found)
    describe = plan.request
    planned: tuple[PlannedRequest, ...] = ()
    if describe is not None:
        planned = tuple(
            PlannedRequest(describe(unit), tuple(plan.unit_keys(unit)))
            for unit in plan.make_units(list(plan.keys))
        )

    async def prepare() -> JobPlan[U]:
        # A fresh plan (handlers keep per-run state) over the devices gathered once.
        return job.build(found)

    def start() -> AsyncGenerator[Outcome, None]:
        return _run(session, job, prepare)

    return JobPreview(
        action=plan.action,
        how=job.how,
        devices=tuple(plan.keys),
        requests=planned,
        early=tuple(plan.early),
        lookups=found.lookups,
        destructive=plan.destructive,
        max_polls=job.max_polls,
        _start=start,
    )
