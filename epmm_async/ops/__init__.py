"""The operations layer: fleet-wide jobs as streams of per-device outcomes.

Every operation comes twice: ``stream_*`` yields one :class:`Outcome` per device as they
arrive, and the plain name reduces that stream to a :class:`BulkReport`. A stream may be
closed or abandoned at any point: the job halts (no new request; attempts on the wire finish
and are journalled) without touching the consumer's task. Operations call the API layer
(``epmm.devices``, ``epmm.bulk``) for every request.

Every operation also has a ``plan_*`` twin taking the same arguments: it returns the job's
:class:`JobPreview` (its devices, every request it will send, a sample), laid out by the
code the run uses, and :meth:`Operations.stream_plan` runs exactly that plan.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Concatenate, Generic, ParamSpec, TypeVar

import anyio

from ..core import requests
from ..core.actions import ACTIONS, action_spec
from ..core.requests import ApiRequest
from ..enums import BulkAction, MessageMode
from ..errors import DeviceLookupError, EpmmError, JobInterrupted, ValidationError
from ..models import Device
from ..pacing import Halt, JobScope, job_scope
from ..validation import MacAddress, validate_text, validate_uuid
from .bulk import bulk_action_handler, send_message_handler
from .chunking import plan_chunks
from .engine import JobPlan, JobSettings, check_positive, collect_ids, run_job
from .fanout import DeviceResult, call_handler, check_fan_out_action, device_call
from .journal import Journal
from .locate import device_target, ignores_locate_now, is_mac_key, locate_now_handler
from .outcomes import (
    BulkReport,
    Freshness,
    Outcome,
    OutcomeStatus,
    Progress,
    collect,
)
from .preview import JobPreview, PlannedRequest
from .waiter import Waiter, WaiterGaveUp

if TYPE_CHECKING:
    from ..client import EpmmClient

__all__ = [
    "BulkReport",
    "Freshness",
    "JobPreview",
    "JobSettings",
    "Journal",
    "Operations",
    "Outcome",
    "OutcomeStatus",
    "PlannedRequest",
    "Progress",
    "Waiter",
    "WaiterGaveUp",
    "plan_chunks",
]

DeviceInput = Iterable[str | MacAddress | Device] | AsyncIterable[str | MacAddress | Device]

# Waiting devices are cheap tasks; this bounds them all the same.
_MAX_WAITING = 20_000
# MAC look-ups before a job (reads), in flight at most.
_RESOLVE_CONCURRENCY = 16
_BULK_CONCURRENCY = 4
_FAN_OUT_CONCURRENCY = 16

P = ParamSpec("P")
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class _Devices:
    """A job's devices once validated, deduplicated and (when the run would) resolved."""

    keys: list[str]
    named_by: dict[str, str] = field(default_factory=dict)
    early: list[Outcome] = field(default_factory=list)
    lookups: int = 0
    records: dict[str, Device] = field(default_factory=dict)
    """Device records the job was given or looked up, by uuid (locate-now reads them)."""


@dataclass(frozen=True, slots=True)
class _Job(Generic[U]):
    """One operation with its arguments checked: how its devices are gathered (the only
    I/O before the run: MAC look-ups) and how its plan is built from them. ``stream_*``
    and ``plan_*`` share it, so a preview is laid out by the code that runs the job."""

    how: str
    identity: dict[str, str]
    settings: JobSettings
    gather: Callable[[], Awaitable[_Devices]]
    build: Callable[[_Devices], JobPlan[U]]
    max_polls: int = 0


def _skipped(found: _Devices, skip: Mapping[str, str] | None, action: str) -> _Devices:
    """Pre-flight (``JobSettings.skip``): the devices not to send to are taken out of the
    job and reported SKIPPED with their reason, among the outcomes known before the run."""
    if not skip:
        return found
    skip = {key.lower(): why for key, why in skip.items()}
    kept = [key for key in found.keys if key not in skip]
    if len(kept) == len(found.keys):
        return found
    early = [*found.early, *(
        Outcome(device=key, action=action, status=OutcomeStatus.SKIPPED, reason=skip[key],
                mac=found.named_by.get(key),
                detail=f"not sent: the action does not apply to a {skip[key]} device")
        for key in found.keys if key in skip)]
    return _Devices(kept, found.named_by, early, lookups=found.lookups, records=found.records)


def _device_key(item: object) -> str:
    if isinstance(item, Device):
        return validate_uuid(item.uuid)
    if isinstance(item, MacAddress):
        return str(item)
    return validate_uuid(item)


_is_mac = is_mac_key
_target = device_target


def _reducer(
    stream: Callable[Concatenate[Operations, P], AsyncIterator[Outcome]], doc: str
) -> Callable[Concatenate[Operations, P], Awaitable[BulkReport]]:
    async def run(self: Operations, /, *args: P.args, **kwargs: P.kwargs) -> BulkReport:
        return await collect(stream(self, *args, **kwargs))

    run.__doc__ = doc
    return run


def _knobs(
    settings: JobSettings | None, concurrency: int | None, rate: float | None, default: int
) -> tuple[JobSettings, int, float | None]:
    """The job's settings, concurrency and rate: the argument, else the settings, else the
    operation's default. Checked before anything is sent."""
    job = settings or JobSettings()
    if concurrency is not None:
        check_positive(concurrency, "concurrency", integer=True)
    if rate is not None:
        check_positive(rate, "rate", integer=False)
    return job, concurrency or job.concurrency or default, rate if rate is not None else job.rate


class Operations:
    """``epmm.ops``: bulk chunking, bounded fan-out and locate-now over many devices."""

    def __init__(self, client: EpmmClient) -> None:
        """Bind to a client (its APIs, limits and job runs)."""
        self._client = client

    async def _resolve(
        self,
        keys: list[str],
        action: str,
        *,
        always: bool,
        stop: anyio.Event | None,
        listed: dict[str, Device] | None = None,
    ) -> _Devices:
        """Name every device by uuid when the job mixes uuids and MACs (or ``always``), so one
        device named twice gets one request and one outcome.

        Returns the keys (deduplicated), the MAC each resolved uuid was named by, the
        outcomes of MACs that name no device (INVALID) or could not be looked up (FAILED),
        and how many look-ups were made.
        A job that also names devices by uuid cannot tell whether an unresolved MAC is one
        of them: it is refused (:class:`~epmm_async.errors.DeviceLookupError`), since one
        device must get one outcome. ``listed``, if given, receives the record each look-up
        found, by uuid.
        """
        macs = [k for k in keys if _is_mac(k)]
        if not macs or (not always and len(macs) == len(keys)):
            return _Devices(keys, records=listed if listed is not None else {})
        found: dict[str, str | None] = {}
        early: list[Outcome] = []
        limiter = anyio.CapacityLimiter(_RESOLVE_CONCURRENCY)
        halt = Halt(also=stop)
        errors_of: dict[str, EpmmError] = {}

        async def look_up(mac: str) -> None:
            async with limiter:
                try:
                    with job_scope(JobScope(halt)):
                        devices = await self._client.devices.by_mac(mac)
                except EpmmError as exc:
                    # A read failed: nothing was acted on, so the device is FAILED (safe
                    # to run again), never UNKNOWN.
                    errors_of[mac] = exc
                    stopped = isinstance(exc, JobInterrupted)
                    early.append(Outcome(
                        device=mac, action=action,
                        status=OutcomeStatus.CANCELLED if stopped else OutcomeStatus.FAILED,
                        reason="not_sent" if stopped else "lookup_failed",
                        error=str(exc), error_type=type(exc).__name__,
                        detail="looking up the MAC's device failed"))
                    return
            found[mac] = devices[0].uuid.lower() if devices else None
            if devices and listed is not None:
                listed.setdefault(devices[0].uuid.lower(), devices[0])

        async def watch(event: anyio.Event) -> None:
            await event.wait()
            halt.set("stopped")

        async with anyio.create_task_group() as tg:
            if stop is not None:
                tg.start_soon(watch, stop)
            async with anyio.create_task_group() as lookups:
                for mac in macs:
                    lookups.start_soon(look_up, mac)
            tg.cancel_scope.cancel()
        # Failed, or cut short by a stop: either way the MAC was not resolved.
        failures = [o for o in early if o.status is not OutcomeStatus.INVALID]
        if failures and len(macs) < len(keys):
            first = failures[0]
            why = ("the job was stopped during the look-ups" if halt.is_set()
                   else f"first: {first.device}: {first.error}")
            raise DeviceLookupError(
                f"{len(failures)} MAC address(es) could not be looked up, so whether they "
                f"name devices also named by uuid cannot be told; nothing was sent ({why})",
                mac=first.device,
                cause=errors_of[first.device],
            )
        resolved: dict[str, None] = {}
        named_by: dict[str, str] = {}
        for key in keys:
            if not _is_mac(key):
                resolved.setdefault(key, None)
            elif key in found:
                uuid = found[key]
                if uuid is None:
                    early.append(Outcome(device=key, action=action,
                                         status=OutcomeStatus.INVALID, reason="not_found",
                                         detail="no device has this Wi-Fi MAC address"))
                else:
                    resolved.setdefault(uuid, None)
                    named_by.setdefault(uuid, key)
        return _Devices(list(resolved), named_by, early, lookups=len(macs),
                        records=listed if listed is not None else {})

    def _chunker(
        self,
        build: Callable[[Sequence[str]], ApiRequest],
        *,
        max_ids: int,
        line_limit: int | None,
    ) -> Callable[[list[str]], list[list[str]]]:
        """The units of a bulk job: chunks of at most ``max_ids`` devices whose request fits
        the request budget (``line_limit`` less the headers; None: a form body, count only)."""
        budget = self._client.request_budget(line_limit) if line_limit is not None else None
        base = self._client.transport.base_path

        def units(todo: list[str]) -> list[list[str]]:
            return list(plan_chunks(todo, build, max_ids=max_ids, max_request_line=budget,
                                    base_path=base))

        return units

    # -- jobs and their plans ------------------------------------------------------------------

    def _stream(self, job: _Job[U]) -> AsyncGenerator[Outcome, None]:
        """Run ``job``: the journal is opened first, then its devices are gathered."""

        async def prepare() -> JobPlan[U]:
            found = _skipped(await job.gather(), job.settings.skip, job.identity["action"])
            return job.build(found)

        return run_job(self._client.runs, job.identity, prepare, job.settings)

    async def _plan(self, job: _Job[U]) -> JobPreview:
        """Gather ``job``'s devices and lay out its requests; the preview runs that plan."""
        found = _skipped(await job.gather(), job.settings.skip, job.identity["action"])
        plan = job.build(found)
        describe = plan.request
        planned: tuple[PlannedRequest, ...] = ()
        if describe is not None:
            planned = tuple(
                PlannedRequest(describe(unit), tuple(plan.unit_keys(unit)))
                for unit in plan.make_units(list(plan.keys))
            )

        async def prepare() -> JobPlan[U]:
            # A fresh plan (handlers keep per-run state) over the devices gathered once.
            return job.build(found)

        def start() -> AsyncGenerator[Outcome, None]:
            return run_job(self._client.runs, job.identity, prepare, job.settings)

        return JobPreview(
            action=plan.action,
            how=job.how,
            devices=tuple(plan.keys),
            requests=planned,
            early=tuple(plan.early),
            lookups=found.lookups,
            destructive=plan.destructive,
            max_polls=job.max_polls,
            _start=start,
        )

    def stream_plan(self, preview: JobPreview) -> AsyncGenerator[Outcome, None]:
        """Run a planned job (``plan_*``) with the settings it was planned with: the same
        devices (not gathered nor looked up again) and, without a journal, exactly the
        preview's requests as first attempts. Yields one outcome per device, like the
        ``stream_*`` it was planned for. A preview may be run more than once."""
        if not isinstance(preview, JobPreview):
            raise ValidationError(f"stream_plan takes a JobPreview, not {type(preview).__name__}")
        return preview.start()

    # -- bulk --------------------------------------------------------------------------------

    def _bulk_job(
        self,
        action: str | BulkAction,
        uuids: DeviceInput,
        *,
        settings: JobSettings | None,
        max_uuids: int | None,
        max_request_line: int | None,
        form_body: bool,
        concurrency: int | None,
        rate: float | None,
    ) -> _Job[list[str]]:
        act = BulkAction.parse(action)
        spec = action_spec(act)
        job, workers, job_rate = _knobs(settings, concurrency, rate, _BULK_CONCURRENCY)
        limits = self._client.bulk_limits
        for value, what in ((max_uuids, "max_uuids"), (max_request_line, "max_request_line")):
            if value is not None:
                check_positive(value, what, integer=True)
        count_limit = max_uuids or limits.max_uuids
        line_limit = max_request_line or limits.max_request_line
        if count_limit > limits.max_uuids or line_limit > limits.max_request_line:
            raise ValidationError(
                f"per-call limits may only tighten the client's: client limits are {limits!r}"
            )

        async def gather() -> _Devices:
            keys = await collect_ids(uuids, _device_key, what="device")
            return await self._resolve(keys, spec.name, always=True, stop=job.stop)

        def request(chunk: Sequence[str]) -> ApiRequest:
            return requests.bulk_action(act, chunk, form_body=form_body)

        def build(found: _Devices) -> JobPlan[list[str]]:
            return JobPlan(
                action=spec.name,
                keys=list(found.keys),
                make_units=self._chunker(request, max_ids=count_limit,
                                         line_limit=None if form_body else line_limit),
                unit_keys=list,
                handle=bulk_action_handler(self._client.bulk, act, form_body=form_body,
                                           named_by=found.named_by),
                destructive=spec.destructive,
                concurrency=workers,
                rate=job_rate,
                early=list(found.early),
                request=request,
            )

        return _Job("bulk", {"action": spec.name, "reason": ""}, job, gather, build)

    def stream_bulk(
        self,
        action: str | BulkAction,
        uuids: DeviceInput,
        *,
        settings: JobSettings | None = None,
        max_uuids: int | None = None,
        max_request_line: int | None = None,
        form_body: bool = False,
        concurrency: int | None = None,
        rate: float | None = None,
    ) -> AsyncGenerator[Outcome, None]:
        """Send ``action`` to every device in as few bulk requests as both limits allow.

        The devices (uuids, ``Device`` objects, or ``MacAddress``es, which are resolved to
        uuids first) are validated and deduplicated before anything is sent; chunks respect
        ``max_uuids`` (default: the client's ``bulk_max_uuids``) and the request budget
        (default: the client's ``max_request_line``, less the headers), whichever binds
        first. A chunk the server rejects as too long is split in halves and resent.
        ``form_body=True`` puts the uuids in a form body (count limit only). Yields one
        outcome per device.
        """
        return self._stream(self._bulk_job(
            action, uuids, settings=settings, max_uuids=max_uuids,
            max_request_line=max_request_line, form_body=form_body, concurrency=concurrency,
            rate=rate,
        ))

    async def plan_bulk(
        self,
        action: str | BulkAction,
        uuids: DeviceInput,
        *,
        settings: JobSettings | None = None,
        max_uuids: int | None = None,
        max_request_line: int | None = None,
        form_body: bool = False,
        concurrency: int | None = None,
        rate: float | None = None,
    ) -> JobPreview:
        """The plan of :meth:`stream_bulk` with these arguments: its chunks and their
        requests, nothing sent (MACs are looked up, as the run would)."""
        return await self._plan(self._bulk_job(
            action, uuids, settings=settings, max_uuids=max_uuids,
            max_request_line=max_request_line, form_body=form_body, concurrency=concurrency,
            rate=rate,
        ))

    def _message_job(
        self,
        devices: DeviceInput,
        *,
        message: str,
        mode: str | MessageMode,
        subject: str | None,
        settings: JobSettings | None,
        form_body: bool,
        concurrency: int | None,
        rate: float | None,
    ) -> _Job[list[str]]:
        kind = MessageMode.parse(mode)
        validate_text(message, what="message")
        if subject is not None:
            validate_text(subject, what="subject")
            if kind is not MessageMode.EMAIL:
                raise ValidationError("subject is valid only with mode=email")
        job, workers, job_rate = _knobs(settings, concurrency, rate, _BULK_CONCURRENCY)
        spec = ACTIONS["message"]

        async def gather() -> _Devices:
            keys = await collect_ids(devices, _device_key, what="device")
            by_mac = bool(keys) and _is_mac(keys[0])
            if any(_is_mac(k) != by_mac for k in keys):
                raise ValidationError(
                    "send_message takes all uuids or all MAC addresses, not a mix"
                )
            return _Devices(keys)

        def build(found: _Devices) -> JobPlan[list[str]]:
            keys = list(found.keys)
            by_mac = bool(keys) and _is_mac(keys[0])
            limits = self._client.bulk_limits

            def request(chunk: Sequence[str]) -> ApiRequest:
                return requests.send_message(
                    chunk, message=message, mode=kind, subject=subject, by_mac=by_mac,
                    form_body=form_body,
                )

            return JobPlan(
                action=spec.name,
                keys=keys,
                make_units=self._chunker(
                    request, max_ids=limits.max_uuids,
                    line_limit=None if form_body else limits.max_request_line,
                ),
                unit_keys=list,
                handle=send_message_handler(
                    self._client.bulk, message=message, mode=kind, subject=subject,
                    by_mac=by_mac, form_body=form_body,
                ),
                destructive=spec.destructive,
                concurrency=workers,
                rate=job_rate,
                request=request,
            )

        identity = {"action": spec.name, "message": message, "mode": kind.value,
                    "subject": subject or ""}
        return _Job("send-message", identity, job, gather, build)

    def stream_send_message(
        self,
        devices: DeviceInput,
        *,
        message: str,
        mode: str | MessageMode,
        subject: str | None = None,
        settings: JobSettings | None = None,
        form_body: bool = False,
        concurrency: int | None = None,
        rate: float | None = None,
    ) -> AsyncGenerator[Outcome, None]:
        """Send a message to any number of devices (all uuids, or all MACs), chunked.

        ``form_body=True`` puts the devices in a form body, so chunks are bounded by count
        only (the query keeps the message).
        """
        return self._stream(self._message_job(
            devices, message=message, mode=mode, subject=subject, settings=settings,
            form_body=form_body, concurrency=concurrency, rate=rate,
        ))

    async def plan_send_message(
        self,
        devices: DeviceInput,
        *,
        message: str,
        mode: str | MessageMode,
        subject: str | None = None,
        settings: JobSettings | None = None,
        form_body: bool = False,
        concurrency: int | None = None,
        rate: float | None = None,
    ) -> JobPreview:
        """The plan of :meth:`stream_send_message` with these arguments, nothing sent."""
        return await self._plan(self._message_job(
            devices, message=message, mode=mode, subject=subject, settings=settings,
            form_body=form_body, concurrency=concurrency, rate=rate,
        ))

    # -- per-device fan-out ----------------------------------------------------------------------

    def _fan_out_job(
        self,
        action: str,
        devices: DeviceInput,
        *,
        reason: str | None,
        settings: JobSettings | None,
        concurrency: int | None,
        rate: float | None,
    ) -> _Job[str]:
        spec = check_fan_out_action(action, reason)
        name = spec.name

        def request(device: str | MacAddress) -> ApiRequest:
            if name == "locate":
                return requests.locate(device)
            return requests.device_action(name, device, reason)

        return self._each_job(
            name,
            devices,
            device_call(self._client.devices, name, reason),
            request=request,
            destructive=spec.destructive,
            params={"reason": reason or ""},
            settings=settings,
            concurrency=concurrency,
            rate=rate,
        )

    def stream_fan_out(
        self,
        action: str,
        devices: DeviceInput,
        *,
        reason: str | None = None,
        settings: JobSettings | None = None,
        concurrency: int | None = None,
        rate: float | None = None,
    ) -> AsyncGenerator[Outcome, None]:
        """Run a per-device action (lock, unlock, wipe, retire, wakeup, locate) on each
        device, at most ``concurrency`` requests in flight, at most ``rate`` per second for
        this job (on top of the client's own limit). Outcomes come in completion order."""
        return self._stream(self._fan_out_job(
            action, devices, reason=reason, settings=settings, concurrency=concurrency,
            rate=rate,
        ))

    async def plan_fan_out(
        self,
        action: str,
        devices: DeviceInput,
        *,
        reason: str | None = None,
        settings: JobSettings | None = None,
        concurrency: int | None = None,
        rate: float | None = None,
    ) -> JobPreview:
        """The plan of :meth:`stream_fan_out` with these arguments: one request per
        device, nothing sent (MACs are looked up only when the run would)."""
        return await self._plan(self._fan_out_job(
            action, devices, reason=reason, settings=settings, concurrency=concurrency,
            rate=rate,
        ))

    def stream_each(
        self,
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
    ) -> AsyncGenerator[Outcome, None]:
        """Make ``call`` for each device (a uuid, or a :class:`MacAddress`), named ``action``
        in outcomes and the journal, with the fan-out's cap, rate limit, retries, journal
        and cancellation: for per-device calls the fan-out has no name for (roaming,
        re-push). ``destructive`` calls are journalled pending before they are sent;
        ``job_params`` (the call's arguments) make a journal refuse another job's calls. A
        call that raises something other than an :class:`~epmm_async.errors.EpmmError`
        leaves its device UNKNOWN (it may have sent its request); the others go on.
        ``request`` (the request ``call`` sends for a device) is what :meth:`plan_each`
        shows; the run does not need it."""
        return self._stream(self._each_job(
            action, devices, call, request=request, destructive=destructive,
            params=job_params or {}, settings=settings, concurrency=concurrency, rate=rate,
        ))

    async def plan_each(
        self,
        action: str,
        devices: DeviceInput,
        call: Callable[[str | MacAddress], Awaitable[DeviceResult]],
        *,
        request: Callable[[str | MacAddress], ApiRequest],
        destructive: bool = False,
        job_params: dict[str, str] | None = None,
        settings: JobSettings | None = None,
        concurrency: int | None = None,
        rate: float | None = None,
    ) -> JobPreview:
        """The plan of :meth:`stream_each` with these arguments; ``request(device)`` builds
        the request ``call`` sends (``epmm_async.core.requests``), for the preview."""
        return await self._plan(self._each_job(
            action, devices, call, request=request, destructive=destructive,
            params=job_params or {}, settings=settings, concurrency=concurrency, rate=rate,
        ))

    def _each_job(
        self,
        action: str,
        devices: DeviceInput,
        call: Callable[[str | MacAddress], Awaitable[DeviceResult]],
        *,
        request: Callable[[str | MacAddress], ApiRequest] | None,
        destructive: bool,
        params: dict[str, str],
        settings: JobSettings | None,
        concurrency: int | None,
        rate: float | None,
    ) -> _Job[str]:
        job, workers, job_rate = _knobs(settings, concurrency, rate, _FAN_OUT_CONCURRENCY)
        known = ACTIONS.get(action.strip().lower())
        name = known.name if known is not None else action
        # The registry decides what is destructive: a wipe is journalled pending and never
        # resent, however the caller declared it.
        destructive = destructive or (known is not None and known.destructive)

        async def gather() -> _Devices:
            keys = await collect_ids(devices, _device_key, what="device")
            # With a journal, a destructive job names devices by uuid only: a resume that
            # names a device by its other name must still find it.
            always = destructive and job.journal is not None
            return await self._resolve(keys, name, always=always, stop=job.stop)

        def build(found: _Devices) -> JobPlan[str]:
            return JobPlan(
                action=name,
                keys=list(found.keys),
                make_units=lambda todo: todo,
                unit_keys=lambda key: [key],
                handle=call_handler(name, lambda key: call(_target(key)),
                                    named_by=found.named_by),
                destructive=destructive,
                concurrency=workers,
                rate=job_rate,
                early=list(found.early),
                request=(lambda key: request(_target(key))) if request is not None else None,
            )

        return _Job("per-device", {"action": name, **params}, job, gather, build)

    # -- locate-now ------------------------------------------------------------------------------

    def _locate_now_job(
        self,
        devices: DeviceInput,
        *,
        deadline: float,
        interval: float,
        jitter: float,
        concurrency: int | None,
        rate: float | None,
        settings: JobSettings | None,
    ) -> _Job[str]:
        waiter = Waiter(interval=interval, deadline=deadline, jitter=jitter)
        job, cap, job_rate = _knobs(settings, concurrency, rate, _FAN_OUT_CONCURRENCY)
        spec = ACTIONS["locate_now"]

        async def gather() -> _Devices:
            records: dict[str, Device] = {}

            def key_of(item: object) -> str:
                key = _device_key(item)
                if isinstance(item, Device):
                    records.setdefault(key, item)
                return key

            keys = await collect_ids(devices, key_of, what="device")
            return await self._resolve(keys, spec.name, always=False, stop=job.stop,
                                       listed=records)

        def build(found: _Devices) -> JobPlan[str]:
            ios = frozenset(key for key, record in found.records.items()
                            if ignores_locate_now(record))
            limiter = anyio.CapacityLimiter(cap)
            keys = list(found.keys)
            return JobPlan(
                action=spec.name,
                keys=keys,
                make_units=lambda todo: todo,
                unit_keys=lambda key: [key],
                handle=locate_now_handler(self._client.devices, waiter, limiter,
                                          named_by=found.named_by, ios=ios),
                destructive=False,
                # Waiting does not hold a request slot: every device may wait at once.
                concurrency=max(1, min(len(keys), _MAX_WAITING)),
                rate=job_rate,
                early=list(found.early),
                # An iOS device known by its record gets one plain locate, never locate-now.
                request=lambda key: requests.locate(_target(key), key not in ios),
            )

        return _Job("locate-now", {"action": spec.name}, job, gather, build,
                    max_polls=waiter.max_polls)

    def stream_locate_now(
        self,
        devices: DeviceInput,
        *,
        deadline: float = 90.0,
        interval: float = 5.0,
        jitter: float = 0.2,
        concurrency: int | None = None,
        rate: float | None = None,
        settings: JobSettings | None = None,
    ) -> AsyncGenerator[Outcome, None]:
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
        return self._stream(self._locate_now_job(
            devices, deadline=deadline, interval=interval, jitter=jitter,
            concurrency=concurrency, rate=rate, settings=settings,
        ))

    async def plan_locate_now(
        self,
        devices: DeviceInput,
        *,
        deadline: float = 90.0,
        interval: float = 5.0,
        jitter: float = 0.2,
        concurrency: int | None = None,
        rate: float | None = None,
        settings: JobSettings | None = None,
    ) -> JobPreview:
        """The plan of :meth:`stream_locate_now`: each device's first request (with
        ``locatenow=true``, or a plain locate for a device known to be iOS) and the polls
        that may follow (:attr:`JobPreview.max_polls` per device at most)."""
        return await self._plan(self._locate_now_job(
            devices, deadline=deadline, interval=interval, jitter=jitter,
            concurrency=concurrency, rate=rate, settings=settings,
        ))

    bulk = _reducer(stream_bulk, ":meth:`stream_bulk` reduced to a :class:`BulkReport`.")
    send_message = _reducer(
        stream_send_message, ":meth:`stream_send_message` reduced to a :class:`BulkReport`."
    )
    fan_out = _reducer(stream_fan_out, ":meth:`stream_fan_out` reduced to a :class:`BulkReport`.")
    each = _reducer(stream_each, ":meth:`stream_each` reduced to a :class:`BulkReport`.")
    locate_now = _reducer(
        stream_locate_now, ":meth:`stream_locate_now` reduced to a :class:`BulkReport`."
    )
    run_plan = _reducer(stream_plan, ":meth:`stream_plan` reduced to a :class:`BulkReport`.")
