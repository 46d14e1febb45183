"""A job's devices: drained, validated and deduplicated, MACs resolved when the run needs
uuids, the pre-flight's skips taken out.

MAC look-ups (reads) are the only requests made before a job runs; everything else here is
pure. Devices are keyed by :func:`epmm_async.validation.device_key`: a lower-case uuid, or a
MAC as 12 hex digits.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

import anyio

from ..api.devices import DevicesApi
from ..errors import DeviceLookupError, EpmmError, JobInterrupted, ValidationError
from ..models import Device
from ..pacing import Halt, JobScope, job_scope
from ..validation import MacAddress, device_key, is_mac_key
from .outcomes import Outcome, OutcomeStatus

__all__ = ["DeviceInput", "JobDevices", "collect_ids", "device_keys", "resolve", "skipped"]

DeviceInput = Iterable[str | MacAddress | Device] | AsyncIterable[str | MacAddress | Device]
"""The devices an operation takes: uuids, ``MacAddress``es or ``Device`` records, sync or
async."""

# MAC look-ups before a job (reads), in flight at most.
_RESOLVE_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class JobDevices:
    """A job's devices once validated, deduplicated and (when the run would) resolved."""

    keys: list[str]
    named_by: dict[str, str] = field(default_factory=dict)
    """The MAC each resolved uuid was named by, for its outcome."""
    early: list[Outcome] = field(default_factory=list)
    """Outcomes known before the run: a MAC naming no device, a look-up that failed."""
    lookups: int = 0
    records: dict[str, Device] = field(default_factory=dict)
    """Device records the job was given or looked up, by uuid (locate-now reads them)."""


async def collect_ids(
    items: Iterable[object] | AsyncIterable[object],
    normalise: Callable[[object], str],
    *,
    what: str,
) -> list[str]:
    """Drain ``items`` (sync or async), validate each, drop duplicates (first wins).

    Every malformed id is reported at once, with its position, before anything is sent.
    """
    seen: dict[str, None] = {}
    bad: list[str] = []
    index = 0

    def take(item: object) -> None:
        nonlocal index
        index += 1
        try:
            seen.setdefault(normalise(item), None)
        except ValidationError as exc:
            bad.append(f"#{index}: {exc}")

    if isinstance(items, AsyncIterable):
        async for item in items:
            take(item)
    else:
        for item in items:
            take(item)
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValidationError(f"{len(bad)} malformed {what}(s), nothing was sent: {shown}")
    return list(seen)


async def device_keys(
    devices: DeviceInput, records: dict[str, Device] | None = None
) -> list[str]:
    """The devices' keys (:func:`~epmm_async.validation.device_key`), deduplicated, every
    malformed one reported at once. ``records``, if given, receives each ``Device`` given,
    by its key."""
    if records is None:
        return await collect_ids(devices, device_key, what="device")
    kept = records

    def key_of(item: object) -> str:
        key = device_key(item)
        if isinstance(item, Device):
            kept.setdefault(key, item)
        return key

    return await collect_ids(devices, key_of, what="device")


def skipped(found: JobDevices, skip: Mapping[str, str] | None, action: str) -> JobDevices:
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
    return JobDevices(kept, found.named_by, early, lookups=found.lookups, records=found.records)


async def resolve(
    api: DevicesApi,
    keys: list[str],
    action: str,
    *,
    always: bool,
    stop: anyio.Event | None,
    listed: dict[str, Device] | None = None,
) -> JobDevices:
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
    macs = [k for k in keys if is_mac_key(k)]
    if not macs or (not always and len(macs) == len(keys)):
        return JobDevices(keys, records=listed if listed is not None else {})
    found: dict[str, str | None] = {}
    early: list[Outcome] = []
    limiter = anyio.CapacityLimiter(_RESOLVE_CONCURRENCY)
    halt = Halt(also=stop)
    errors_of: dict[str, EpmmError] = {}

    async def look_up(mac: str) -> None:
        async with limiter:
            try:
                with job_scope(JobScope(halt)):
                    devices = await api.by_mac(mac)
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
        if not is_mac_key(key):
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
    return JobDevices(list(resolved), named_by, early, lookups=len(macs),
                      records=listed if listed is not None else {})
