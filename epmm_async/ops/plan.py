"""A job before it runs: the settings every operation takes, and the plan the engine runs.

A :class:`JobPlan` is what an operation makes of its arguments once its devices are known:
the action, the devices, how they are cut into units (one device, or one chunk), and the
handler that sends a unit and maps its answer to a :class:`UnitResult`. The engine
(:mod:`epmm_async.ops.engine`) runs it; a preview (:mod:`epmm_async.ops.preview`) lays it out.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

from ..core.requests import ApiRequest
from ..errors import EpmmError, ValidationError
from .outcomes import Outcome, ProgressCallback

__all__ = ["JobPlan", "JobSettings", "UnitResult", "check_positive"]

U = TypeVar("U")


def check_positive(value: object, what: str, *, integer: bool) -> None:
    """Raise a ValidationError unless ``value`` is a positive number (an integer if asked)."""
    number = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not number or not value > 0:  # type: ignore[operator]
        kind = "integer" if integer else "number"
        raise ValidationError(f"{what} must be a positive {kind}, not {value!r}")


@dataclass(frozen=True, slots=True)
class JobSettings:
    """What every operation accepts besides its devices.

    ``concurrency`` and ``rate`` left at None take the operation's default (bulk: 4 requests
    in flight; fan-out: 16); the operation's own ``concurrency=``/``rate=`` arguments win.
    """

    concurrency: int | None = None
    """Requests in flight at most."""
    rate: float | None = None
    """Requests per second for this job only, on top of the client's own limit."""
    journal: str | os.PathLike[str] | None = None
    """Path of the journal that makes the job resumable; it holds this one job."""
    resend_unknown: bool = False
    """Resend destructive actions whose outcome an earlier run left unknown."""
    progress: ProgressCallback | None = None
    stop: anyio.Event | None = None
    """Set it to stop: no new requests, waits end at once, the rest reported CANCELLED."""
    max_consecutive_outages: int = 10
    """Abort when this many units in a row fail with the server unreachable or down."""
    skip: Mapping[str, str] | None = None
    """Pre-flight: devices (by lower-case uuid) not to send to, each with the reason (a
    refused state, ``wiped``). Each is reported SKIPPED with that reason, first, like the
    other outcomes known before the run; the rest of the job is unchanged. Keys match the
    job's device keys: a device named by MAC in a job that does not resolve MACs (an all-MAC
    fan-out without a journal) is keyed by its MAC, not its uuid. A journal's record of an
    earlier run wins over a skip."""

    def __post_init__(self) -> None:
        if self.concurrency is not None:
            check_positive(self.concurrency, "concurrency", integer=True)
        if self.rate is not None:
            check_positive(self.rate, "rate", integer=False)
        check_positive(self.max_consecutive_outages, "max_consecutive_outages", integer=True)


@dataclass(slots=True)
class UnitResult:
    """What a unit produced: one outcome per device, and the error that shaped them."""

    outcomes: list[Outcome]
    error: EpmmError | None = None
    requests: int = 1


@dataclass(slots=True)
class JobPlan(Generic[U]):
    """A job ready to run: what it is, its devices, and how a unit is made and handled."""

    action: str
    """The registry's name of the action (``wipe``), in outcomes and the journal."""
    keys: list[str]
    """The devices, deduplicated, in order."""
    make_units: Callable[[list[str]], list[U]]
    unit_keys: Callable[[U], list[str]]
    handle: Callable[[U], Awaitable[UnitResult]]
    destructive: bool
    concurrency: int
    rate: float | None = None
    early: list[Outcome] = field(default_factory=list)
    """Outcomes decided before the job runs (a MAC that names no device)."""
    request: Callable[[U], ApiRequest] | None = None
    """The first request a unit sends, as its handler builds it: what a plan shows."""
