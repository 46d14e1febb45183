"""Per-device actions (lock, unlock, wipe, retire, wakeup, locate) with bounded concurrency."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from ..api.devices import DevicesApi
from ..core.actions import ACTIONS, ActionSpec
from ..errors import EpmmError, ValidationError
from ..models import ActionResult, LocateResult, RoamingResult
from .engine import UnitResult
from .outcomes import Outcome, OutcomeStatus, failed_outcome

__all__ = [
    "FAN_OUT_ACTIONS",
    "DeviceResult",
    "call_handler",
    "check_fan_out_action",
    "device_call",
]

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
