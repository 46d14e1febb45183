"""Finding the devices of a selection on the server, and refusing a selection that names what
the server does not have (an unknown label, a user without devices)."""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator

from ..client import EpmmClient
from ..enums import DeviceStatus
from ..errors import ValidationError
from ..models import Device
from ..v2 import DeviceRecord
from ..validation import MacAddress, device_key
from .common import EXIT_USAGE, CliError
from .device_filter import DeviceFilter, device_mac, phone_digits
from .v2_filters import STATUS_FIELD, UUID_FIELD, V2Access, record_status, search_selection

__all__ = ["Selector", "check_selection_exists", "select_devices", "selected_key"]


def selected_key(device: Device | DeviceRecord) -> str:
    """The key of a listed device (:func:`~epmm_async.validation.device_key`: its uuid, lower
    case); a malformed uuid is kept as the server sent it, so a read still lists the device
    (an action refuses it when it is planned)."""
    try:
        return device_key(device)
    except ValidationError:
        return device.uuid


class Selector:
    """Runs the searches of one selection, remembering what each user search found (the
    check and the listing of one command search each user once)."""

    def __init__(self, epmm: EpmmClient) -> None:
        """Search with ``epmm``; nothing found yet."""
        self.epmm = epmm
        self.by_user: dict[str, list[Device]] = {}
        self.v2 = V2Access.of(epmm)
        """Whether the server offers API v2 (asked once, when a filter could use it)."""

    async def user_devices(self, user: str) -> list[Device]:
        """The devices of a user id (searched once)."""
        if user not in self.by_user:
            self.by_user[user] = await self.epmm.devices.by_user(user)
        return self.by_user[user]

    async def check(self, selection: DeviceFilter, *, users: bool) -> None:
        """What :func:`check_selection_exists` checks."""
        if selection.labels:
            known = [label.name for label in await self.epmm.labels.list()]
            folded = {name.casefold() for name in known}
            unknown = [name for name in selection.labels if name.casefold() not in folded]
            if unknown:
                raise CliError("; ".join(_unknown_label(name, known) for name in unknown),
                               EXIT_USAGE)
        if users:
            empty = [u for u in selection.users if not await self.user_devices(u)]
            if empty:
                which = ", ".join(repr(u) for u in empty)
                raise CliError(
                    f"no devices for user {which}: is the user id right? (pass --allow-empty "
                    "if a user without devices is expected)", EXIT_USAGE)

    async def select(self, selection: DeviceFilter) -> AsyncIterator[Device]:
        """What :func:`select_devices` lists."""
        search = selection.search
        seen: set[str] = set()
        if search is None:
            # The filters the server can apply (API v2) select a set of uuids first.
            server = await search_selection(self.v2, selection, [UUID_FIELD], whole=False)
            allowed = None if server is None else {selected_key(r) for r in server[1]}
            tally = None if server is None else selection.counts.setdefault(
                f"API v2 query {server[0].text}", [0, 0])
            statuses: list[str | None] = [*selection.statuses] or [None]
            for status in statuses:
                async for device in self.epmm.devices.iter(status):
                    key = selected_key(device)
                    if key in seen:
                        continue
                    seen.add(key)
                    if allowed is not None and tally is not None:
                        tally[1] += 1
                        if key not in allowed:
                            continue
                        tally[0] += 1
                    # The server selected by status; the client-side filters narrow.
                    if not selection.residual or selection.matches(device, skip="statuses"):
                        yield device
            return
        found: list[Device] = []
        if search == "macs":
            for mac in selection.macs:
                found.extend(await self.epmm.devices.by_mac(mac))
        elif search == "phones":
            # Spaces, dashes and brackets are for people: the server is sent the digits
            # (with the leading + when given), as it stores them.
            sent = [("+" if p.strip().startswith("+") else "") + phone_digits(p)
                    for p in selection.phones]
            found = await self.epmm.devices.by_phone(*sent)
        elif search == "users":
            for user in selection.users:
                found.extend(await self.user_devices(user))
        else:
            first = selection.labels[:1] if selection.all_labels else selection.labels
            for name in first:
                found.extend(await self.epmm.devices.by_label(name))
        in_labels: set[str] | None = None
        rest = selection.labels
        if search == "labels":
            rest = selection.labels[1:] if selection.all_labels else []
        if rest:
            for name in rest:
                members = {selected_key(d) for d in await self.epmm.devices.by_label(name)}
                if in_labels is None:
                    in_labels = members
                elif selection.all_labels:
                    in_labels &= members
                else:
                    in_labels |= members
        for device in found:
            key = selected_key(device)
            if key in seen:
                continue
            seen.add(key)
            if in_labels is not None and key not in in_labels:
                continue
            if selection.matches(device, skip=search):
                yield device


    async def targets(self, selection: DeviceFilter, *, macs: set[MacAddress]
                      ) -> AsyncIterator[tuple[str, DeviceStatus | None]]:
        """The key and status of each selected device, for an action: :meth:`select`'s
        devices, less those whose Wi-Fi MAC is among ``macs`` (already targets).

        A fleet listing whose every filter the server can apply (API v2) is one device
        search, without listing the fleet (not with ``macs``: v2 gives no MAC to compare).
        """
        if selection.search is None and not macs:
            server = await search_selection(self.v2, selection, [UUID_FIELD, STATUS_FIELD],
                                            whole=True)
            if server is not None:
                part, records = server
                selection.server_note = f"API v2 query {part.text}: {len(records):,} devices"
                for record in records:
                    yield selected_key(record), record_status(record)
                return
        async for device in self.select(selection):
            if macs and device_mac(device) in macs:
                continue
            yield selected_key(device), device.status or device.status_from_code


def _unknown_label(name: str, known: list[str]) -> str:
    by_fold = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(f'"{by_fold[c]}"' for c in close) + "?"
    else:
        hint = "`epmm labels` lists them"
    return f'unknown label "{name}" ({hint})'


async def check_selection_exists(
    epmm: EpmmClient, selection: DeviceFilter, *, users: bool = True
) -> None:
    """Refuse a selection that names what the server does not have (``CliError``, exit 2).

    An unknown label is named with the closest existing label names (one ``labels`` request
    when labels are selected). With ``users`` (the default), a user id without devices is
    refused too (the API cannot tell an unknown user from one without devices): one user
    search per user. A known label without devices is not an error here.
    """
    await Selector(epmm).check(selection, users=users)


async def select_devices(epmm: EpmmClient, selection: DeviceFilter) -> AsyncIterator[Device]:
    """Devices matching ``selection``, each once, found with the most specific search.

    The server is searched by MAC, else by phone number (one request for all of them), else
    by user, else by label; otherwise the (paged) device list of each status (ACTIVE when no
    status is given). What the server selected is not filtered again; the other fields
    narrow the results (labels by their members). Label, user and phone searches do not
    return retired devices (the server's rule), so ``--label`` with ``--status RETIRED``
    finds nothing.
    """
    async for device in Selector(epmm).select(selection):
        yield device
