"""The operations layer: fleet-wide jobs as streams of per-device outcomes.

Every operation comes twice: ``stream_*`` yields one :class:`Outcome` per device as they
arrive (use it under ``contextlib.aclosing`` if you may stop early), and the plain name
reduces that stream to a :class:`BulkReport`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from contextlib import aclosing
from typing import TYPE_CHECKING, Concatenate, ParamSpec

import anyio

from ..core import requests
from ..enums import BulkAction, MessageMode
from ..errors import ValidationError
from ..models import Device
from ..transport import RateLimiter
from ..validation import MacAddress, validate_text, validate_uuid
from .bulk import bulk_action_handler, send_message_handler
from .chunking import plan_chunks
from .engine import JobSettings, collect_ids, run_job
from .fanout import (
    DESTRUCTIVE_ACTIONS,
    DeviceResult,
    call_handler,
    check_fan_out_action,
    device_call,
)
from .journal import Journal
from .locate import locate_now_handler
from .outcomes import BulkReport, Freshness, Outcome, OutcomeStatus, Progress, collect
from .waiter import Waiter, WaiterGaveUp

if TYPE_CHECKING:
    from ..client import EpmmClient

__all__ = [
    "BulkReport",
    "Freshness",
    "JobSettings",
    "Journal",
    "Operations",
    "Outcome",
    "OutcomeStatus",
    "Progress",
    "Waiter",
    "WaiterGaveUp",
    "plan_chunks",
]

DeviceInput = Iterable[str | MacAddress | Device] | AsyncIterable[str | MacAddress | Device]

# Waiting devices are cheap tasks; this bounds them all the same.
_MAX_WAITING = 20_000

P = ParamSpec("P")


def _uuid_key(item: object) -> str:
    if isinstance(item, Device):
        return validate_uuid(item.uuid)
    if isinstance(item, MacAddress):
        raise ValidationError(f"bulk actions take uuids, not MAC address {item}")
    return validate_uuid(item)


def _device_key(item: object) -> str:
    if isinstance(item, Device):
        return validate_uuid(item.uuid)
    if isinstance(item, MacAddress):
        return str(item)
    return validate_uuid(item)


def _mac_or_uuid(key: str) -> str | MacAddress:
    return MacAddress(key) if "-" not in key else key


def _reducer(
    stream: Callable[Concatenate[Operations, P], AsyncIterator[Outcome]], doc: str
) -> Callable[Concatenate[Operations, P], Awaitable[BulkReport]]:
    async def run(self: Operations, /, *args: P.args, **kwargs: P.kwargs) -> BulkReport:
        return await collect(stream(self, *args, **kwargs))

    run.__doc__ = doc
    return run


class Operations:
    """``epmm.ops``: bulk chunking, bounded fan-out and locate-now over many devices."""

    def __init__(self, client: EpmmClient) -> None:
        """Bind to a client (its transport, limits and APIs)."""
        self._client = client

    def _settings(self, settings: JobSettings | None, rate: float | None) -> JobSettings:
        if rate is not None:
            transport = self._client.transport
            if transport.rate_limiter is None or transport.rate_limiter.rate != rate:
                transport.rate_limiter = RateLimiter(rate)
        return settings or JobSettings()

    # -- bulk --------------------------------------------------------------------------------

    async def stream_bulk(
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
        """Send ``action`` to every uuid in as few bulk requests as both limits allow.

        The uuids (any iterable or async iterable) are validated and deduplicated before
        anything is sent; chunks respect ``max_uuids`` (default: the client's
        ``bulk_max_uuids``) and the request-line budget (default: the client's
        ``max_request_line``), whichever binds first. ``form_body=True`` puts the uuids in a
        form body (count limit only). Yields one outcome per uuid.
        """
        act = BulkAction.parse(action)
        job = self._settings(settings, rate)
        if concurrency is not None:
            job = _replace(job, concurrency=concurrency)
        elif settings is None:
            job = _replace(job, concurrency=4)
        limits = self._client.bulk_limits
        count_limit = max_uuids or limits.max_uuids
        line_limit = max_request_line or limits.max_request_line
        if count_limit > limits.max_uuids or line_limit > limits.max_request_line:
            limits_note = f"client limits are {limits!r}"
            raise ValidationError(f"per-call limits may only tighten the client's: {limits_note}")
        keys = await collect_ids(uuids, _uuid_key, what="device uuid")
        transport = self._client.transport
        handle = bulk_action_handler(transport, self._client.bulk, act, form_body=form_body)
        base = transport.base_path

        def units(todo: list[str]) -> list[list[str]]:
            return list(
                plan_chunks(
                    todo,
                    lambda chunk: requests.bulk_action(act, chunk, form_body=form_body),
                    max_ids=count_limit,
                    max_request_line=None if form_body else line_limit,
                    base_path=base,
                )
            )

        # Closed with this stream, in this task, so the job's workers stop with it.
        async with aclosing(run_job(
                action=act.value,
                keys=keys,
                make_units=units,
                unit_keys=list,
                handle=handle,
                destructive=act.destructive,
                settings=job,
        )) as outcomes:
            async for outcome in outcomes:
                yield outcome


    async def stream_send_message(
        self,
        devices: DeviceInput,
        *,
        message: str,
        mode: str | MessageMode,
        subject: str | None = None,
        settings: JobSettings | None = None,
        form_body: bool = False,
        concurrency: int | None = None,
    ) -> AsyncGenerator[Outcome, None]:
        """Send a message to any number of devices (all uuids, or all MACs), chunked."""
        kind = MessageMode.parse(mode)
        validate_text(message, what="message")
        if subject is not None and kind is not MessageMode.EMAIL:
            raise ValidationError("subject is valid only with mode=email")
        job = settings or JobSettings(concurrency=4)
        if concurrency is not None:
            job = _replace(job, concurrency=concurrency)
        keys = await collect_ids(devices, _device_key, what="device")
        by_mac = bool(keys) and "-" not in keys[0]
        if any(("-" not in k) != by_mac for k in keys):
            raise ValidationError("send_message takes all uuids or all MAC addresses, not a mix")
        limits = self._client.bulk_limits
        transport = self._client.transport
        handle = send_message_handler(
            transport, self._client.bulk, message=message, mode=kind, subject=subject,
            by_mac=by_mac, form_body=form_body,
        )

        def units(todo: list[str]) -> list[list[str]]:
            return list(
                plan_chunks(
                    todo,
                    lambda chunk: requests.send_message(
                        chunk, message=message, mode=kind, subject=subject, by_mac=by_mac,
                        form_body=form_body,
                    ),
                    max_ids=limits.max_uuids,
                    max_request_line=limits.max_request_line,
                    base_path=transport.base_path,
                )
            )

        # Closed with this stream, in this task, so the job's workers stop with it.
        async with aclosing(run_job(
                action="MESSAGE",
                keys=keys,
                make_units=units,
                unit_keys=list,
                handle=handle,
                destructive=False,
                settings=job,
                job_params={"message": message, "mode": kind.value, "subject": subject or ""},
        )) as outcomes:
            async for outcome in outcomes:
                yield outcome


    # -- per-device fan-out ----------------------------------------------------------------------

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
        device, at most ``concurrency`` requests in flight, optionally ``rate`` per second
        (shared by everything the client sends). Outcomes come in completion order."""
        name = check_fan_out_action(action, reason)
        return self.stream_each(
            name,
            devices,
            device_call(self._client.devices, name, reason),
            destructive=name in DESTRUCTIVE_ACTIONS,
            job_params={"reason": reason or ""},
            settings=settings,
            concurrency=concurrency,
            rate=rate,
        )

    async def stream_each(
        self,
        action: str,
        devices: DeviceInput,
        call: Callable[[str | MacAddress], Awaitable[DeviceResult]],
        *,
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
        ``job_params`` (the call's arguments) make a journal refuse another job's calls."""
        job = self._settings(settings, rate)
        if concurrency is not None:
            job = _replace(job, concurrency=concurrency)
        keys = await collect_ids(devices, _device_key, what="device")
        handler = call_handler(action, lambda key: call(_mac_or_uuid(key)))
        # Closed with this stream, in this task, so the job's workers stop with it.
        async with aclosing(run_job(
                action=action,
                keys=keys,
                make_units=lambda todo: todo,
                unit_keys=lambda key: [key],
                handle=handler,
                destructive=destructive,
                settings=job,
                job_params=job_params,
        )) as outcomes:
            async for outcome in outcomes:
                yield outcome

    # -- locate-now ------------------------------------------------------------------------------

    async def stream_locate_now(
        self,
        devices: DeviceInput,
        *,
        deadline: float = 90.0,
        interval: float = 5.0,
        jitter: float = 0.2,
        concurrency: int = 16,
        settings: JobSettings | None = None,
    ) -> AsyncGenerator[Outcome, None]:
        """Ask each device for a fresh fix, then poll until it arrives (FRESH), the device
        is known to ignore the request (UNSUPPORTED, iOS: answered at once), or ``deadline``
        seconds pass (STALE: the last known location). All requests share ``concurrency``
        slots; waiting does not hold one."""
        waiter = Waiter(interval=interval, deadline=deadline, jitter=jitter)
        limiter = anyio.CapacityLimiter(concurrency)
        keys = await collect_ids(devices, _device_key, what="device")
        job = _replace(settings or JobSettings(), concurrency=max(1, min(len(keys), _MAX_WAITING)))
        handler = locate_now_handler(self._client.devices, waiter, limiter)


        # Closed with this stream, in this task, so the job's workers stop with it.
        async with aclosing(run_job(
                action="locate_now",
                keys=keys,
                make_units=lambda todo: todo,
                unit_keys=lambda key: [key],
                handle=handler,
                destructive=False,
                settings=job,
        )) as outcomes:
            async for outcome in outcomes:
                yield outcome


    bulk = _reducer(stream_bulk, ":meth:`stream_bulk` reduced to a :class:`BulkReport`.")
    send_message = _reducer(
        stream_send_message, ":meth:`stream_send_message` reduced to a :class:`BulkReport`."
    )
    fan_out = _reducer(stream_fan_out, ":meth:`stream_fan_out` reduced to a :class:`BulkReport`.")
    each = _reducer(stream_each, ":meth:`stream_each` reduced to a :class:`BulkReport`.")
    locate_now = _reducer(
        stream_locate_now, ":meth:`stream_locate_now` reduced to a :class:`BulkReport`."
    )


def _replace(settings: JobSettings, *, concurrency: int) -> JobSettings:
    return dataclasses.replace(settings, concurrency=concurrency)

