"""Per-device actions (lock, unlock, wipe, retire, wakeup, locate) with bounded concurrency:
the jobs (``fan_out_job``, and ``each_job`` for any per-device call, behind
``epmm.ops.stream_fan_out`` and ``stream_each``) and the handler that maps a call's answer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from ..api.devices import DevicesApi
from ..core import requests
from ..core.actions import ACTIONS, ActionSpec
from ..core.requests import ApiRequest
from ..errors import EpmmError, ValidationError
from ..models import ActionResult, LocateResult, RoamingResult
from ..validation import MacAddress, key_target
from .gather import DeviceInput, JobDevices, device_keys, resolve
from .jobs import Job, knobs
from .outcomes import Outcome, OutcomeStatus, failed_outcome
from .plan import JobPlan, JobSettings, UnitResult
from .session import Session

__all__ = [
    "FAN_OUT_ACTIONS",
    "FAN_OUT_CONCURRENCY",
    "DeviceResult",
    "call_handler",
    "check_fan_out_action",
    "device_call",
    "each_job",
    "fan_out_job",
]

FAN_OUT_CONCURRENCY = 16
"""Per-device requests in flight at most, unless the job says otherwise."""

FAN_OUT_ACTIONS = ("lock", "unlock", "wipe", "retire", "wakeup", "locate")


def check_fan_out_action(action: str, reason: str | None) -> ActionSpec:
    """Validate a fan-out action name and its reason rule (from the action registry)."""
    name = str(action).strip().lower()
    if name == "wakeup_device":
        name = "wakeup"
    if name not in FAN_OUT_ACTIONS:
        raise ValidationError(
            f"unknown per-device action {action!r}; expected one of: {', '.join(FAN_OUT_ACTIONS)}"
        )
    spec = ACTIONS[name]
    spec.check_reason(reason)
    return spec


DeviceResult = ActionResult | LocateResult | RoamingResult
"""What a per-device call answers."""


def device_call(
    devices: DevicesApi, action: str, reason: str | None
) -> Callable[[str], Awaitable[DeviceResult]]:
    """The API call that performs a fan-out ``action`` on one device."""
    if action == "lock":
        return lambda d: devices.lock(d, reason or "")
    if action == "unlock":
        return lambda d: devices.unlock(d, reason or "")
    if action == "wipe":
        return lambda d: devices.wipe(d, reason)
    if action == "retire":
        return lambda d: devices.retire(d, reason)
    if action == "wakeup":
        return devices.wakeup
    return devices.locate


def call_handler(
    action: str,
    call: Callable[[str], Awaitable[DeviceResult]],
    *,
    named_by: dict[str, str] | None = None,
) -> Callable[[str], Awaitable[UnitResult]]:
    """A unit handler that makes ``call`` for one device and maps its answer or error.

    An unlock answered with passcode ``NA`` ("not MDM managed, unlock is not possible" or
    "unlock failed", in the document) is INVALID, as the bulk answer's failed devices are.
    """
    macs = named_by or {}

    async def handle(device: str) -> UnitResult:
        started = time.monotonic()
        try:
            result = await call(device)
        except EpmmError as exc:
            outcome = failed_outcome(device, action, exc, started=started, per_device=True,
                                     mac=macs.get(device))
            return UnitResult([outcome], error=exc)
        passcode = None
        location = None
        if isinstance(result, ActionResult) and result.passcodes:
            passcode = result.passcodes[0].value
        elif isinstance(result, ActionResult) and result.unlock_passcode:
            passcode = result.unlock_passcode
        if isinstance(result, LocateResult):
            location = result.latest
        detail = "; ".join(result.messages) or None
        not_possible = action == "unlock" and (passcode or "").strip().upper() == "NA"
        return UnitResult(
            [
                Outcome(
                    device=device,
                    action=action,
                    status=OutcomeStatus.INVALID if not_possible else OutcomeStatus.SUCCEEDED,
                    reason="unlock_not_possible" if not_possible else None,
                    attempts=result.attempts,
                    elapsed=time.monotonic() - started,
                    passcode=passcode,
                    location=location,
                    detail=detail,
                    mac=macs.get(device),
                )
            ]
        )

    return handle


def fan_out_job(
    session: Session,
    action: str,
    devices: DeviceInput,
    *,
    reason: str | None = None,
    settings: JobSettings | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
) -> Job[str]:
    """Run a per-device action (lock, unlock, wipe, retire, wakeup, locate) on each
    device, at most ``concurrency`` requests in flight, at most ``rate`` per second for
    this job (on top of the client's own limit). Outcomes come in completion order."""
    spec = check_fan_out_action(action, reason)
    name = spec.name

    def request(device: str | MacAddress) -> ApiRequest:
        if name == "locate":
            return requests.locate(device)
        return requests.device_action(name, device, reason)

    return each_job(
        session,
        name,
        devices,
        device_call(session.devices, name, reason),
        request=request,
        destructive=spec.destructive,
        job_params={"reason": reason or ""},
        settings=settings,
        concurrency=concurrency,
        rate=rate,
    )


def each_job(
    session: Session,
    action: str,
    devices: DeviceInput,
    call: Callable[[str | MacAddress], Awaitable[DeviceResult]],
    *,
    request: Callable[[str | MacAddress], ApiRequest] | None = None,
    destructive: bool = False,
    job_params: dict[str, str] | None = None,
    settings: JobSettings | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
) -> Job[str]:
    """Make ``call`` for each device (a uuid, or a :class:`MacAddress`), named ``action``
    in outcomes and the journal, with the fan-out's cap, rate limit, retries, journal
    and cancellation: for per-device calls the fan-out has no name for (roaming,
    re-push). ``destructive`` calls are journalled pending before they are sent;
    ``job_params`` (the call's arguments) make a journal refuse another job's calls. A
    call that raises something other than an :class:`~epmm_async.errors.EpmmError`
    leaves its device UNKNOWN (it may have sent its request); the others go on.
    ``request`` (the request ``call`` sends for a device) is what :meth:`plan_each`
    shows; the run does not need it."""
    job, workers, job_rate = knobs(settings, concurrency, rate, FAN_OUT_CONCURRENCY)
    known = ACTIONS.get(action.strip().lower())
    name = known.name if known is not None else action
    # The registry decides what is destructive: a wipe is journalled pending and never
    # resent, however the caller declared it.
    destructive = destructive or (known is not None and known.destructive)

    async def gather() -> JobDevices:
        keys = await device_keys(devices)
        # With a journal, a destructive job names devices by uuid only: a resume that
        # names a device by its other name must still find it.
        always = destructive and job.journal is not None
        return await resolve(session.devices, keys, name, always=always, stop=job.stop)

    def build(found: JobDevices) -> JobPlan[str]:
        return JobPlan(
            action=name,
            keys=list(found.keys),
            make_units=lambda todo: todo,
            unit_keys=lambda key: [key],
            handle=call_handler(name, lambda key: call(key_target(key)),
                                named_by=found.named_by),
            destructive=destructive,
            concurrency=workers,
            rate=job_rate,
            early=list(found.early),
            request=(lambda key: request(key_target(key))) if request is not None else None,
        )

    return Job("per-device", {"action": name, **(job_params or {})}, job, gather, build)
