"""The selection filters on the server: an API v2 query, when the server offers v2.

When a selection lists the fleet by status (no ``--label``, ``--user``, ``--phone`` or
``--mac`` search) and gives filters, the filters that have a v2 equivalent are sent as one
device-search query, AND-ed with the statuses (ACTIVE when none is given):

=========================  =========================================================
``--platform F``           ``"common.platform"=W`` for each first word W that names F
                           (``ios``: ios, iphone, ipados), OR-ed; ``=`` ignores case
``--last-seen-before T``   ``"common.last_connected_at"<T`` (the latest T given)
``--last-seen-after T``    ``"common.last_connected_at">=T`` (the earliest T given)
``--compliance any|none``  ``"common.compliant"=false`` / ``=true`` (a reason name, or
                           any and none together: kept on the client)
``--quarantined``          ``"common.quarantined"=true``
=========================  =========================================================

The others stay on the client: ``--os-version`` (the server compares ``common.os_version``
as text: ``"9" > "17"``), ``--blocked`` and ``--*-owned`` (no v2 field is known for them) and
compliance reasons (the v2 names of ``common.noncompliance_reasons`` are not known). The query
stays within 255 characters: a filter whose term would not fit stays on the client.

Whether the server offers v2 is asked once per command (``GET /api/v2/ping``); any error
(the web server's HTML 404, a 401 or 403 for an account without the v2 role, a connection
failure) means no: the filters run on the client, and ``-v`` says why. So does a v2 query the
server refuses. ``--no-v2`` keeps every filter on the client without asking.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from .._logging import get_logger
from ..client import EpmmClient
from ..enums import DeviceStatus
from ..errors import (
    AuthenticationError,
    EpmmError,
    ForbiddenError,
    NotFoundError,
    TransportError,
    ValidationError,
)
from ..v2 import DeviceRecord, Q, Query, query_text
from ..v2.query import MAX_QUERY_LENGTH
from .common import EXIT_SOME_FAILED, EXIT_USAGE, CliError, describe_error
from .device_filter import DeviceFilter, platform_aliases

__all__ = [
    "STATUS_FIELD",
    "UUID_FIELD",
    "ServerPart",
    "V2Access",
    "check_query",
    "record_status",
    "search_selection",
    "server_part",
    "translate",
]

log = get_logger("epmm_async.cli")

UUID_FIELD = "common.uuid"
STATUS_FIELD = "common.status"
PLATFORM_FIELD = "common.platform"
LAST_SEEN_FIELD = "common.last_connected_at"
COMPLIANT_FIELD = "common.compliant"
QUARANTINED_FIELD = "common.quarantined"


_SPELLED = {"android": "Android", "ios": "iOS", "iphone": "iPhone", "ipados": "iPadOS",
            "windows": "Windows", "macos": "macOS", "osx": "OSX", "mac": "Mac"}
"""How the platform words read in a query (``=`` ignores case: for people only)."""


def translate(selection: DeviceFilter) -> dict[str, Query]:
    """The v2 query of each filter of ``selection`` that has one, by filter key (the
    :data:`~.device_filter.FILTER_KEYS` name), in the order the client checks them."""
    terms: dict[str, Query] = {}
    if selection.platforms:
        terms["platforms"] = Q.any_of(*(Q.field(PLATFORM_FIELD) == _SPELLED.get(word, word)
                                        for family in selection.platforms
                                        for word in platform_aliases(family)))
    if selection.seen_before:
        terms["seen_before"] = Q.field(LAST_SEEN_FIELD) < max(selection.seen_before)
    if selection.seen_after:
        terms["seen_after"] = Q.field(LAST_SEEN_FIELD) >= min(selection.seen_after)
    wanted = set(selection.compliance)
    if wanted in ({"ANY"}, {"NONE"}):
        terms["compliance"] = Q.field(COMPLIANT_FIELD) == (wanted == {"NONE"})
    if selection.quarantined:
        terms["quarantined"] = Q.field(QUARANTINED_FIELD) == True  # noqa: E712 (a query)
    return terms


def status_query(statuses: Sequence[str]) -> Query:
    """The statuses of a fleet listing as a query (ACTIVE when none: the v1 list's default)."""
    return Q.any_of(*(Q.field(STATUS_FIELD) == s for s in statuses or [DeviceStatus.ACTIVE]))


@dataclass(frozen=True, slots=True)
class ServerPart:
    """What the server applies of a selection: the query, and the filters it carries."""

    query: Query
    keys: tuple[str, ...]

    @property
    def text(self) -> str:
        """The query's text, as sent."""
        return self.query.render()


def server_part(selection: DeviceFilter) -> ServerPart | None:
    """The v2 part of a fleet listing's filters (None: no filter translates, or the
    selection is a label/user/phone/MAC search, whose few records are checked as listed)."""
    if selection.search is not None:
        return None
    terms = translate(selection)
    statuses = status_query(selection.statuses)
    keys: list[str] = []
    for key in terms:  # in check order; a term that does not fit stays on the client
        query = Q.all_of(statuses, *(terms[k] for k in [*keys, key]))
        if len(query.render()) <= MAX_QUERY_LENGTH:
            keys.append(key)
    if not keys:
        return None
    return ServerPart(Q.all_of(statuses, *(terms[k] for k in keys)), tuple(keys))


def check_query(text: str, option: str = "--query") -> str:
    """A query text given on the command line, checked (exit 2 for an over-long one)."""
    try:
        return query_text(text)
    except ValidationError as exc:
        raise CliError(f"{option}: {exc}", EXIT_USAGE) from None


class V2Access:
    """Whether the server offers API v2, asked once per client (``GET /api/v2/ping``), and
    whether a v2 query was refused meanwhile (then v2 is not tried again): :meth:`of`."""

    def __init__(self, epmm: EpmmClient) -> None:
        """Nothing asked yet (use :meth:`of`: one per client)."""
        self.epmm = epmm
        self._offered: bool | None = None
        self._query_refused = False
        self._said_off = False
        self.reason: str | None = None
        """Why v2 is not used, once known."""

    @classmethod
    def of(cls, epmm: EpmmClient) -> V2Access:
        """The one of ``epmm`` (a command's client): what it learnt is shared."""
        found = _ACCESS.get(epmm)
        if found is None:
            found = _ACCESS[epmm] = cls(epmm)
        return found

    async def offered(self) -> bool:
        """Whether the server answers API v2 (any error from the ping: no)."""
        if self._offered is None:
            try:
                ping = await self.epmm.v2.ping()
            except EpmmError as exc:
                self._refuse(_no_v2(exc))
            else:
                old = ping.api_version is not None and ping.api_version < 2
                if old:
                    self._refuse(f"the server says API version {ping.api_version}")
                else:
                    self._offered = True
                    log.info("v2.offered", api_version=ping.api_version,
                             server=ping.vsp_version)
        return bool(self._offered) and not self._query_refused

    def _refuse(self, reason: str) -> None:
        self._offered = False
        self.reason = reason
        log.info("v2.unavailable", reason=reason, filters="on the client")

    def turned_off(self) -> None:
        """``--no-v2``: said once (at ``-v``), however many selections the command has."""
        if not self._said_off:
            self._said_off = True
            log.info("v2.off", reason="--no-v2", filters="on the client")

    def refused(self, reason: str) -> None:
        """A v2 query of the filters failed: they are not sent to the server again."""
        self._query_refused = True
        self.reason = reason
        log.warning("v2.query_refused", reason=reason, filters="on the client")

    async def require(self, what: str) -> None:
        """Raise unless the server offers v2: ``what`` (a command or option) needs it.

        An authentication, access or connection failure of the ping is raised as it is
        (exit 3); any other answer is exit 1, saying the server offers no v2.
        """
        if self._offered:
            return
        try:
            await self.epmm.v2.ping()
        except (AuthenticationError, ForbiddenError, TransportError):
            raise
        except EpmmError as exc:
            raise CliError(f"{what} needs API v2: {_no_v2(exc)}", EXIT_SOME_FAILED) from None
        self._offered = True


_ACCESS: weakref.WeakKeyDictionary[EpmmClient, V2Access] = weakref.WeakKeyDictionary()


def _no_v2(error: EpmmError) -> str:
    """Why the ping says the server offers no v2, in words."""
    if isinstance(error, NotFoundError):
        return ("the server does not serve it (GET /api/v2/ping: HTTP 404; if this is no "
                "EPMM server at all, check --url)")
    return f"GET /api/v2/ping failed: {describe_error(error)}"


async def search_selection(
    access: V2Access, selection: DeviceFilter, fields: Sequence[str], *, whole: bool,
) -> tuple[ServerPart, list[DeviceRecord]] | None:
    """The v2 part of ``selection`` and the devices it selects (with ``fields``), or None when it
    does not run: no part, ``--no-v2``, no v2, a refused query, or (``whole``) a filter left
    for the client. When it runs, ``selection.on_server`` names the filters it applied."""
    part = server_part(selection)
    if part is None:
        return None
    on_client = [key for key in selection.filter_keys() if key not in part.keys]
    if whole and on_client:
        return None
    if not selection.use_v2:
        access.turned_off()
        return None
    if not await access.offered():
        return None
    try:
        found = [record async for record in access.epmm.v2.search(part.query, fields)]
    except EpmmError as exc:
        access.refused(f"the v2 query {part.text} failed: {describe_error(exc)}")
        return None
    selection.on_server = frozenset(part.keys)
    log.info("v2.filters", query=part.text, on_server=list(part.keys), on_client=on_client)
    return part, found


def record_status(record: DeviceRecord) -> DeviceStatus | None:
    """A search result's ``common.status`` as a status (None: absent or unknown)."""
    try:
        text = record.status
        return DeviceStatus.parse(text) if text else None
    except (ValidationError, EpmmError):
        return None
