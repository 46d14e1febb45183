"""Bulk actions and send-message over any number of devices, chunked under both limits:
the jobs (``bulk_job``, ``send_message_job``, behind ``epmm.ops.stream_bulk`` and
``stream_send_message``) and the handlers that send a chunk and map its answer per device."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from .._logging import get_logger
from ..api.bulk import BulkApi
from ..core import requests
from ..core.actions import ACTIONS, action_spec
from ..core.requests import ApiRequest
from ..enums import BulkAction, MessageMode
from ..errors import EpmmError, RequestTooLargeError, ValidationError
from ..models import BulkResult, MessageResult
from ..validation import is_mac_key, key_target, validate_text
from .gather import DeviceInput, JobDevices, device_keys, resolve
from .jobs import Job, chunker, knobs
from .outcomes import Outcome, OutcomeStatus, failed_outcome
from .plan import JobPlan, JobSettings, UnitResult, check_positive
from .session import Session

__all__ = ["bulk_action_handler", "bulk_job", "send_message_handler", "send_message_job"]

log = get_logger("epmm_async.ops")

BULK_CONCURRENCY = 4
"""Bulk requests in flight at most, unless the job says otherwise."""


def bulk_job(
    session: Session,
    action: str | BulkAction,
    uuids: DeviceInput,
    *,
    settings: JobSettings | None = None,
    max_uuids: int | None = None,
    max_request_line: int | None = None,
    form_body: bool = False,
    concurrency: int | None = None,
    rate: float | None = None,
) -> Job[list[str]]:
    """Send ``action`` to every device in as few bulk requests as both limits allow.

    The devices (uuids, ``Device`` objects, or ``MacAddress``es, which are resolved to
    uuids first) are validated and deduplicated before anything is sent; chunks respect
    ``max_uuids`` (default: the client's ``bulk_max_uuids``) and the request budget
    (default: the client's ``max_request_line``, less the headers), whichever binds
    first. A chunk the server rejects as too long is split in halves and resent.
    ``form_body=True`` puts the uuids in a form body (count limit only). Yields one
    outcome per device.
    """
    act = BulkAction.parse(action)
    spec = action_spec(act)
    job, workers, job_rate = knobs(settings, concurrency, rate, BULK_CONCURRENCY)
    limits = session.bulk_limits
    for value, what in ((max_uuids, "max_uuids"), (max_request_line, "max_request_line")):
        if value is not None:
            check_positive(value, what, integer=True)
    count_limit = max_uuids or limits.max_uuids
    line_limit = max_request_line or limits.max_request_line
    if count_limit > limits.max_uuids or line_limit > limits.max_request_line:
        raise ValidationError(
            f"per-call limits may only tighten the client's: client limits are {limits!r}"
        )

    async def gather() -> JobDevices:
        keys = await device_keys(uuids)
        return await resolve(session.devices, keys, spec.name, always=True, stop=job.stop)

    def request(chunk: Sequence[str]) -> ApiRequest:
        return requests.bulk_action(act, chunk, form_body=form_body)

    def build(found: JobDevices) -> JobPlan[list[str]]:
        return JobPlan(
            action=spec.name,
            keys=list(found.keys),
            make_units=chunker(session, request, max_ids=count_limit,
                               line_limit=None if form_body else line_limit),
            unit_keys=list,
            handle=bulk_action_handler(session.bulk, act, form_body=form_body,
                                       named_by=found.named_by),
            destructive=spec.destructive,
            concurrency=workers,
            rate=job_rate,
            early=list(found.early),
            request=request,
        )

    return Job("bulk", {"action": spec.name, "reason": ""}, job, gather, build)


def send_message_job(
    session: Session,
    devices: DeviceInput,
    *,
    message: str,
    mode: str | MessageMode,
    subject: str | None = None,
    settings: JobSettings | None = None,
    form_body: bool = False,
    concurrency: int | None = None,
    rate: float | None = None,
) -> Job[list[str]]:
    """Send a message to any number of devices (all uuids, or all MACs), chunked.

    ``form_body=True`` puts the devices in a form body, so chunks are bounded by count
    only (the query keeps the message).
    """
    kind = MessageMode.parse(mode)
    validate_text(message, what="message")
    if subject is not None:
        validate_text(subject, what="subject")
        if kind is not MessageMode.EMAIL:
            raise ValidationError("subject is valid only with mode=email")
    job, workers, job_rate = knobs(settings, concurrency, rate, BULK_CONCURRENCY)
    spec = ACTIONS["message"]

    async def gather() -> JobDevices:
        keys = await device_keys(devices)
        by_mac = bool(keys) and is_mac_key(keys[0])
        if any(is_mac_key(k) != by_mac for k in keys):
            raise ValidationError(
                "send_message takes all uuids or all MAC addresses, not a mix"
            )
        return JobDevices(keys)

    def build(found: JobDevices) -> JobPlan[list[str]]:
        keys = list(found.keys)
        by_mac = bool(keys) and is_mac_key(keys[0])
        limits = session.bulk_limits

        def request(chunk: Sequence[str]) -> ApiRequest:
            return requests.send_message(
                chunk, message=message, mode=kind, subject=subject, by_mac=by_mac,
                form_body=form_body,
            )

        return JobPlan(
            action=spec.name,
            keys=keys,
            make_units=chunker(
                session, request, max_ids=limits.max_uuids,
                line_limit=None if form_body else limits.max_request_line,
            ),
            unit_keys=list,
            handle=send_message_handler(
                session.bulk, message=message, mode=kind, subject=subject,
                by_mac=by_mac, form_body=form_body,
            ),
            destructive=spec.destructive,
            concurrency=workers,
            rate=job_rate,
            request=request,
        )

    identity = {"action": spec.name, "message": message, "mode": kind.value,
                "subject": subject or ""}
    return Job("send-message", identity, job, gather, build)


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
        # All uuids or all MACs (the job refuses a mix): each key as the API takes it.
        targets = [key_target(k) for k in chunk]
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
        # "Sending failed" naming no device: which ones got it is not known.
        unnamed = result.message_sent_failed and not invalid
        return UnitResult(
            [
                Outcome(
                    device=d,
                    action=action,
                    status=(OutcomeStatus.INVALID if d in invalid else
                            OutcomeStatus.UNKNOWN if unnamed else OutcomeStatus.SUCCEEDED),
                    reason=("invalid_device" if d in invalid else
                            "message_sent_failed" if unnamed else None),
                    attempts=result.attempts,
                    elapsed=elapsed,
                )
                for d in chunk
            ]
        )

    return _Splitter(action, send)
