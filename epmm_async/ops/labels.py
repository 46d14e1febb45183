"""Static-label membership over any number of devices (API v2): the jobs behind
``epmm.ops.stream_label_add`` / ``stream_label_remove`` and the handler that sends a chunk,
splits what the server refuses as too large, and maps its answer per device.

How many uuids one ``PUT /api/v2/devices/labels/{name}/add|remove`` takes is not documented,
so chunks are small (``max_uuids``, 100 by default) and the job learns the server's cap as it
goes (:class:`_Cap`). Membership changes are idempotent: re-sending a device, whole chunks
included, is harmless, so the job is not destructive (nothing is journalled pending, and a
resumed run sends again every device not SUCCEEDED or INVALID, UNKNOWN ones included).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field

from msgspec.structs import replace

from .._logging import get_logger
from ..core.requests import ApiRequest
from ..errors import (
    ApiError,
    BadRequestError,
    EpmmError,
    JobInterrupted,
    RequestTooLargeError,
    ValidationError,
)
from ..models import Device
from ..pacing import Halt, JobScope, job_scope
from ..v2 import requests as v2requests
from ..v2.models import DeviceRecord, MembershipRecord, MembershipResult
from ..validation import device_key, is_mac_key
from .gather import JobDevices, collect_ids
from .jobs import Job, chunker, knobs
from .outcomes import Outcome, OutcomeStatus, failed_outcome
from .plan import JobPlan, JobSettings, UnitResult, check_positive
from .session import Session

__all__ = [
    "LABEL_CONCURRENCY",
    "LABEL_MAX_UUIDS",
    "LabelDevices",
    "UnknownLabelError",
    "label_add_job",
    "label_remove_job",
]

log = get_logger("epmm_async.ops")

LABEL_MAX_UUIDS = 100
"""Uuids per membership request unless the job says otherwise. The server's cap is unknown:
100 uuids are about 4 KB of JSON, far below any body limit, and a lower cap costs only a few
refused requests while the job learns it (30,000 devices: 300 requests)."""
LABEL_CONCURRENCY = 2
"""Membership requests in flight at most: they all change the one label."""

LabelDevices = (
    Iterable[str | Device | DeviceRecord] | AsyncIterable[str | Device | DeviceRecord]
)
"""The devices of a membership job: uuids, ``Device`` records (v1) or ``DeviceRecord``s (v2
search results), sync or async. Not MACs: v2 membership takes uuids."""

_SAYS_TOO_MANY = re.compile(
    r"too\s+(many|large|long|big)|exceed|maximum|at\s+most|limit\s+of", re.IGNORECASE
)


class UnknownLabelError(ValidationError, LookupError):
    """The label named is not a label of the device space (or is dynamic, so its members
    cannot be set by hand): refused before any membership request. ``label``: the name."""

    def __init__(self, label: str, message: str) -> None:
        """Keep the label name."""
        super().__init__(message)
        self.label = label


def label_add_job(
    session: Session,
    label: str,
    devices: LabelDevices,
    *,
    max_uuids: int = LABEL_MAX_UUIDS,
    check_label: bool = True,
    settings: JobSettings | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
) -> Job[list[str]]:
    """Add every device to the static label ``label``, in chunks of ``max_uuids``.

    ``devices`` (uuids, ``Device`` or v2 ``DeviceRecord`` objects; a MAC is refused) are
    validated and deduplicated before anything is sent. ``check_label`` (default) looks the
    label up first: a label the device space lacks, or a dynamic one, raises
    :class:`UnknownLabelError` before any membership request. A chunk the server refuses as
    too large is split and resent, and the smaller size is kept for later chunks (the
    server's cap is unknown, hence the small default). Yields one outcome per device
    (``label_add``); a device the answer reports as failed is FAILED. Membership changes are
    idempotent: with a journal, a resumed run sends again every device not SUCCEEDED or
    INVALID, UNKNOWN ones included.
    """
    return _membership_job(session, "add", label, devices, max_uuids=max_uuids,
                           check_label=check_label, settings=settings,
                           concurrency=concurrency, rate=rate)


def label_remove_job(
    session: Session,
    label: str,
    devices: LabelDevices,
    *,
    max_uuids: int = LABEL_MAX_UUIDS,
    check_label: bool = True,
    settings: JobSettings | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
) -> Job[list[str]]:
    """Remove every device from the static label ``label``, in chunks of ``max_uuids``
    (as :meth:`stream_label_add`). Yields one outcome per device (``label_remove``)."""
    return _membership_job(session, "remove", label, devices, max_uuids=max_uuids,
                           check_label=check_label, settings=settings,
                           concurrency=concurrency, rate=rate)


def _uuid_key(item: object) -> str:
    key = device_key(item)
    if is_mac_key(key):
        raise ValidationError(f"{key} is a MAC address: label membership takes device uuids")
    return key


def _membership_job(
    session: Session, verb: str, label: str, devices: LabelDevices, *, max_uuids: int,
    check_label: bool, settings: JobSettings | None, concurrency: int | None,
    rate: float | None,
) -> Job[list[str]]:
    name = v2requests.check_label_name(label)
    check_positive(max_uuids, "max_uuids", integer=True)
    if not isinstance(check_label, bool):
        raise ValidationError(f"check_label must be True or False, got {check_label!r}")
    job, workers, job_rate = knobs(settings, concurrency, rate, LABEL_CONCURRENCY)
    action = f"label_{verb}"
    space = 1  # the device space the requests name: found out when the devices are

    async def gather() -> JobDevices:
        nonlocal space
        keys = await collect_ids(devices, _uuid_key, what="device uuid")
        # Reads only; a stop meanwhile ends them, and the run then sends nothing.
        with job_scope(JobScope(Halt(also=job.stop))):
            try:
                space = await session.v2.device_space()
                if check_label and keys:
                    await _check_label(session, name)
            except JobInterrupted:
                pass
        return JobDevices(keys)

    def request(chunk: Sequence[str]) -> ApiRequest:
        build = v2requests.add_to_label if verb == "add" else v2requests.remove_from_label
        return build(space, name, chunk)

    def build(found: JobDevices) -> JobPlan[list[str]]:
        return JobPlan(
            action=action,
            keys=list(found.keys),
            make_units=chunker(session, request, max_ids=max_uuids, line_limit=None),
            unit_keys=list,
            handle=_MembershipSender(session, verb, name, action, max_uuids),
            destructive=False,
            concurrency=workers,
            rate=job_rate,
            request=request,
        )

    return Job("label-membership", {"action": action, "label": name}, job, gather, build)


async def _check_label(session: Session, name: str) -> None:
    found = await session.v2.label(name)  # AmbiguousLabelError if two have the name
    if found is None:
        raise UnknownLabelError(name, f"no label is named {name!r} in this device space: "
                                      "nothing was sent")
    if found.is_static is False:
        raise UnknownLabelError(name, f"label {name!r} is dynamic (its members follow its "
                                      "criteria): its membership cannot be changed; nothing "
                                      "was sent")


class _Cap:
    """What the job has learnt of the server's per-call cap, shared by all its chunks.

    ``fits``: the largest piece accepted; ``refused``: the smallest refused as too large,
    ``guessed``: the same from wordless 400s. The next piece is ``max_uuids`` until a
    refusal, then midway between ``fits`` and the refusal (a binary search of the cap over
    the chunks): against a server with a fixed cap N, each device is in at most
    ceil(log2(max_uuids)) refused requests. A wordless 400 teaches a cap only once the
    halves of its piece all went through (one refused half means a device was refused).
    Wordless 400s are halved only while that pays off: not after two in a row refuse single
    devices (the 400 is about the call, not its size), nor once the halvings outnumber the
    accepted requests by more than ``allowance``.
    """

    def __init__(self, most: int) -> None:
        self.most = most
        self.fits = 0
        self.refused: int | None = None
        self.guessed: int | None = None
        self.guessing = True
        self.accepted = 0
        self.halved = 0
        self.single_refusals = 0
        """Single devices refused as too large: after two, the server's "too large" is not
        about size, and the rest is not sent one request per device."""
        self.allowance = 4 * most.bit_length()

    def size(self) -> int:
        """The size to cut the next piece at."""
        bounds = [b for b in (self.refused, self.guessed) if b is not None]
        if not bounds:
            return self.most
        return max(1, min(self.most, (self.fits + min(bounds)) // 2))

    def _above_fits(self, bound: int | None) -> int | None:
        if bound is None or bound > self.fits:
            return bound
        # Accepted at or above a refused size: the cap is not fixed; trust the acceptance.
        return None if self.fits >= self.most else self.fits + 1

    def accept(self, size: int) -> None:
        """A piece of ``size`` went through."""
        self.accepted += 1
        self.fits = max(self.fits, size)
        self.refused = self._above_fits(self.refused)
        self.guessed = self._above_fits(self.guessed)

    def too_large(self, size: int) -> None:
        """A piece of ``size`` was refused as too large (the answer said so)."""
        self.refused = size if self.refused is None else min(self.refused, size)
        self.fits = min(self.fits, self.refused - 1)

    def may_halve(self, size: int, parts: _Parts) -> bool:
        """A piece was refused with a 400 that does not say why: whether to halve it."""
        if not self.guessing:
            return False
        if size < 2:
            parts.singles += 1
            if parts.singles >= 2:
                self.guessing = False
                log.info("labels.wordless_400_not_size")
            return False
        if self.halved >= self.accepted + self.allowance:
            self.guessing = False
            log.info("labels.wordless_400_allowance_spent", halved=self.halved)
            return False
        self.halved += 1
        return True

    def guess(self, size: int) -> None:
        """A piece of ``size`` refused with a wordless 400 went through in halves: the cap
        is below ``size`` (had one half been refused too, the 400 was about a device)."""
        if size > self.fits:
            self.guessed = size if self.guessed is None else min(self.guessed, size)


@dataclass(slots=True)
class _Parts:
    """What one chunk produced so far: outcomes, requests sent, the last error."""

    started: float
    tries: dict[str, int]
    outcomes: list[Outcome] = field(default_factory=list)
    requests: int = 0
    error: EpmmError | None = None
    failed: int = 0
    """Pieces that ended in an error (not split)."""
    singles: int = 0
    """Single devices refused with a wordless 400 since the last piece went through."""


class _MembershipSender:
    """The unit handler: sends a chunk in pieces no larger than the cap learnt so far.

    A piece refused as too large (413, 414, 431, a 400 saying too large/too many/exceeds)
    is cut again at the lowered cap and resent; a piece refused with a wordless 400 is split
    in halves and each resent (it may be a cap that does not say so, or one device the
    server refuses: the halves isolate it), within :class:`_Cap`'s rules. Every device of
    the chunk gets one outcome; every piece the server accepts is sent once.
    """

    def __init__(self, session: Session, verb: str, label: str, action: str,
                 most: int) -> None:
        self.session = session
        self.verb = verb
        self.label = label
        self.action = action
        self.cap = _Cap(most)

    async def __call__(self, chunk: list[str]) -> UnitResult:
        parts = _Parts(time.monotonic(), dict.fromkeys(chunk, 0))
        await self._send_all(chunk, len(chunk), parts)
        return UnitResult(parts.outcomes, error=parts.error, requests=parts.requests)

    async def _send_all(self, keys: list[str], limit: int, parts: _Parts) -> None:
        rest = keys
        while rest:
            size = min(len(rest), limit, self.cap.size())
            piece, rest = rest[:size], rest[size:]
            result, error = await self._send(piece, parts)
            if error is not None and size > 1 and _says_too_large(error):
                self.cap.too_large(size)
                log.info("labels.split", action=self.action, devices=size,
                         status=getattr(error, "status", None), cap=self.cap.size())
                limit, rest = min(limit, size - 1), piece + rest
            elif error is not None and _wordless_400(error) and self.cap.may_halve(size, parts):
                log.info("labels.halve", action=self.action, devices=size)
                failed = parts.failed
                await self._send_all(piece, (size + 1) // 2, parts)
                if parts.failed == failed:  # every half went through: the cap is below
                    self.cap.guess(size)
            elif error is not None:
                parts.failed += 1
                parts.error = error
                parts.outcomes += [self._failed(d, error, parts) for d in piece]
                if size == 1 and _says_too_large(error):
                    self.cap.single_refusals += 1
                    if self.cap.single_refusals >= 2 and rest:
                        # Not sent: certainly not applied (FAILED, sent again by a resume).
                        log.info("labels.too_large_not_size", action=self.action,
                                 not_sent=len(rest))
                        parts.outcomes += [replace(self._failed(d, error, parts), attempts=0)
                                           for d in rest]
                        return
            else:
                assert result is not None
                if result.successful or result.records:
                    self.cap.accept(size)
                    parts.singles = 0
                parts.outcomes += self._per_device(piece, result, parts)

    async def _send(self, piece: list[str],
                    parts: _Parts) -> tuple[MembershipResult | None, EpmmError | None]:
        v2 = self.session.v2
        send = v2.add_to_label if self.verb == "add" else v2.remove_from_label
        try:
            result = await send(self.label, piece)
        except EpmmError as exc:
            if exc.attempts:
                self._count(piece, parts)
            return None, exc
        self._count(piece, parts)
        return result, None

    @staticmethod
    def _count(piece: list[str], parts: _Parts) -> None:
        parts.requests += 1
        for device in piece:
            parts.tries[device] += 1

    def _failed(self, device: str, error: EpmmError, parts: _Parts) -> Outcome:
        outcome = failed_outcome(device, self.action, error, started=parts.started)
        # The requests refused before this one (split) count too.
        earlier = parts.tries[device] - (1 if error.attempts else 0)
        if earlier:
            outcome = replace(outcome, attempts=earlier + error.attempts)
        if _says_too_large(error):  # a single device refused as too many: still too many
            outcome = replace(outcome, reason="request_too_large")
        return outcome

    def _per_device(self, piece: list[str], result: MembershipResult,
                    parts: _Parts) -> list[Outcome]:
        """One outcome per device of an answered piece (see docs/operations.md)."""
        members = set(piece)
        named: dict[str, MembershipRecord] = {}
        stray = 0  # failure lines naming no device of this piece
        for record in result.records:
            key = (record.device or "").strip().lower()
            if key in members:
                if key not in named or record.failed:
                    named[key] = record
            elif record.failed:
                stray += 1
        confirmed = result.successful and not stray
        elapsed = time.monotonic() - parts.started
        outcomes = []
        for device in piece:
            line = named.get(device)
            status, reason, error, detail = OutcomeStatus.SUCCEEDED, None, None, None
            if line is not None and line.failed:
                status, reason = OutcomeStatus.FAILED, "membership_failed"
                error = line.message or f"failureCode {line.failure_code}"
                detail = f"failureCode {line.failure_code}"
            elif line is not None:
                detail = line.message
            elif not result.records and not result.successful:
                # Not "certainly not applied": a server may have applied some devices of the
                # request before saying so. UNKNOWN; a resume sends them again (idempotent).
                status, reason = OutcomeStatus.UNKNOWN, "unsuccessful"
                error = "the server answered successful: false, naming no device"
            elif not confirmed:
                status, reason = OutcomeStatus.UNKNOWN, "unconfirmed"
                detail = ("the answer reports failures (or successful: false) without "
                          "naming this device")
            outcomes.append(Outcome(device=device, action=self.action, status=status,
                                    reason=reason, error=error, detail=detail,
                                    attempts=parts.tries[device], elapsed=elapsed))
        return outcomes


def _says_too_large(error: EpmmError) -> bool:
    """413, 414, 431, or a 400 whose message says the call is too large or has too many."""
    if isinstance(error, RequestTooLargeError):
        return True
    if isinstance(error, ApiError) and error.status == 413:
        return True
    return isinstance(error, BadRequestError) and any(
        _SAYS_TOO_MANY.search(m) for m in error.messages)


def _wordless_400(error: EpmmError) -> bool:
    return isinstance(error, BadRequestError) and not _says_too_large(error)

