"""Per-device actions (lock, unlock, wipe, retire, wakeup, locate) with bounded concurrency."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from ..api.devices import DevicesApi
from ..errors import EpmmError, ValidationError
from ..models import ActionResult, LocateResult, RoamingResult
from ..transport import last_attempts
from ..validation import validate_reason
from .engine import UnitResult
from .outcomes import Outcome, OutcomeStatus, classify_error, error_fields

__all__ = [
    "DESTRUCTIVE_ACTIONS",
    "FAN_OUT_ACTIONS",
    "DeviceResult",
    "call_handler",
    "device_call",
]

FAN_OUT_ACTIONS = ("lock", "unlock", "wipe", "retire", "wakeup", "locate")
DESTRUCTIVE_ACTIONS = frozenset({"wipe", "retire"})
_REASON_REQUIRED = frozenset({"lock", "unlock"})


def check_fan_out_action(action: str, reason: str | None) -> str:
    """Validate a fan-out action name and its reason rule; return the action lower-cased."""
    name = str(action).strip().lower()
    if name == "wakeup_device":
        name = "wakeup"
    if name not in FAN_OUT_ACTIONS:
        raise ValidationError(
            f"unknown per-device action {action!r}; expected one of: {', '.join(FAN_OUT_ACTIONS)}"
        )
    if name in ("wakeup", "locate"):
        if reason is not None:
            raise ValidationError(f"{name} takes no reason")
    else:
        validate_reason(reason, required=name in _REASON_REQUIRED, action=name)
    return name


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
    action: str, call: Callable[[str], Awaitable[DeviceResult]]
) -> Callable[[str], Awaitable[UnitResult]]:
    """A unit handler that makes ``call`` for one device and maps its answer or error."""

    async def handle(device: str) -> UnitResult:
        started = time.monotonic()
        try:
            result = await call(device)
        except EpmmError as exc:
            return UnitResult(
                [
                    Outcome(
                        device=device,
                        action=action,
                        status=classify_error(exc),
                        attempts=last_attempts(),
                        elapsed=time.monotonic() - started,
                        **error_fields(exc),  # type: ignore[arg-type]
                    )
                ],
                error=exc,
            )
        passcode = None
        location = None
        if isinstance(result, ActionResult) and result.passcodes:
            passcode = result.passcodes[0].value
        elif isinstance(result, ActionResult) and result.unlock_passcode:
            passcode = result.unlock_passcode
        if isinstance(result, LocateResult):
            location = result.latest
        detail = "; ".join(result.messages) or None
        return UnitResult(
            [
                Outcome(
                    device=device,
                    action=action,
                    status=OutcomeStatus.SUCCEEDED,
                    attempts=last_attempts(),
                    elapsed=time.monotonic() - started,
                    passcode=passcode,
                    location=location,
                    detail=detail,
                )
            ]
        )

    return handle
