"""Locate-now: ask each device for a fresh fix, then poll until it lands or time runs out."""

from __future__ import annotations

import datetime as _dt
import random
import time
from collections.abc import Awaitable, Callable

import anyio

from ..api.devices import DevicesApi
from ..errors import EpmmError
from ..models import LocateResult, Location
from ..transport import last_attempts
from .engine import UnitResult
from .outcomes import Freshness, Outcome, OutcomeStatus, classify_error, error_fields
from .waiter import Waiter, WaiterGaveUp

__all__ = ["locate_now_handler"]

ACTION = "locate_now"


def _newest(result: LocateResult) -> _dt.datetime | None:
    latest = result.latest
    return latest.captured_at if latest is not None else None


def locate_now_handler(
    devices: DevicesApi, waiter: Waiter, limiter: anyio.CapacityLimiter
) -> Callable[[str], Awaitable[UnitResult]]:
    """A unit handler: one ``locatenow=true`` request, then plain locates until fresh.

    Freshness is judged against the newest fix the server held when asked (not the local
    clock), so clock skew between client and server cannot fake a fresh fix. A device
    whose answer says ``locateNow`` false (iOS ignores the parameter) is answered at once
    with its last known location. Every request takes a slot of ``limiter``; waiting between
    polls does not, so thousands of devices waiting do not hold the concurrency cap.
    """
    rng = random.Random()

    async def handle(device: str) -> UnitResult:
        started = time.monotonic()
        requests = 1
        try:
            async with limiter:
                first = await devices.locate(device, locate_now=True)
        except EpmmError as exc:
            return UnitResult(
                [Outcome(device=device, action=ACTION, status=classify_error(exc),
                         attempts=last_attempts(), elapsed=time.monotonic() - started,
                         **error_fields(exc))],  # type: ignore[arg-type]
                error=exc,
            )
        baseline = _newest(first)
        if first.locate_now is False:
            return UnitResult(
                [_answer(device, first.latest, Freshness.UNSUPPORTED, started, 0,
                         "device ignores locate-now (iOS): last known location")]
            )

        def fresh(result: LocateResult) -> bool:
            newest = _newest(result)
            return newest is not None and (baseline is None or newest > baseline)

        async def poll() -> LocateResult:
            async with limiter:
                return await devices.locate(device)

        try:
            result, polls = await waiter.wait(poll, fresh, rng=rng)
        except WaiterGaveUp as gave_up:
            last = gave_up.last if isinstance(gave_up.last, LocateResult) else first
            return UnitResult(
                [_answer(device, last.latest, Freshness.STALE, started, gave_up.polls,
                         "no fresh fix before the deadline: last known location")],
                requests=requests + gave_up.polls,
            )
        except EpmmError as exc:
            return UnitResult(
                [Outcome(device=device, action=ACTION, status=classify_error(exc),
                         attempts=last_attempts(), elapsed=time.monotonic() - started,
                         location=first.latest,
                         **error_fields(exc))],  # type: ignore[arg-type]
                error=exc,
            )
        return UnitResult(
            [_answer(device, result.latest, Freshness.FRESH, started, polls, None)],
            requests=requests + polls,
        )

    return handle


def _answer(
    device: str,
    location: Location | None,
    freshness: Freshness,
    started: float,
    polls: int,
    detail: str | None,
) -> Outcome:
    return Outcome(
        device=device,
        action=ACTION,
        status=OutcomeStatus.SUCCEEDED,
        attempts=1 + polls,
        elapsed=time.monotonic() - started,
        location=location,
        freshness=freshness,
        polls=polls,
        detail=detail,
    )
