"""Locate-now: ask each device for a fresh fix, then poll until it lands or time runs out.

``locate_now_job`` is the job behind ``epmm.ops.stream_locate_now``; ``locate_now_handler``
handles one device."""

from __future__ import annotations

import datetime as _dt
import random
import re
import time
from collections.abc import Awaitable, Callable, Collection

import anyio

from ..api.devices import DevicesApi
from ..core import requests
from ..core.actions import ACTIONS
from ..errors import EpmmError, JobInterrupted
from ..models import Device, LocateResult, Location
from ..validation import key_target
from .fanout import FAN_OUT_CONCURRENCY
from .gather import DeviceInput, JobDevices, device_keys, resolve
from .jobs import Job, knobs
from .outcomes import Freshness, Outcome, OutcomeStatus, failed_outcome
from .plan import JobPlan, JobSettings, UnitResult
from .session import Session
from .waiter import Waiter, WaiterGaveUp

__all__ = ["ignores_locate_now", "locate_now_handler", "locate_now_job"]

ACTION = "locate_now"

# Waiting devices are cheap tasks; this bounds them all the same.
_MAX_WAITING = 20_000

# ``platform`` as the list endpoints give it: "iOS 15.8", "iPadOS 17.1" (Android: "Android
# 4.4"). ``platformType`` is seen on real servers but its values are not documented: IOS (as
# the simulator sends it), IPHONE and IPAD are taken as iOS.
_IOS_PLATFORM = re.compile(r"\s*(ios|ipados|iphone|ipad)\b", re.IGNORECASE)
_IOS_TYPES = frozenset({"ios", "ipados", "iphone", "ipad"})


def locate_now_job(
    session: Session,
    devices: DeviceInput,
    *,
    deadline: float = 90.0,
    interval: float = 5.0,
    jitter: float = 0.2,
    concurrency: int | None = None,
    rate: float | None = None,
    settings: JobSettings | None = None,
) -> Job[str]:
    """Ask each device for a fresh fix, then poll until it arrives (FRESH), the device
    is known to ignore the request (UNSUPPORTED, iOS: answered at once), or ``deadline``
    seconds pass (STALE: the last known location). A device is known to be iOS from the
    server's answer (``locateNow`` false) or from its record: given as a
    :class:`~epmm_async.models.Device`, or found by a MAC look-up the job made anyway,
    an iOS device (``platform`` "iOS 15.8", ``platformType`` IOS/IPHONE/IPAD) is not
    asked for a fix nor polled: one plain locate gives its last known location. All
    requests share ``concurrency`` slots (default 16); waiting does not hold one. A stop
    or cancel ends every wait at once: devices still waiting are CANCELLED, with their
    last known location."""
    waiter = Waiter(interval=interval, deadline=deadline, jitter=jitter)
    job, cap, job_rate = knobs(settings, concurrency, rate, FAN_OUT_CONCURRENCY)
    spec = ACTIONS[ACTION]

    async def gather() -> JobDevices:
        records: dict[str, Device] = {}
        keys = await device_keys(devices, records)
        return await resolve(session.devices, keys, spec.name, always=False, stop=job.stop,
                             listed=records)

    def build(found: JobDevices) -> JobPlan[str]:
        ios = frozenset(key for key, record in found.records.items()
                        if ignores_locate_now(record))
        limiter = anyio.CapacityLimiter(cap)
        keys = list(found.keys)
        return JobPlan(
            action=spec.name,
            keys=keys,
            make_units=lambda todo: todo,
            unit_keys=lambda key: [key],
            handle=locate_now_handler(session.devices, waiter, limiter,
                                      named_by=found.named_by, ios=ios),
            destructive=False,
            # Waiting does not hold a request slot: every device may wait at once.
            concurrency=max(1, min(len(keys), _MAX_WAITING)),
            rate=job_rate,
            early=list(found.early),
            # An iOS device known by its record gets one plain locate, never locate-now.
            request=lambda key: requests.locate(key_target(key), key not in ios),
        )

    return Job("locate-now", {"action": spec.name}, job, gather, build,
               max_polls=waiter.max_polls)


def _newest(result: LocateResult) -> _dt.datetime | None:
    latest = result.latest
    return latest.captured_at if latest is not None else None


def ignores_locate_now(device: Device) -> bool:
    """Whether ``device`` is iOS (or iPadOS), to which the document says locate-now does not
    apply, from its own record.

    The first field the record has decides: ``platform`` ("iOS 15.8"), else ``platformType``
    (IOS, IPHONE, IPAD), else the details' ``platform_type`` (iPhone or iPad, for iOS only)
    or ``platform_name`` (iPhone "for all iOS devices"). A record with none of them is not
    known to be iOS.
    """
    if device.platform and device.platform.strip():
        return _IOS_PLATFORM.match(device.platform) is not None
    if device.platform_type and device.platform_type.strip():
        return device.platform_type.strip().lower() in _IOS_TYPES
    details = device.details
    for key in ("platform_type", "platform_name"):
        value = details.get(key)
        if value and value.strip():
            return value.strip().lower() in ("iphone", "ipad")
    return False


def locate_now_handler(
    devices: DevicesApi,
    waiter: Waiter,
    limiter: anyio.CapacityLimiter,
    *,
    named_by: dict[str, str] | None = None,
    ios: Collection[str] = frozenset(),
) -> Callable[[str], Awaitable[UnitResult]]:
    """A unit handler: one ``locatenow=true`` request, then plain locates until fresh.

    Freshness is judged against the newest fix the server held when asked (not the local
    clock), so clock skew between client and server cannot fake a fresh fix. A device known
    to be iOS (``ios``: the keys whose record says so, :func:`ignores_locate_now`) gets one
    plain locate and is answered at once, UNSUPPORTED, with its last known location; so is a
    device whose answer says ``locateNow`` false. Either one alone suffices: a server that
    echoes ``locateNow`` true for an iOS device does not make the job poll it until the
    deadline. Every request takes a slot of ``limiter``; waiting between polls does not, so
    thousands of devices waiting do not hold the concurrency cap. A halt ends the wait: the
    device is CANCELLED, with the last location seen.
    """
    rng = random.Random()
    macs = named_by or {}

    async def handle(device: str) -> UnitResult:
        started = time.monotonic()
        mac = macs.get(device)
        if device in ios:
            return await _last_known(device, started, mac)
        target = key_target(device)
        try:
            async with limiter:
                first = await devices.locate(target, locate_now=True)
        except EpmmError as exc:
            return UnitResult(
                [failed_outcome(device, ACTION, exc, started=started, per_device=True, mac=mac)],
                error=exc,
            )
        baseline = _newest(first)
        if first.locate_now is False:
            return UnitResult(
                [_answer(device, first.latest, Freshness.UNSUPPORTED, started, 0, mac,
                         "device ignores locate-now (iOS): last known location")]
            )

        def fresh(result: LocateResult) -> bool:
            newest = _newest(result)
            return newest is not None and (baseline is None or newest > baseline)

        last = first

        async def poll() -> LocateResult:
            nonlocal last
            async with limiter:
                last = await devices.locate(target)
            return last

        try:
            result, polls = await waiter.wait(poll, fresh, rng=rng)
        except WaiterGaveUp as gave_up:
            return UnitResult(
                [_answer(device, last.latest, Freshness.STALE, started, gave_up.polls, mac,
                         "no fresh fix before the deadline: last known location")],
                requests=1 + gave_up.polls,
            )
        except JobInterrupted as stopped:
            return UnitResult(
                [Outcome(device=device, action=ACTION, status=OutcomeStatus.CANCELLED,
                         reason="interrupted", attempts=1 + stopped.attempts,
                         elapsed=time.monotonic() - started, location=last.latest, mac=mac,
                         detail="stopped while waiting for a fresh fix: last known location")],
                requests=1 + stopped.attempts,
            )
        except EpmmError as exc:
            return UnitResult(
                [failed_outcome(device, ACTION, exc, started=started, per_device=True,
                                location=last.latest, mac=mac)],
                error=exc,
            )
        return UnitResult(
            [_answer(device, result.latest, Freshness.FRESH, started, polls, mac, None)],
            requests=1 + polls,
        )

    async def _last_known(device: str, started: float, mac: str | None) -> UnitResult:
        # iOS by its record: locate-now does not apply, so it is not asked for, and the
        # last known fix is the answer.
        try:
            async with limiter:
                result = await devices.locate(key_target(device))
        except EpmmError as exc:
            return UnitResult(
                [failed_outcome(device, ACTION, exc, started=started, per_device=True, mac=mac)],
                error=exc,
            )
        return UnitResult(
            [_answer(device, result.latest, Freshness.UNSUPPORTED, started, 0, mac,
                     "iOS by its platform: locate-now does not apply; last known location")]
        )

    return handle


def _answer(
    device: str,
    location: Location | None,
    freshness: Freshness,
    started: float,
    polls: int,
    mac: str | None,
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
        mac=mac,
    )
