"""``epmm.devices``: reads, searches, registration and per-device actions."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import NoReturn, TypeAlias, Unpack

from ..core import decode, requests
from ..core.csv_export import CsvExportParser
from ..core.requests import ApiRequest, RegistrationFields
from ..enums import DeviceStatus, ProfileType
from ..errors import DeviceNotFound, PagingError, ValidationError
from ..models import (
    ActionResult,
    CsvDeviceRow,
    Device,
    DevicePage,
    LocateResult,
    Profile,
    Registration,
    RoamingResult,
)
from ..sender import Response, Sender
from ..validation import MacAddress

__all__ = ["DeviceLike", "DevicesApi"]

DeviceLike: TypeAlias = str | MacAddress | Device
"""A device as a uuid string, a :class:`MacAddress` (routes to ``/mac/``) or a :class:`Device`."""

DEFAULT_PAGE_SIZE = 500


def _paging_broke(
    offset: int,
    page: builtins.list[Device],
    seen: dict[str, int],
    fresh: builtins.list[Device],
    *,
    same_first: bool,
) -> NoReturn:
    """Raise the :class:`PagingError` of a page that repeats what earlier pages listed."""
    listed = len(seen) - len(fresh)  # this page's new devices are not yielded
    new = {d.uuid.lower() for d in fresh}
    # A device listed on an earlier page (or, for a page repeating itself, its first).
    repeat = next((d.uuid.lower() for d in page if d.uuid.lower() not in new),
                  page[0].uuid.lower())
    where = seen[repeat]
    if same_first:
        what = (f"the page at offset {offset} starts with device {repeat}, as the page before "
                f"it did (first listed at offset {where})")
    else:
        what = (f"{len(page) - len(fresh)} of the {len(page)} devices of the page at offset "
                f"{offset} were already listed (e.g. {repeat}, at offset {where})")
    raise PagingError(
        f"{what}: the server seems to ignore 'offset'; the listing stopped after {listed} "
        "devices rather than repeat or loop",
        offset=offset,
        uuid=repeat,
        first_seen_at=where,
        listed=listed,
    )


class DevicesApi:
    """Device reads, searches, registration and per-device actions."""

    def __init__(self, sender: Sender) -> None:
        """Bind to the client's sender."""
        self._sender = sender

    @staticmethod
    def _of_device(req: ApiRequest, resp: Response) -> Response:
        """``resp``, unless it is the API's 404 "no data" about the device: DeviceNotFound.
        (Not a coroutine around ``send``: one more frame on every request for nothing.)"""
        if resp.no_data is not None:
            error = DeviceNotFound(404, resp.no_data, method=req.method, path=req.path)
            error.attempts = resp.attempts
            raise error
        return resp

    # -- reads ----------------------------------------------------------------------------

    async def page(
        self,
        status: str | DeviceStatus | None = None,
        *,
        offset: int = 0,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> DevicePage:
        """One page of devices with ``status`` (the server's default is ACTIVE)."""
        req = requests.list_devices(status, offset, limit)
        resp = await self._sender.send(req)
        if resp.no_data is not None:
            return DevicePage(devices=[], total_count=0, messages=resp.no_data)
        return decode.decode_devices(resp.body, resp.format)

    async def iter(
        self, status: str | DeviceStatus | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Device]:
        """Every device with ``status``, fetched page by page with ``offset``/``limit``, each
        device once.

        With ``totalCount`` the pages go on until it is reached (a server may cap pages below
        ``page_size`` or send more); without it, a short page ends the listing, and so does a
        page longer than asked (a server that ignores paging and answers everything at once
        is not re-asked). A device already listed (records shifted between two requests: a device
        registered meanwhile pushes the next page's first record back onto it) is not yielded
        again. A server that ignores ``offset`` (a page starting with the same uuid as the
        page before, or holding only devices already listed) raises
        :class:`~epmm_async.errors.PagingError` before that page's devices are yielded: it
        is never re-asked in a loop. So does an empty page before ``totalCount``, or a
        listing that ends with fewer distinct devices than ``totalCount`` by more than the
        repeated records explain. Memory is one page plus the set of uuids seen.
        """
        if status is not None:
            DeviceStatus.parse(status)
        if not isinstance(page_size, int) or page_size < 1:
            raise ValidationError(f"page_size must be a positive integer, got {page_size!r}")
        offset = 0
        seen: dict[str, int] = {}  # uuid (lower case) -> offset of the page that listed it
        repeated = 0  # records that were already listed (shifted between two requests)
        total: int | None = None
        previous_first: str | None = None
        while True:
            page = await self.page(status, offset=offset, limit=page_size)
            got = len(page.devices)
            if page.total_count is not None:
                total = page.total_count
            if got:
                first = page.devices[0].uuid.lower()
                fresh: builtins.list[Device] = []
                for device in page.devices:
                    key = device.uuid.lower()
                    if key not in seen:
                        seen[key] = offset
                        fresh.append(device)
                # A shift repeats a record or two; a page mostly of devices already listed
                # means the server is not moving through the list (offset ignored, or read as
                # something else, or no stable order).
                if first == previous_first or len(fresh) * 2 < got:
                    _paging_broke(offset, page.devices, seen, fresh,
                                  same_first=first == previous_first)
                repeated += got - len(fresh)
                previous_first = first
                for device in fresh:
                    yield device
            elif total is not None and offset < total:
                raise PagingError(
                    f"the page at offset {offset} is empty, but totalCount says {total}: the "
                    f"server does not page by 'offset' as asked; the listing stopped after "
                    f"{len(seen)} devices rather than end early",
                    offset=offset, listed=len(seen),
                )
            offset += got
            if got == 0:
                return
            if total is not None:
                if offset >= total:
                    # Repeated records explain a shortfall (a device registered meanwhile
                    # pushed one back); more missing means pages skipped devices.
                    if total - len(seen) > repeated:
                        raise PagingError(
                            f"the listing ended with {len(seen)} distinct devices, but "
                            f"totalCount says {total}: the server's pages skipped devices "
                            "(no stable order, or 'offset' read differently)",
                            offset=offset, listed=len(seen),
                        )
                    return
            elif got != page_size:
                return  # a short page and no total: the end (more: paging was ignored)

    async def list(self, status: str | DeviceStatus | None = None) -> builtins.list[Device]:
        """Every device with ``status`` (ACTIVE when None), paged under the hood."""
        return [device async for device in self.iter(status)]

    async def get(self, uuid: str) -> Device:
        """One device's record; raises :class:`DeviceNotFound` if there is none."""
        req = requests.get_device(uuid)
        resp = self._of_device(req, await self._sender.send(req))
        device = decode.decode_device(resp.body, resp.format)
        if device is None:
            raise DeviceNotFound(404, ("no device in the answer",), method="GET", path=req.path)
        return device

    async def export_csv(self) -> AsyncIterator[CsvDeviceRow]:
        """Rows of ``devices.csv``, parsed as they stream in; the body is never held whole.

        The body counts against ``max_response_bytes``
        (:class:`~epmm_async.errors.ResponseTooLargeError` past it); one record is capped at
        1 MiB, and bad bytes or values are a :class:`~epmm_async.errors.DecodeError`.
        """
        req = requests.export_csv()
        async with self._sender.stream(req) as chunks:
            parser = CsvExportParser(max_bytes=self._sender.config.max_response_bytes)
            async for chunk in chunks:
                for row in parser.feed(chunk):
                    yield row
            for row in parser.close():
                yield row

    async def _search(self, req: ApiRequest) -> builtins.list[Device]:
        resp = await self._sender.send(req)
        if resp.no_data is not None:
            return []
        return decode.decode_devices(resp.body, resp.format).devices

    async def by_phone(self, *numbers: str) -> builtins.list[Device]:
        """Devices registered with any of the phone numbers (empty list when none)."""
        return await self._search(requests.by_phone(numbers))

    async def by_user(self, user_id: str) -> builtins.list[Device]:
        """Devices of a user id (quoted as one path segment)."""
        return await self._search(requests.by_user(user_id))

    async def by_label(self, name: str) -> builtins.list[Device]:
        """Devices assigned to a label (quoted as one path segment)."""
        return await self._search(requests.by_label(name))

    async def by_mac(self, mac: str | MacAddress) -> builtins.list[Device]:
        """The device with a Wi-Fi MAC address (any common notation)."""
        return await self._search(requests.by_mac(mac))

    # -- registration ----------------------------------------------------------------------

    async def register(self, **fields: Unpack[RegistrationFields]) -> Registration:
        """Register a device (the fields: :class:`~epmm_async.core.requests.RegistrationFields`).
        A local user needs first name, last name and email; the phone number may be omitted
        only for a PDA. Never retried once sent."""
        resp = await self._sender.send(requests.register(**fields))
        return decode.decode_registration(resp.body, resp.format)

    # -- per-device actions ------------------------------------------------------------------

    # Each action builds its request and reads the answer here, awaiting the send itself:
    # a shared coroutine between them would be one more frame resumed at every suspension
    # of every request.

    def _action_result(self, req: ApiRequest, resp: Response) -> ActionResult:
        result = decode.decode_action(self._of_device(req, resp).body, resp.format)
        result.attempts = resp.attempts
        return result

    async def retire(self, device: DeviceLike, reason: str | None = None) -> ActionResult:
        """Retire a device (reason optional, at most 512 characters). Never retried once sent."""
        req = requests.device_action("retire", device, reason)
        return self._action_result(req, await self._sender.send(req))

    async def lock(self, device: DeviceLike, reason: str) -> ActionResult:
        """Lock a device (reason required, at most 512 characters)."""
        req = requests.device_action("lock", device, reason)
        return self._action_result(req, await self._sender.send(req))

    async def unlock(self, device: DeviceLike, reason: str) -> ActionResult:
        """Unlock a device (reason required); ``passcodes`` says what the unlock did."""
        req = requests.device_action("unlock", device, reason)
        return self._action_result(req, await self._sender.send(req))

    async def wipe(self, device: DeviceLike, reason: str | None = None) -> ActionResult:
        """Factory-reset a device (reason optional). Never retried once sent."""
        req = requests.device_action("wipe", device, reason)
        return self._action_result(req, await self._sender.send(req))

    async def wakeup(self, device: DeviceLike) -> ActionResult:
        """Ask the EPMM client on a device to check in."""
        req = requests.device_action("wakeup", device, None)
        return self._action_result(req, await self._sender.send(req))

    async def locate(self, device: DeviceLike, locate_now: bool = False) -> LocateResult:
        """The device's known locations; ``locate_now=True`` also asks for a fresh fix.

        A fresh fix takes seconds to a minute to arrive and iOS ignores the request; see
        ``epmm.ops.locate_now`` for a waiter that polls until it lands.
        """
        req = requests.locate(device, locate_now)
        resp = self._of_device(req, await self._sender.send(req))
        result = decode.decode_locate(resp.body, resp.format)
        result.attempts = resp.attempts
        return result

    async def set_roaming(self, uuid: str, *, voice: bool, data: bool) -> RoamingResult:
        """Enable or disable voice and data roaming on an iOS device."""
        req = requests.enable_roaming(uuid, voice=voice, data=data)
        resp = self._of_device(req, await self._sender.send(req))
        result = decode.decode_roaming(resp.body, resp.format)
        result.attempts = resp.attempts
        return result

    async def profiles(self, uuid: str) -> builtins.list[Profile]:
        """Configurations and policies applied to a device (empty list when none)."""
        resp = await self._sender.send(requests.profiles(uuid))
        if resp.no_data is not None:
            return []
        return decode.decode_profiles(resp.body, resp.format)

    async def repush_profile(
        self,
        uuid: str,
        profile_id: int | str | None = None,
        profile_type: str | ProfileType | None = None,
    ) -> ActionResult:
        """Re-push one profile (``profile_id``/``profile_type`` APP|POLICY) or all of them."""
        req = requests.repush_profile(uuid, profile_id, profile_type)
        return self._action_result(req, await self._sender.send(req))
