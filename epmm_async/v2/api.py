"""``V2Api``: device search, counts, search fields, labels and label membership (API v2).

Every method checks its input before anything is sent (the device-space discovery included),
sends through the client's :class:`~epmm_async.sender.Sender` (its retries by each request's
safety, its pacing and its typed errors), and reads the answer tolerantly
(:mod:`epmm_async.v2.decode`). Listings page with :class:`~epmm_async.v2.paging.PageWalk`:
every record once, or a :class:`~epmm_async.errors.PagingError`, never a loop.

The API's 404 "no data" answer (a 404 with an API error body) is read as: an empty result for
searches, counts and lists; :class:`~epmm_async.errors.DeviceNotFound` for a device's labels;
a :class:`~epmm_async.errors.NotFoundError` for membership changes, creates and deletes (what
they name is not there, and nothing was done).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Final, TypeVar

import msgspec

from .._logging import get_logger
from ..config import ClientConfig
from ..core.requests import ApiRequest
from ..errors import DecodeError, DeviceNotFound, NotFoundError, ValidationError
from ..pacing import outside_jobs
from ..sender import Response, Sender
from ..validation import validate_text, validate_uuid
from . import requests
from .decode import (
    Where,
    decode_count,
    decode_created_label,
    decode_deleted,
    decode_device_labels,
    decode_device_spaces,
    decode_label_page,
    decode_membership,
    decode_ping,
    decode_search_fields,
    decode_search_page,
)
from .errors import AmbiguousLabelError
from .models import (
    CreatedLabel,
    DeviceLabel,
    DeviceRecord,
    LabelSummary,
    MembershipResult,
    Page,
    Ping,
)
from .paging import OffsetReading, PageWalk
from .query import Query, query_text

__all__ = ["DEFAULT_PAGE_SIZE", "GLOBAL_SPACE", "V2Api"]

log = get_logger("epmm_async")

DEFAULT_PAGE_SIZE: Final = 200
"""The page size asked for by default: the documented bound of the v2 lists."""
GLOBAL_SPACE: Final = 1
"""The global device space: the space id used when the account's spaces list none."""

R = TypeVar("R")
_PREFIX: Final = re.compile(r"(/[A-Za-z0-9._~-]+)+")


class V2Api:
    """API v2 calls of one client (``epmm.v2``).

    ``offset_reading`` says how the server reads ``offset`` in paged lists: found out from
    the answers by default (:class:`~epmm_async.v2.paging.OffsetReading`). ``prefix`` is the
    API's root below the base URL: ``/api/v2``, or what a front end serves it under (the
    vendor's cloud connector: ``/rest/api/v2``).
    """

    def __init__(self, sender: Sender, config: ClientConfig, *,
                 offset_reading: OffsetReading = OffsetReading.AUTO,
                 prefix: str = requests.V2_PREFIX) -> None:
        """Bind to the client's sender and config."""
        if not isinstance(offset_reading, OffsetReading):
            raise ValidationError(f"offset_reading must be an OffsetReading, got "
                                  f"{offset_reading!r}")
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ValidationError(f"prefix must be a path like '/api/v2' (no trailing '/', "
                                  f"query or space), got {prefix!r}")
        self._sender = sender
        self._config = config
        self._reading = offset_reading
        self._prefix = prefix
        self._space: int | None = None
        self._discovery: asyncio.Task[int] | None = None

    def __repr__(self) -> str:
        """``V2Api(space=...)``."""
        return f"V2Api(space={self._config.device_space_id or self._space!r})"

    async def _send(self, req: ApiRequest) -> tuple[Response, Where]:
        if req.prefix != self._prefix:
            req = msgspec.structs.replace(req, prefix=self._prefix)
        resp = await self._sender.send(req)
        return resp, Where(req.method, req.path, resp.status)

    @staticmethod
    def _not_found(req: ApiRequest, resp: Response, hint: str) -> NotFoundError:
        error = NotFoundError(404, resp.no_data or (), method=req.method, path=req.path,
                              hint=hint)
        error.attempts = resp.attempts
        return error

    # -- the device space ---------------------------------------------------------------

    async def device_space(self) -> int:
        """The ``adminDeviceSpaceId`` every call sends: ``config.device_space_id`` if set,
        else the first space of ``GET /api/v2/device_spaces/mine``, asked once and kept
        (concurrent first callers share the one request), else 1 (the global space) when
        the answer lists none. A failed discovery is raised and not kept: the next call asks
        again."""
        if self._config.device_space_id is not None:
            return self._config.device_space_id
        if self._space is not None:
            return self._space
        # One discovery in flight, shared by every caller, whether it succeeds or fails (a
        # lock would let each queued caller ask again a server that just failed). Shielded:
        # one caller cancelled does not cancel the others' answer.
        task = self._discovery
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = asyncio.get_running_loop().create_task(
                self._discover_space(), context=outside_jobs())
            task.add_done_callback(_retrieve)
            self._discovery = task
        space = await asyncio.shield(task)
        self._space = space
        return space

    async def _discover_space(self) -> int:
        """Ask ``device_spaces/mine`` (a failure is raised, and the next call asks again)."""
        resp, where = await self._send(requests.device_spaces_mine())
        spaces = [] if resp.no_data is not None else decode_device_spaces(resp.body, where)
        if not spaces:
            log.debug("v2.device_space.default", space=GLOBAL_SPACE,
                      reason="device_spaces/mine listed no space")
            return GLOBAL_SPACE
        space = spaces[0].id
        if space < 1:
            raise DecodeError(f"device_spaces/mine lists space id {space}, not a positive "
                              "number", method=where.method, path=where.path,
                              status=where.status)
        log.debug("v2.device_space.discovered", space=space, listed=len(spaces))
        return space

    # -- reads --------------------------------------------------------------------------

    async def ping(self) -> Ping:
        """``GET /api/v2/ping``: the API and server versions (no device space needed)."""
        resp, where = await self._send(requests.ping())
        return Ping() if resp.no_data is not None else decode_ping(resp.body, where)

    def search(self, query: Query | str, fields: Sequence[str], *, label_id: int | None = None,
               page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[DeviceRecord]:
        """Every device the query (or ``label_id``, with ``query=""``) selects, each once, with
        the ``fields`` asked for (``common.uuid`` always included), paged under the hood.

        ``query`` is a :class:`~epmm_async.v2.query.Query` or text (``""``: every device).
        The arguments are checked here, before iterating; the pages are fetched as it goes.
        """
        search = requests.device_search(query, fields, label_id=label_id)
        walk = PageWalk(page_size, reading=self._reading, what="device")
        return self._walk(walk, lambda space, offset, limit: requests.search_devices(
            space, search, offset=offset, limit=limit), decode_search_page,
            lambda r: r.uuid.strip().lower())

    async def count(self, query: Query | str) -> int:
        """How many devices ``query`` selects (``GET /api/v2/devices/count``)."""
        text = query_text(query)
        space = await self.device_space()
        resp, where = await self._send(requests.count_devices(space, text))
        return 0 if resp.no_data is not None else decode_count(resp.body, where)

    async def search_fields(self) -> list[str]:
        """The names of the fields the device search knows (``common.uuid``...)."""
        space = await self.device_space()
        resp, where = await self._send(requests.search_fields(space))
        if resp.no_data is not None:
            return []
        return [f.name for f in decode_search_fields(resp.body, where)]

    def labels(self, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[LabelSummary]:
        """Every label of the device space, each once, paged (``label_summary``, at most 200
        a page)."""
        if isinstance(page_size, int) and page_size > requests.MAX_LABEL_PAGE:
            raise ValidationError(f"page_size of labels is at most {requests.MAX_LABEL_PAGE}, "
                                  f"got {page_size}")
        walk = PageWalk(page_size, reading=self._reading, what="label")
        return self._walk(walk, lambda space, offset, limit: requests.label_summary(
            space, offset=offset, limit=limit), decode_label_page, lambda r: str(r.id))

    async def label(self, name: str) -> LabelSummary | None:
        """The label named exactly ``name`` (case-sensitive), or None.

        The list has no filter by name, so every page is read (a match on any page is found,
        and two labels of that name are told apart from one):
        :class:`~epmm_async.v2.errors.AmbiguousLabelError` if more than one has it.
        Case-sensitive because the label a name-addressed call reaches is the server's
        business: a match that differs in case may be another label.
        """
        wanted = validate_text(name, what="label name")
        found = [label async for label in self.labels() if label.name == wanted]
        if len(found) > 1:
            raise AmbiguousLabelError(wanted, tuple(found))
        return found[0] if found else None

    async def device_labels(self, uuid: str) -> list[DeviceLabel]:
        """The labels device ``uuid`` belongs to; :class:`DeviceNotFound` on a 404 answer."""
        key = validate_uuid(uuid)
        space = await self.device_space()
        req = requests.device_labels(space, key)
        resp, where = await self._send(req)
        if resp.no_data is not None:
            error = DeviceNotFound(404, resp.no_data, method=req.method, path=req.path)
            error.attempts = resp.attempts
            raise error
        return decode_device_labels(resp.body, where)

    # -- writes -------------------------------------------------------------------------

    async def add_to_label(self, names: str | Sequence[str],
                           uuids: str | Sequence[str]) -> MembershipResult:
        """Add devices to one or more static labels, in ONE request (idempotent: retried).

        ``names``: a label name or several (no commas in a name); ``uuids``: device uuids
        (validated, duplicates dropped, at least one). How many uuids the server takes in
        one call is unknown: split large sets yourself. Check ``successful`` and
        ``failures`` of the result.
        """
        return await self._membership("add", names, uuids)

    async def remove_from_label(self, names: str | Sequence[str],
                                uuids: str | Sequence[str]) -> MembershipResult:
        """Remove devices from one or more static labels, in ONE request (see
        :meth:`add_to_label`)."""
        return await self._membership("remove", names, uuids)

    async def _membership(self, verb: str, names: str | Sequence[str],
                          uuids: str | Sequence[str]) -> MembershipResult:
        labels = requests.check_label_names(names)
        devices = requests.check_uuids(uuids)
        space = await self.device_space()
        build = requests.add_to_label if verb == "add" else requests.remove_from_label
        req = build(space, labels, devices)
        resp, where = await self._send(req)
        if resp.no_data is not None:
            raise self._not_found(req, resp, "a label or device named is not known")
        return decode_membership(resp.body, where)

    async def create_label(self, name: str, description: str = "",
                           static: bool = True) -> CreatedLabel:
        """Create a label (static by default). Never resent once it may have been applied:
        a resend could make a second label of the name."""
        requests.create_label(GLOBAL_SPACE, name, description, static)  # check before asking
        space = await self.device_space()
        req = requests.create_label(space, name, description, static)
        resp, where = await self._send(req)
        if resp.no_data is not None:
            raise self._not_found(req, resp, "the device space is not known")
        return decode_created_label(resp.body, where)

    async def delete_labels(self, ids: int | str | Sequence[int | str], reason: str) -> bool:
        """Delete labels by id, giving a reason. True unless the answer says
        ``successful: false``. Never resent once it may have been applied."""
        requests.delete_labels(GLOBAL_SPACE, ids, reason)  # check before asking
        space = await self.device_space()
        req = requests.delete_labels(space, ids, reason)
        resp, where = await self._send(req)
        if resp.no_data is not None:
            raise self._not_found(req, resp, "a label named is not known")
        return decode_deleted(resp.body, where)

    # -- paging -------------------------------------------------------------------------

    async def _walk(self, walk: PageWalk, build: Callable[[int, int, int], ApiRequest],
                    decode: Callable[[bytes, Where], Page[R]],
                    key: Callable[[R], str]) -> AsyncIterator[R]:
        space = await self.device_space()
        while (ask := walk.next_ask()) is not None:
            resp, where = await self._send(build(space, ask.offset, ask.limit))
            page: Page[R] = Page() if resp.no_data is not None else decode(resp.body, where)
            records = page.results
            for i in walk.take([key(r) for r in records], total_count=page.total_count,
                               has_more=page.has_more):
                yield records[i]


def _retrieve(task: asyncio.Task[int]) -> None:
    """Mark a discovery's failure as seen: its callers may all have gone."""
    if not task.cancelled():
        task.exception()
