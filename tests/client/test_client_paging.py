"""Paging safety: each device once across pages, and a server that ignores ``offset`` is
reported (``PagingError``), never looped over, never silently duplicated.

A purpose-built loopback server answers ``GET /devices?offset=&limit=`` from a script and
counts the requests it received, so "does not loop" is a number, not a timeout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import bodies as b
import pytest
from aiohttp import web
from client_support import CONTENT_TYPES
from loopback import serve

from epmm_async import ClientConfig, EpmmClient, EpmmError, PagingError, RetryPolicy

FLEET = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, 11)]
"""Ten uuids, in the server's order."""

Pages = Callable[[int, int], tuple[list[str], int | None]]
"""``(offset, limit) -> (uuids of the page, totalCount or None)``."""


class Server:
    """What the scripted server received."""

    def __init__(self) -> None:
        self.offsets: list[int] = []


@asynccontextmanager
async def scripted(pages: Pages, fmt: str) -> AsyncIterator[tuple[EpmmClient, Server]]:
    server = Server()

    async def devices(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", "500"))
        server.offsets.append(offset)
        uuids, total = pages(offset, limit)
        tree = b.devices_tree(*(b.device_tree(u, ident=FLEET.index(u) + 1) for u in uuids),
                              total=total)
        if total is None:
            del tree["totalCount"]
        return web.Response(text=b.render(tree, fmt), content_type=CONTENT_TYPES[fmt])

    app = web.Application()
    app.router.add_get("/api/v1/dm/devices", devices)
    async with serve(app) as url, EpmmClient(
        url,
        username="u",
        password="p",
        config=ClientConfig(response_format=fmt, retry=RetryPolicy.none()),
    ) as epmm:
        yield epmm, server


def honest(offset: int, limit: int) -> tuple[list[str], int | None]:
    return FLEET[offset : offset + limit], len(FLEET)


def ignores_offset(offset: int, limit: int) -> tuple[list[str], int | None]:
    return FLEET[:limit], len(FLEET)


async def test_a_server_that_behaves(fmt: str) -> None:
    async with scripted(honest, fmt) as (epmm, server):
        listed = [d.uuid async for d in epmm.devices.iter(page_size=3)]
    assert listed == FLEET
    assert server.offsets == [0, 3, 6, 9]


async def test_a_short_last_page_without_total_ends_the_listing(fmt: str) -> None:
    def no_total(offset: int, limit: int) -> tuple[list[str], int | None]:
        return FLEET[offset : offset + limit], None

    async with scripted(no_total, fmt) as (epmm, server):
        assert [d.uuid for d in await epmm.devices.list()] == FLEET  # one page of 500
    assert server.offsets == [0]


async def test_a_device_shifted_onto_the_next_page_is_listed_once(fmt: str) -> None:
    # A device registered between two requests pushes page one's last record (FLEET[2]) onto
    # page two: the server sends it twice, the caller sees it once.
    pages = {0: FLEET[0:3], 3: FLEET[2:5], 6: FLEET[5:8], 9: FLEET[8:10]}

    def shifted(offset: int, limit: int) -> tuple[list[str], int | None]:
        return pages.get(offset, []), 11

    async with scripted(shifted, fmt) as (epmm, server):
        listed = [d.uuid async for d in epmm.devices.iter(page_size=3)]
    assert listed == FLEET
    assert len(set(listed)) == len(listed)
    assert server.offsets == [0, 3, 6, 9]


async def test_a_device_twice_on_one_page_is_listed_once(fmt: str) -> None:
    def doubled(offset: int, limit: int) -> tuple[list[str], int | None]:
        return [FLEET[0], FLEET[1], FLEET[0]], 3

    async with scripted(doubled, fmt) as (epmm, server):
        listed = [d.uuid async for d in epmm.devices.iter(page_size=3)]
    assert listed == FLEET[:2]
    assert server.offsets == [0]


async def test_a_server_that_ignores_offset_is_reported_not_looped(fmt: str) -> None:
    async with scripted(ignores_offset, fmt) as (epmm, server):
        listed: list[str] = []
        with pytest.raises(PagingError) as info:
            async for device in epmm.devices.iter(page_size=3):
                listed.append(device.uuid)
    # The first page was honest as far as the caller can tell; the second repeated it.
    assert listed == FLEET[:3]
    assert server.offsets == [0, 3]  # two requests, then the error: no loop
    error = info.value
    assert isinstance(error, EpmmError)
    assert (error.offset, error.uuid, error.first_seen_at, error.listed) == (3, FLEET[0], 0, 3)
    text = str(error)
    assert "offset 3" in text and FLEET[0] in text and "ignore 'offset'" in text


async def test_list_raises_too_and_returns_nothing_partial(fmt: str) -> None:
    def capped(offset: int, limit: int) -> tuple[list[str], int | None]:
        return FLEET[:4], 20  # pages capped at 4, offset ignored

    async with scripted(capped, fmt) as (epmm, server):
        with pytest.raises(PagingError):
            await epmm.devices.list()
    assert server.offsets == [0, 4]


async def test_a_page_of_devices_all_already_listed_is_reported(fmt: str) -> None:
    # Offset ignored, and the order changes between requests: the first uuid differs, but
    # every device on the second page was on the first.
    def reordered(offset: int, limit: int) -> tuple[list[str], int | None]:
        head = FLEET[:limit]
        return (head if offset == 0 else head[::-1]), len(FLEET)

    async with scripted(reordered, fmt) as (epmm, server):
        with pytest.raises(PagingError) as info:
            _ = [d async for d in epmm.devices.iter(page_size=4)]
    assert server.offsets == [0, 4]
    assert info.value.uuid == FLEET[3]
    assert info.value.offset == 4
    assert "already listed" in str(info.value)


async def test_a_page_that_starts_with_the_same_device_is_reported_though_the_rest_is_new(
    fmt: str,
) -> None:
    # Offset ignored on a fleet that changes between requests: page two starts again at the
    # first device; its new devices are not yielded either (their place is unknown).
    def restarted(offset: int, limit: int) -> tuple[list[str], int | None]:
        return ([FLEET[0], FLEET[1]] if offset == 0 else [FLEET[0], FLEET[5]]), len(FLEET)

    async with scripted(restarted, fmt) as (epmm, server):
        listed: list[str] = []
        with pytest.raises(PagingError) as info:
            async for device in epmm.devices.iter(page_size=2):
                listed.append(device.uuid)
    assert listed == FLEET[:2]
    assert server.offsets == [0, 2]
    assert "starts with device" in str(info.value)
    assert info.value.listed == 2


# -- servers found by the review: each ended the listing early without a word ---------------

BIG = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, 41)]


@asynccontextmanager
async def scripted_big(pages: Pages, fmt: str) -> AsyncIterator[tuple[EpmmClient, Server]]:
    server = Server()

    async def devices(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", "500"))
        server.offsets.append(offset)
        uuids, total = pages(offset, limit)
        tree = b.devices_tree(*(b.device_tree(u, ident=i + 1) for i, u in enumerate(uuids)),
                              total=total)
        if not uuids:
            tree["devices"] = None
        return web.Response(text=b.render(tree, fmt), content_type=CONTENT_TYPES[fmt])

    app = web.Application()
    app.router.add_get("/api/v1/dm/devices", devices)
    async with serve(app) as url, EpmmClient(
        url,
        username="u",
        password="p",
        config=ClientConfig(response_format=fmt, retry=RetryPolicy.none()),
    ) as epmm:
        yield epmm, server


async def test_offset_ignored_while_devices_register_is_an_error(fmt: str) -> None:
    calls = [0]

    def rotating(offset: int, limit: int) -> tuple[list[str], int | None]:
        calls[0] += 1  # one device registers before each request: a new one on top
        fleet = [f"{0xffff - i:08x}-0000-4000-8000-{i:012x}" for i in range(calls[0])] + BIG
        return fleet[:limit], len(fleet)

    async with scripted_big(rotating, fmt) as (epmm, server):
        with pytest.raises(PagingError):
            [d async for d in epmm.devices.iter(page_size=10)]
    assert len(server.offsets) == 2


async def test_offset_read_as_a_page_number_is_an_error(fmt: str) -> None:
    def page_number(offset: int, limit: int) -> tuple[list[str], int | None]:
        return BIG[offset * limit : offset * limit + limit], len(BIG)

    async with scripted_big(page_number, fmt) as (epmm, server):
        with pytest.raises(PagingError, match="empty"):
            [d async for d in epmm.devices.iter(page_size=10)]
    assert server.offsets == [0, 10]


async def test_a_server_sending_more_than_asked_is_followed_to_the_total(fmt: str) -> None:
    def ignores_limit(offset: int, limit: int) -> tuple[list[str], int | None]:
        return BIG[offset : offset + 15], len(BIG)

    async with scripted_big(ignores_limit, fmt) as (epmm, server):
        listed = [d.uuid async for d in epmm.devices.iter(page_size=10)]
    assert listed == BIG
    assert server.offsets == [0, 15, 30]


async def test_pages_in_no_stable_order_are_an_error(fmt: str) -> None:
    import random

    rng = random.Random(3)

    def unstable(offset: int, limit: int) -> tuple[list[str], int | None]:
        shuffled = BIG[:]
        rng.shuffle(shuffled)
        return shuffled[offset : offset + limit], len(BIG)

    async with scripted_big(unstable, fmt) as (epmm, server):
        with pytest.raises(PagingError):
            [d async for d in epmm.devices.iter(page_size=10)]
    assert len(server.offsets) <= 4


async def test_a_record_shifted_by_a_registration_is_still_fine(fmt: str) -> None:
    calls = [0]
    newcomer = "ffffffff-0000-4000-8000-000000000000"

    def shifted(offset: int, limit: int) -> tuple[list[str], int | None]:
        calls[0] += 1
        fleet = BIG if calls[0] == 1 else [newcomer, *BIG]
        return fleet[offset : offset + limit], len(fleet)

    async with scripted_big(shifted, fmt) as (epmm, _server):
        listed = [d.uuid async for d in epmm.devices.iter(page_size=10)]
    assert sorted(listed) == sorted(BIG)  # the newcomer came after the listing passed it
