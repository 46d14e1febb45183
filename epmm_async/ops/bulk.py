"""Bulk actions and send-message over any number of devices, chunked under both limits."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import structlog

from ..api.bulk import BulkApi
from ..core import decode, requests
from ..core.requests import ApiRequest
from ..enums import BulkAction, MessageMode
from ..errors import EpmmError
from ..transport import Response, Transport, last_attempts
from .engine import UnitResult
from .outcomes import Outcome, OutcomeStatus, classify_error, error_fields

__all__ = ["bulk_action_handler", "send_message_handler"]

log = structlog.get_logger("epmm_async.ops")


def _log_chunk(
    action: str,
    chunk: Sequence[str],
    started: float,
    *,
    error: EpmmError | None = None,
    invalid: int = 0,
) -> None:
    log.debug(
        "bulk.chunk",
        action=action,
        devices=len(chunk),
        attempts=last_attempts(),
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        invalid=invalid,
        error=type(error).__name__ if error else None,
    )


def _failed_outcomes(
    chunk: Sequence[str], action: str, error: EpmmError, started: float
) -> UnitResult:
    status = classify_error(error)
    fields = error_fields(error)
    elapsed = time.monotonic() - started
    attempts = last_attempts()
    return UnitResult(
        [
            Outcome(
                device=d,
                action=action,
                status=status,
                attempts=attempts,
                elapsed=elapsed,
                **fields,  # type: ignore[arg-type]
            )
            for d in chunk
        ],
        error=error,
    )


async def _send(transport: Transport, bulk: BulkApi, req: ApiRequest) -> Response | None:
    bulk.check(req)
    resp = await transport.send(req)
    return None if resp.no_data is not None else resp


def bulk_action_handler(
    transport: Transport, bulk: BulkApi, action: BulkAction, *, form_body: bool
) -> Callable[[list[str]], Awaitable[UnitResult]]:
    """A unit handler that sends one bulk request for a chunk and maps it per uuid."""

    async def handle(chunk: list[str]) -> UnitResult:
        started = time.monotonic()
        req = requests.bulk_action(action, chunk, form_body=form_body)
        try:
            answer = await _send(transport, bulk, req)
            result = decode.decode_bulk(answer.body, answer.format) if answer else None
        except EpmmError as exc:
            _log_chunk(action.value, chunk, started, error=exc)
            return _failed_outcomes(chunk, action.value, exc, started)
        elapsed = time.monotonic() - started
        attempts = last_attempts()
        _log_chunk(action.value, chunk, started,
                   invalid=len(result.invalid_devices) if result else len(chunk))
        if result is None:
            # A 404 "no data" for a bulk request: none of the devices exist.
            return UnitResult(
                [
                    Outcome(device=d, action=action.value, status=OutcomeStatus.INVALID,
                            attempts=attempts, elapsed=elapsed, detail="server: no such devices")
                    for d in chunk
                ]
            )
        invalid = {u.strip().lower() for u in result.invalid_devices}
        passcodes = {(p.uuid or "").strip().lower(): p.value for p in result.passcodes}
        failed_text = " ".join(result.failed_devices).lower()
        message = "; ".join(result.messages) or None
        outcomes = []
        for device in chunk:
            if result.invalid_action:
                outcomes.append(Outcome(device=device, action=action.value,
                                        status=OutcomeStatus.FAILED, attempts=attempts,
                                        elapsed=elapsed, error="server: Invalid action"))
            elif device in invalid:
                outcomes.append(Outcome(device=device, action=action.value,
                                        status=OutcomeStatus.INVALID, attempts=attempts,
                                        elapsed=elapsed, detail="listed in invalidDevices"))
            elif failed_text and device in failed_text:
                outcomes.append(Outcome(device=device, action=action.value,
                                        status=OutcomeStatus.FAILED, attempts=attempts,
                                        elapsed=elapsed, error="listed in failedDevices"))
            else:
                outcomes.append(Outcome(device=device, action=action.value,
                                        status=OutcomeStatus.SUCCEEDED, attempts=attempts,
                                        elapsed=elapsed, passcode=passcodes.get(device),
                                        detail=message))
        return UnitResult(outcomes)

    return handle


def send_message_handler(
    transport: Transport,
    bulk: BulkApi,
    *,
    message: str,
    mode: MessageMode,
    subject: str | None,
    by_mac: bool,
    form_body: bool,
) -> Callable[[list[str]], Awaitable[UnitResult]]:
    """A unit handler that sends one send-message request for a chunk."""
    action = "MESSAGE"

    async def handle(chunk: list[str]) -> UnitResult:
        started = time.monotonic()
        req = requests.send_message(chunk, message=message, mode=mode, subject=subject,
                                    by_mac=by_mac, form_body=form_body)
        try:
            answer = await _send(transport, bulk, req)
            result = decode.decode_message_result(answer.body, answer.format) if answer else None
        except EpmmError as exc:
            _log_chunk(action, chunk, started, error=exc)
            return _failed_outcomes(chunk, action, exc, started)
        _log_chunk(action, chunk, started,
                   invalid=len(result.invalid_devices) if result else len(chunk))
        elapsed = time.monotonic() - started
        attempts = last_attempts()
        invalid = (
            {u.strip().upper() if by_mac else u.strip().lower() for u in result.invalid_devices}
            if result
            else set(chunk)
        )
        return UnitResult(
            [
                Outcome(
                    device=d,
                    action=action,
                    status=OutcomeStatus.INVALID if d in invalid else OutcomeStatus.SUCCEEDED,
                    attempts=attempts,
                    elapsed=elapsed,
                )
                for d in chunk
            ]
        )

    return handle
