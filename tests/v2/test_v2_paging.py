"""The v2 paging decision (PageWalk), pure: readings, caps, hasMore, duplicates, trials.

Every trial asserts: no record twice, ever; and either every record once or a PagingError;
and a bounded number of requests (no loop).
"""

from __future__ import annotations

import math
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from v2_support import HAS_MORE, READINGS, Fleet, device, uuid_of

from epmm_async.errors import PagingError, ValidationError
from epmm_async.v2 import OffsetReading, PageAsk, PageWalk


def drive(fleet: Fleet, page_size: int, reading: OffsetReading = OffsetReading.AUTO,
          bound: int = 10_000) -> tuple[list[str], PagingError | None, PageWalk]:
    """Walk ``fleet`` as the client would; fail on more than ``bound`` requests."""
    walk = PageWalk(page_size, reading=reading, what="device")
    out: list[str] = []
    try:
        while (ask := walk.next_ask()) is not None:
            assert len(fleet.asked) < bound, f"no end after {bound} requests: {fleet.asked[-5:]}"
            body = fleet.answer(ask.offset, ask.limit)
            recs = body["results"]
            assert isinstance(recs, list)
            keys = [str(r["common.uuid"]) for r in recs]
            total = body.get("totalCount")
            more = body.get("hasMore")
            assert total is None or isinstance(total, int)
            assert more is None or isinstance(more, bool)
            for i in walk.take(keys, total_count=total, has_more=more):
                out.append(keys[i])
    except PagingError as error:
        return out, error, walk
    return out, None, walk


def fleet_of(n: int, **kw: object) -> Fleet:
    return Fleet([device(i) for i in range(n)], **kw)  # type: ignore[arg-type]


def every(n: int) -> list[str]:
    return [uuid_of(i) for i in range(n)]


# -- the readings -------------------------------------------------------------------------


def test_index_reading_is_found_by_the_probe_and_walked_by_index() -> None:
    fleet = fleet_of(10)
    out, error, walk = drive(fleet, 4)
    assert error is None and out == every(10)
    assert fleet.asked == [(0, 4), (1, 4), (5, 4), (9, 4)]
    assert walk.reading is OffsetReading.INDEX and walk.done


def test_page_reading_is_found_by_the_probe_and_walked_by_page_number() -> None:
    fleet = fleet_of(10, reading="page")
    out, error, walk = drive(fleet, 4)
    assert error is None and out == every(10)
    assert fleet.asked == [(0, 4), (1, 4), (2, 4)]
    assert walk.reading is OffsetReading.PAGE


@pytest.mark.parametrize("reading", ["index", "page"])
@pytest.mark.parametrize("unit", ["limit", "size"])
def test_a_page_cap_below_page_size_still_reaches_every_record_once(reading: str,
                                                                     unit: str) -> None:
    fleet = fleet_of(23, reading=reading, cap=4, page_unit=unit)
    out, error, _ = drive(fleet, 10)
    assert error is None and out == every(23)
    assert all(limit == 4 for _, limit in fleet.asked[1:])  # asks what the server gives


def test_a_server_ignoring_offset_is_caught_after_two_requests() -> None:
    fleet = fleet_of(50, reading="ignore")
    out, error, walk = drive(fleet, 10)
    assert isinstance(error, PagingError) and len(fleet.asked) == 2
    assert out == every(10)  # the first page, once
    assert error.offset == 1 and error.uuid == uuid_of(0) and error.first_seen_at == 0
    assert walk.next_ask() is None  # over: never a third request


def test_a_configured_index_reading_still_catches_a_server_ignoring_offset() -> None:
    fleet = fleet_of(50, reading="ignore")
    _, error, _ = drive(fleet, 10, OffsetReading.INDEX)
    assert isinstance(error, PagingError) and fleet.asked == [(0, 10), (10, 10)]


def test_a_configured_index_reading_on_a_page_server_skips_nothing_silently() -> None:
    fleet = fleet_of(30, reading="page")
    out, error, _ = drive(fleet, 4, OffsetReading.INDEX)
    assert isinstance(error, PagingError) and "totalCount says 30" in str(error)
    assert len(out) == len(set(out)) < 30


def test_a_configured_page_reading_walks_pages_without_a_probe() -> None:
    fleet = fleet_of(9, reading="page")
    out, error, _ = drive(fleet, 4, OffsetReading.PAGE)
    assert error is None and out == every(9) and fleet.asked == [(0, 4), (1, 4), (2, 4)]


def test_one_record_a_page_needs_no_probe() -> None:
    fleet = fleet_of(3, cap=1)
    out, error, walk = drive(fleet, 5)
    assert error is None and out == every(3)
    assert fleet.asked == [(0, 5), (1, 1), (2, 1)] and walk.reading is OffsetReading.INDEX


# -- hasMore and totalCount ---------------------------------------------------------------


def test_has_more_always_true_stops_at_total_count() -> None:
    fleet = fleet_of(8, has_more="always_true")
    out, error, _ = drive(fleet, 4)
    assert error is None and out == every(8) and len(fleet.asked) == 3


def test_has_more_always_true_without_total_stops_on_the_empty_page() -> None:
    fleet = fleet_of(8, has_more="always_true", total=False)
    out, error, _ = drive(fleet, 4)
    assert error is None and out == every(8) and fleet.asked[-1] == (8, 4)


def test_has_more_false_while_total_count_says_more_raises_after_the_page() -> None:
    fleet = fleet_of(8, has_more="always_false")
    out, error, _ = drive(fleet, 4)
    assert out == every(4) and isinstance(error, PagingError) and len(fleet.asked) == 1


def test_a_short_page_under_the_page_reading_while_more_is_said_raises() -> None:
    fleet = fleet_of(10, reading="page", has_more="always_true", total=False)
    out, error, _ = drive(fleet, 4)
    assert out == every(10)  # the records listed are good ...
    assert isinstance(error, PagingError) and "page number" in str(error)  # ... then it stops


def test_no_signals_a_page_longer_than_asked_is_everything() -> None:
    walk = PageWalk(5)
    assert walk.next_ask() == PageAsk(0, 5)
    assert walk.take(every(9), total_count=None, has_more=None) == list(range(9))
    assert walk.next_ask() is None


def test_no_signals_a_short_first_page_is_probed_then_ends() -> None:
    fleet = fleet_of(3, has_more="absent", total=False)
    out, error, _ = drive(fleet, 5)
    assert error is None and out == every(3) and fleet.asked == [(0, 5), (1, 3)]


def test_an_empty_page_before_total_count_raises() -> None:
    walk = PageWalk(2)
    walk.next_ask()
    walk.take(every(2), total_count=5, has_more=True)
    walk.next_ask()
    walk.take([], total_count=5, has_more=True)
    with pytest.raises(PagingError, match="totalCount says 5") as caught:
        walk.next_ask()
    assert caught.value.listed == 2


def test_an_empty_listing_is_one_request() -> None:
    fleet = fleet_of(0)
    out, error, _ = drive(fleet, 5)
    assert out == [] and error is None and fleet.asked == [(0, 5)]


# -- duplicates ---------------------------------------------------------------------------


def test_a_record_repeated_across_pages_is_listed_once() -> None:
    keys = every(12)
    walk = PageWalk(4)
    pages = {0: keys[0:4], 1: keys[1:5], 5: [keys[4], *keys[5:8]], 9: keys[8:12]}
    out: list[str] = []
    while (ask := walk.next_ask()) is not None:
        page = pages[ask.offset]
        out += [page[i] for i in walk.take(page, total_count=12, has_more=ask.offset < 9)]
    assert out == keys  # keys[4] came twice (a shift), listed once


def test_a_page_mostly_already_listed_raises_before_yielding_it() -> None:
    keys = every(20)
    walk = PageWalk(4)
    walk.next_ask()
    walk.take(keys[0:4], total_count=20, has_more=True)
    walk.next_ask()
    walk.take(keys[1:5], total_count=20, has_more=True)  # probe: index
    assert walk.next_ask() == PageAsk(5, 4)
    with pytest.raises(PagingError, match="already listed") as caught:
        walk.take([keys[2], keys[3], keys[4], keys[9]], total_count=20, has_more=True)
    assert caught.value.listed == 5 and caught.value.uuid == keys[2]
    assert walk.next_ask() is None


def test_a_probe_overlapping_without_continuing_raises() -> None:
    keys = every(20)
    walk = PageWalk(4)
    walk.next_ask()
    walk.take(keys[0:4], total_count=20, has_more=True)
    walk.next_ask()
    with pytest.raises(PagingError, match="neither continues"):
        walk.take([keys[10], keys[2], keys[11], keys[12]], total_count=20, has_more=True)


# -- the protocol -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -1, True, 2.5, "10"])
def test_a_bad_page_size_is_refused(size: object) -> None:
    with pytest.raises(ValidationError):
        PageWalk(size)  # type: ignore[arg-type]


def test_the_protocol_is_ask_then_take() -> None:
    walk = PageWalk(3)
    with pytest.raises(RuntimeError):
        walk.take([], total_count=None, has_more=None)
    walk.next_ask()
    with pytest.raises(RuntimeError):
        walk.next_ask()


# -- randomised trials --------------------------------------------------------------------


def _undetectable(has_more: str, total: bool) -> bool:
    # "hasMore: false" early with no totalCount to contradict it: no client can tell.
    return has_more == "always_false" and not total


def check_trial(n: int, page_size: int, cap: int | None, reading: str, has_more: str,
                total: bool, unit: str) -> None:
    fleet = fleet_of(n, reading=reading, cap=cap, has_more=has_more, total=total,
                     page_unit=unit)
    eff = min(page_size, cap) if cap is not None else page_size
    out, error, _ = drive(fleet, page_size, bound=n + 10)
    case = (n, page_size, cap, reading, has_more, total, unit, fleet.asked)
    assert len(out) == len(set(out)), case  # never a duplicate
    assert len(fleet.asked) <= math.ceil(n / eff) + 3, case  # never a loop
    if error is None:
        assert sorted(out) == every(n), case  # every record exactly once
    must_succeed = reading in ("index", "page") and (
        has_more in ("correct", "absent") or (has_more == "always_true" and total)
        or (has_more == "always_true" and reading == "index"))
    if must_succeed:
        assert error is None, (case, error)
    if reading == "ignore" and n > eff:
        assert error is not None and len(fleet.asked) <= 2, case


def test_seeded_trials_every_record_once_or_a_paging_error() -> None:
    rng = random.Random(15)
    for _ in range(4000 if os.environ.get("EPMM_THOROUGH") else 1000):  # test-all: 4000
        has_more = rng.choice(HAS_MORE)
        total = rng.random() < 0.7
        if _undetectable(has_more, total):
            continue
        check_trial(rng.randint(0, 90), rng.randint(1, 16),
                    rng.choice([None, None, rng.randint(1, 16)]), rng.choice(READINGS),
                    has_more, total, rng.choice(["limit", "size"]))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(n=st.integers(0, 120), page_size=st.integers(1, 20),
       cap=st.none() | st.integers(1, 20), reading=st.sampled_from(READINGS),
       has_more=st.sampled_from(HAS_MORE), total=st.booleans(),
       unit=st.sampled_from(["limit", "size"]))
def test_hypothesis_trials(n: int, page_size: int, cap: int | None, reading: str,
                           has_more: str, total: bool, unit: str) -> None:
    if not _undetectable(has_more, total):
        check_trial(n, page_size, cap, reading, has_more, total, unit)
