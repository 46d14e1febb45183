"""How to walk an API v2 paged list without looping, repeating or silently skipping. Pure.

v2 lists (device search, ``label_summary``) answer ``{"totalCount", "resultCount", "hasMore",
"results"}`` to ``limit``/``offset``. The guide says ``offset`` is the index of the first entry
[doc]; one public client sends a page number instead [client], and a server may read it that
way too. The two readings agree on ``offset=0`` and diverge after, so :class:`PageWalk` asks
the server which one it speaks, from its answers, and checks every later page.

The rule (``OffsetReading.AUTO``, the default):

1. Ask ``offset=0, limit=page_size``. If more is expected (below), every later request asks
   ``limit=n0``, the count of that first page: a server that caps pages below ``page_size``
   (or ignores ``limit``) then pages consistently under either reading.
2. **Probe**: ask ``offset=1, limit=n0``. Where the probe's first record sits in page 1 tells:

   * at position 1: ``offset`` is an **index** (the probe is page 1 shifted by one: one new
     record, ``n0 - 1`` repeats, not yielded). Go on at ``offset = 1 + len(probe)``, then
     ``offset += len(page)``;
   * not in page 1, and no record of the probe was seen: ``offset`` is a **page number** (the
     probe is page 2, all new). Go on at ``offset = 2, 3, ...`` with the same ``limit``;
   * at position 0: the server **ignores** ``offset`` (or something shifted the list under
     us): :class:`~epmm_async.errors.PagingError` after these two requests, never a third;
   * at position >= 2: records before it were deleted meanwhile; read as an index.

   With ``n0 == 1`` the readings coincide and no probe is made. A configured reading
   (``INDEX``/``PAGE``) skips the probe; the checks below still catch a server that differs.
3. **Every later page**: records already listed are dropped (dedupe by key: uuid, label id);
   a page starting with the previous page's first record, or with more than half of its
   records already listed, raises ``PagingError`` before any of it is yielded (the server is
   not moving through the list). Each accepted page adds at least one new record, so the walk
   always ends.
4. **Stop** on an empty page, on ``hasMore: false``, or once ``totalCount`` distinct records
   were listed (even if ``hasMore`` still says true). Without either signal, a page longer
   than asked on the first request (the server ignores paging), or a page shorter than
   ``limit`` after it, is the end (a short first page is probed: it may be a cap).
   Under the page reading a short page while the signals say more raises ``PagingError`` (the
   server's page size changed: the next page number would skip records).
5. **Count**: when the walk stops, fewer distinct records than the last ``totalCount`` (beyond
   what records repeated across pages explain) raises ``PagingError``, after the last page's
   records were yielded: every record listed is good, but the listing is incomplete.

So a walk gives every record exactly once, or raises ``PagingError``; it never repeats a record
and never sends a request that cannot bring a new one. Lies no answer contradicts (``hasMore:
false`` early with no ``totalCount``) cannot be caught by anyone. The error's ``uuid`` is the
repeated record's key (a label's id, for labels), ``first_seen_at`` the offset that listed it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NoReturn

from ..errors import PagingError, ValidationError

__all__ = ["OffsetReading", "PageAsk", "PageWalk"]

_FIRST: Final = "first"
_PROBE: Final = "probe"
_WALK: Final = "walk"
_DONE: Final = "done"


class OffsetReading(enum.Enum):
    """How the server reads ``offset``."""

    AUTO = "auto"
    """Find out from the answers (the probe of the module docstring): the default."""
    INDEX = "index"
    """The index of the first entry, as the guide documents; no probe."""
    PAGE = "page"
    """A page number from 0 (one public client's reading); no probe."""


@dataclass(frozen=True, slots=True)
class PageAsk:
    """The next request of a walk: its ``offset`` and ``limit``."""

    offset: int
    limit: int


class PageWalk:
    """The paging decision of one listing (see the module docstring), with no I/O.

    Use::

        walk = PageWalk(page_size)
        while (ask := walk.next_ask()) is not None:
            page = fetch(ask.offset, ask.limit)
            for i in walk.take(keys_of(page), total_count=..., has_more=...):
                yield page[i]
    """

    def __init__(self, page_size: int, *, reading: OffsetReading = OffsetReading.AUTO,
                 what: str = "record") -> None:
        """Walk with ``limit=page_size`` first; ``what`` names a record in error messages."""
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValidationError(f"page_size must be a positive integer, got {page_size!r}")
        if not isinstance(reading, OffsetReading):
            raise ValidationError(f"reading must be an OffsetReading, got {reading!r}")
        self._what = what
        self._reading = reading
        self._phase = _FIRST
        self._next = PageAsk(0, page_size)
        self._asked: PageAsk | None = None
        self._seen: dict[str, int] = {}  # key -> offset of the page that listed it first
        self._first_keys: list[str] = []
        self._previous_first: str | None = None
        self._repeated = 0  # records listed again across pages (outside the probe)
        self._total: int | None = None
        self._pending: PagingError | None = None
        self.requests = 0
        """Pages taken so far."""

    @property
    def reading(self) -> OffsetReading:
        """The reading in use: ``AUTO`` until the probe decided."""
        return self._reading

    @property
    def listed(self) -> int:
        """Distinct records listed so far."""
        return len(self._seen)

    @property
    def done(self) -> bool:
        """Whether the walk has ended (:meth:`next_ask` returns None)."""
        return self._phase == _DONE

    def next_ask(self) -> PageAsk | None:
        """The next request to send, or None when the listing is complete.

        Raises the :class:`~epmm_async.errors.PagingError` found when the last page was taken
        (the listing ended short of ``totalCount``), once its records were yielded.
        """
        if self._pending is not None:
            error, self._pending = self._pending, None
            raise error
        if self._phase == _DONE:
            return None
        if self._asked is not None:
            raise RuntimeError("take() the answer to the last ask before asking again")
        self._asked = self._next
        return self._next

    def take(self, keys: Sequence[str], *, total_count: int | None,
             has_more: bool | None) -> list[int]:
        """Take the answer to the last :meth:`next_ask`: the records' keys in order and the
        page's signals. Returns the positions of the records to yield (new, in order).

        Raises :class:`~epmm_async.errors.PagingError` before any of the page is yielded when
        the page shows the server is not paging as read.
        """
        ask = self._asked
        if ask is None:
            raise RuntimeError("take() without a pending ask")
        self._asked = None
        self.requests += 1
        if total_count is not None:
            self._total = total_count
        phase = self._phase
        fresh = self._fresh(keys)
        if phase == _PROBE and keys:
            self._decide(ask, keys, fresh)
        elif phase == _WALK and keys:
            self._check(ask, keys, fresh)
        self._commit(ask, keys, fresh, counted=phase != _PROBE)
        if phase == _FIRST:
            self._first_keys = list(keys)
        self._advance(ask, len(keys), has_more, phase)
        return fresh

    # -- the decision -----------------------------------------------------------------------

    def _fresh(self, keys: Sequence[str]) -> list[int]:
        fresh: list[int] = []
        new: set[str] = set()
        for i, key in enumerate(keys):
            if key not in self._seen and key not in new:
                new.add(key)
                fresh.append(i)
        return fresh

    def _commit(self, ask: PageAsk, keys: Sequence[str], fresh: list[int], *,
                counted: bool) -> None:
        for i in fresh:
            self._seen[keys[i]] = ask.offset
        if counted:
            self._repeated += len(keys) - len(fresh)
        if keys:
            self._previous_first = keys[0]

    def _decide(self, ask: PageAsk, keys: Sequence[str], fresh: list[int]) -> None:
        """The probe (``offset=1``): index, page number, or offset ignored."""
        first = keys[0]
        pos = self._first_keys.index(first) if first in self._first_keys else None
        if pos == 0:
            self._broke(ask, keys, fresh, f"the page at offset 1 starts with {self._what} "
                        f"{first}, as the page at offset 0 did: the server ignores 'offset'")
        if pos is None:
            if len(fresh) != len(keys):
                self._broke(ask, keys, fresh, "the page at offset 1 neither continues the page "
                            "at offset 0 (offset as an index) nor follows it (offset as a page "
                            "number)")
            self._reading = OffsetReading.PAGE
        else:
            self._reading = OffsetReading.INDEX

    def _check(self, ask: PageAsk, keys: Sequence[str], fresh: list[int]) -> None:
        """A page after the decision: moving through the list, or not."""
        if keys[0] == self._previous_first:
            self._broke(ask, keys, fresh, f"the page at offset {ask.offset} starts with "
                        f"{self._what} {keys[0]}, as the page before it did: the server "
                        "ignores 'offset'")
        if len(fresh) * 2 < len(keys):
            self._broke(ask, keys, fresh, f"{len(keys) - len(fresh)} of the {len(keys)} "
                        f"records of the page at offset {ask.offset} were already listed: "
                        "the server is not moving through the list")

    def _advance(self, ask: PageAsk, got: int, has_more: bool | None, phase: str) -> None:
        """Where to go next, or stop (and check the count)."""
        signalled = has_more is not None or self._total is not None
        if (got == 0 or has_more is False
                or (self._total is not None and len(self._seen) >= self._total)
                or (not signalled
                    and (got > ask.limit if phase == _FIRST else got < ask.limit))):
            self._stop(ask)
        elif (signalled and phase != _FIRST and got < ask.limit
              and self._reading is OffsetReading.PAGE):
            self._phase = _DONE
            self._pending = PagingError(
                f"the page at offset {ask.offset} holds {got} records of the {ask.limit} asked "
                "while the server says more follow: with 'offset' read as a page number the "
                f"next page would skip records; the listing stopped after {self.listed}",
                offset=ask.offset, listed=self.listed)
        elif phase == _FIRST:
            self._first_page_done(got)
        else:
            self._phase = _WALK
            step = 1 if self._reading is OffsetReading.PAGE else got
            self._next = PageAsk(ask.offset + step, ask.limit)

    def _first_page_done(self, got: int) -> None:
        """After a first page that promises more: ask ``limit=got`` from now on, and probe."""
        if self._reading is OffsetReading.AUTO and got == 1:
            self._reading = OffsetReading.INDEX  # one record a page: both readings agree
        if self._reading is OffsetReading.AUTO:
            self._phase = _PROBE
            self._next = PageAsk(1, got)
        else:
            self._phase = _WALK
            self._next = PageAsk(got if self._reading is OffsetReading.INDEX else 1, got)

    def _stop(self, ask: PageAsk) -> None:
        self._phase = _DONE
        total = self._total
        if total is not None and len(self._seen) + self._repeated < total:
            self._pending = PagingError(
                f"the listing ended with {self.listed} distinct {self._what}s, but totalCount "
                f"says {total}: the server's pages skipped records ('offset' read otherwise, "
                "no stable order, or hasMore/an empty page ended it early)",
                offset=ask.offset, listed=self.listed)

    def _broke(self, ask: PageAsk, keys: Sequence[str], fresh: list[int],
               what: str) -> NoReturn:
        self._phase = _DONE
        new = {keys[i] for i in fresh}
        repeat = next((k for k in keys if k not in new), keys[0])
        raise PagingError(
            f"{what}; the listing stopped after {self.listed} {self._what}s rather than "
            "repeat or loop",
            offset=ask.offset, uuid=repeat, first_seen_at=self._seen.get(repeat),
            listed=self.listed)
