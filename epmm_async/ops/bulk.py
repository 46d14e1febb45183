"""Bulk actions and send-message over any number of devices, chunked under both limits."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from .._logging import get_logger
from ..api.bulk import BulkApi
from ..core.actions import action_spec
from ..enums import BulkAction, MessageMode
from ..errors import EpmmError, RequestTooLargeError
from ..models import BulkResult, MessageResult
from ..validation import MacAddress
from .engine import UnitResult
from .outcomes import Outcome, OutcomeStatus, failed_outcome

__all__ = ["bulk_action_handler", "send_message_handler"]

log = get_logger("epmm_async.ops")


def _log_chunk(
    action: str,
    chunk: Sequence[str],
    started: float,
    *,
    attempts: int,
    error: EpmmError | None = None,
    invalid: int = 0,
) -> None:
    log.debug(
        "bulk.chunk",
        action=action,
        devices=len(chunk),
        attempts=attempts,
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        invalid=invalid,
        error=type(error).__name__ if error else None,
    )


class _Splitter:
    """Sends a chunk; a chunk the front end rejects as too long is split in halves and resent.

    Such a rejection (414, 431, a 400 saying the request is too large) comes before the
    application sees the request, so no device in it was acted on: resending the halves is
    safe even for wipe and retire. The largest size that was refused is remembered, so later
    chunks are cut below it before they are sent.
    """

    def __init__(
        self, action: str, send: Callable[[list[str]], Awaitable[UnitResult]]
    ) -> None:
        self.action = action
        self.send = send
        self.refused_at: int | None = None

    async def __call__(self, chunk: list[str]) -> UnitResult:
        limit = self.refused_at
        if limit is not None and len(chunk) >= limit:
            return await self._halves(chunk)
        started = time.monotonic()
        result = await self.send(chunk)
        if not isinstance(result.error, RequestTooLargeError) or len(chunk) < 2:
            if self.refused_at is not None and result.error is None:
                log.info("bulk.fit", action=self.action, devices=len(chunk))
            return result
        if self.refused_at is None or len(chunk) < self.refused_at:
            self.refused_at = len(chunk)
        log.info("bulk.split", action=self.action, devices=len(chunk),
                 status=result.error.status,
                 elapsed_ms=round((time.monotonic() - started) * 1000, 1))
        halves = await self._halves(chunk)
        halves.requests += result.requests
        return halves

    async def _halves(self, chunk: list[str]) -> UnitResult:
        middle = len(chunk) // 2
        left = await self(chunk[:middle])
        right = await self(chunk[middle:])
        return UnitResult(
            left.outcomes + right.outcomes,
            error=right.error or left.error,
            requests=left.requests + right.requests,
        )


def _failed(chunk: Sequence[str], action: str, error: EpmmError, started: float,
            named_by: dict[str, str]) -> UnitResult:
    return UnitResult(
        [failed_outcome(d, action, error, started=started, mac=named_by.get(d)) for d in chunk],
        error=error,
    )


def bulk_action_handler(
    bulk: BulkApi, action: BulkAction, *, form_body: bool, named_by: dict[str, str]
) -> Callable[[list[str]], Awaitable[UnitResult]]:
    """A unit handler that sends one bulk request for a chunk and maps it per uuid.

    The server's refusals are the same outcome as in per-device mode: a device in
    ``invalidDevices`` is INVALID, and so is an UNLOCK device listed in ``failedDevices``
    or given passcode ``NA``.
    """
    name = action_spec(action).name

    async def send(chunk: list[str]) -> UnitResult:
        started = time.monotonic()
        try:
            result = await bulk.action(action, chunk, form_body=form_body)
        except EpmmError as exc:
            _log_chunk(name, chunk, started, attempts=exc.attempts, error=exc)
            return _failed(chunk, name, exc, started, named_by)
        _log_chunk(name, chunk, started, attempts=result.attempts,
                   invalid=len(result.invalid_devices))
        return UnitResult(_per_device(name, chunk, result, started, named_by))

    return _Splitter(name, send)


def _per_device(
    action: str, chunk: list[str], result: BulkResult, started: float,
    named_by: dict[str, str],
) -> list[Outcome]:
    elapsed = time.monotonic() - started
    invalid = {u.strip().lower() for u in result.invalid_devices}
    passcodes = {(p.uuid or "").strip().lower(): p.value for p in result.passcodes}
    failed_text = " ".join(result.failed_devices).lower()
    message = "; ".join(result.messages) or None
    outcomes = []
    for device in chunk:
        status, reason = OutcomeStatus.SUCCEEDED, None
        error = detail = None
        passcode = passcodes.get(device)
        if result.invalid_action:
            status, reason, error = OutcomeStatus.FAILED, "invalid_action", "server: Invalid action"
        elif device in invalid:
            status, reason, detail = OutcomeStatus.INVALID, "invalid_device", (
                "listed in invalidDevices")
        elif failed_text and device in failed_text:
            status, reason, detail = OutcomeStatus.INVALID, "unlock_failed", (
                "listed in failedDevices")
        elif action == "unlock" and (passcode or "").strip().upper() == "NA":
            status, reason, detail = OutcomeStatus.INVALID, "unlock_not_possible", (
                "passcode NA: unlock not possible")
        else:
            detail = message
        outcomes.append(Outcome(
            device=device, action=action, status=status, reason=reason, attempts=result.attempts,
            elapsed=elapsed, passcode=passcode, error=error, detail=detail,
            mac=named_by.get(device),
        ))
    return outcomes


def send_message_handler(
    bulk: BulkApi,
    *,
    message: str,
    mode: MessageMode,
    subject: str | None,
    by_mac: bool,
    form_body: bool,
) -> Callable[[list[str]], Awaitable[UnitResult]]:
    """A unit handler that sends one send-message request for a chunk."""
    action = "message"

    async def send(chunk: list[str]) -> UnitResult:
        started = time.monotonic()
        targets = [MacAddress(k) for k in chunk] if by_mac else chunk
        try:
            result: MessageResult = await bulk.send_message(
                targets, message=message, mode=mode, subject=subject, form_body=form_body
            )
        except EpmmError as exc:
            _log_chunk(action, chunk, started, attempts=exc.attempts, error=exc)
            return _failed(chunk, action, exc, started, {})
        _log_chunk(action, chunk, started, attempts=result.attempts,
                   invalid=len(result.invalid_devices))
        elapsed = time.monotonic() - started
        invalid = {u.strip().upper() if by_mac else u.strip().lower()
                   for u in result.invalid_devices}
        return UnitResult(
            [
                Outcome(
                    device=d,
                    action=action,
                    status=OutcomeStatus.INVALID if d in invalid else OutcomeStatus.SUCCEEDED,
                    reason="invalid_device" if d in invalid else None,
                    attempts=result.attempts,
                    elapsed=elapsed,
                )
                for d in chunk
            ]
        )

    return _Splitter(action, send)
