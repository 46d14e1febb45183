"""The v2 client on the in-memory transport: device space, search, count, fields, paging.

What the transport RECEIVED is counted, not only what the client returned.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import structlog
from v2_support import (
    V2_URL,
    Fleet,
    client,
    device,
    label,
    params,
    raw_query,
    slow,
    uuid_of,
    v2,
)

from epmm_async import RetryPolicy
from epmm_async.errors import DecodeError, EpmmError, PagingError, ServerError, ValidationError
from epmm_async.transport import Canned, HttpRequest, MemoryTransport
from epmm_async.v2 import Q, V2Api

UUID = uuid_of(7)


# -- the device space ---------------------------------------------------------------------


async def test_a_configured_device_space_is_sent_and_nothing_is_discovered() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices/count", Canned.json({"totalCount": 3}))
    async with client(transport, device_space_id=7) as epmm:
        assert await v2(epmm).device_space() == 7
        assert await v2(epmm).count("") == 3
    [sent] = transport.requests
    assert params(sent)["adminDeviceSpaceId"] == "7"
    assert V2_URL.match(sent.url)
    assert sent.url.startswith("https://epmm.v2.test/api/v2/devices/count?")


async def test_the_device_space_is_discovered_once_for_concurrent_first_callers() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/device_spaces/mine",
                 slow({"results": [{"id": 4, "name": "Europe"}, {"id": 1}]}))
    transport.on("GET", "/api/v2/devices/count", Canned.json({"totalCount": 0}))
    async with client(transport, device_space_id=None) as epmm:
        api = v2(epmm)
        spaces = await asyncio.gather(*(api.device_space() for _ in range(8)))
        await api.count("")
        assert await api.device_space() == 4
    assert spaces == [4] * 8
    assert len(transport.received("GET", "/api/v2/device_spaces/mine")) == 1
    [mine] = transport.received("GET", "/api/v2/device_spaces/mine")
    assert "adminDeviceSpaceId" not in params(mine)
    [counted] = transport.received("GET", "/api/v2/devices/count")
    assert params(counted)["adminDeviceSpaceId"] == "4"


@pytest.mark.parametrize("answer", [
    Canned.json({"results": []}),
    Canned.json({"messages": [{"localizedMessage": "none"}]}, status=404)])
async def test_no_space_listed_falls_back_to_the_global_space_with_a_debug_event(
        answer: Canned) -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/device_spaces/mine", answer)
    async with client(transport, device_space_id=None) as epmm:
        with structlog.testing.capture_logs() as events:
            assert await v2(epmm).device_space() == 1
    assert [e["event"] for e in events if e["log_level"] == "debug"
            and e["event"].startswith("v2.")] == ["v2.device_space.default"]


@pytest.mark.parametrize("body", [{}, {"results": None}, {"error": "session expired"}])
async def test_a_non_answer_is_not_taken_for_the_global_space(body: object) -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/device_spaces/mine", Canned.json(body))
    async with client(transport, device_space_id=None) as epmm:
        with pytest.raises(DecodeError):
            await v2(epmm).device_space()


async def test_concurrent_callers_share_one_failed_discovery() -> None:
    """A failing discovery is asked once for every caller waiting on it, not once each."""
    async def down(request: HttpRequest) -> Canned:
        await asyncio.sleep(0.01)
        return Canned.json({"messages": ["down"]}, status=400)

    transport = MemoryTransport()
    transport.on("GET", "/api/v2/device_spaces/mine", down)
    async with client(transport, device_space_id=None) as epmm:
        api = v2(epmm)
        results = await asyncio.gather(*(api.device_space() for _ in range(20)),
                                       return_exceptions=True)
        assert all(isinstance(r, EpmmError) for r in results)
        assert len(transport.received("GET", "/api/v2/device_spaces/mine")) == 1
        with pytest.raises(EpmmError):
            await api.device_space()  # a failure is not kept: asked again
        assert len(transport.received("GET", "/api/v2/device_spaces/mine")) == 2


async def test_a_failed_discovery_is_raised_and_asked_again_next_time() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/device_spaces/mine",
                 Canned.json({"messages": ["down"]}, status=500),
                 Canned.json({"results": [{"id": 2}]}))
    async with client(transport, device_space_id=None, retry=RetryPolicy.none()) as epmm:
        api = v2(epmm)
        with pytest.raises(ServerError):
            await api.device_space()
        assert await api.device_space() == 2
    assert len(transport.requests) == 2


async def test_ping_needs_no_space() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/ping", Canned.json({"results": {"apiVersion": 2.0,
                                                          "vspVersion": "11.10"}}))
    async with client(transport, device_space_id=None) as epmm:
        info = await v2(epmm).ping()
    assert (info.api_version, info.vsp_version) == (2.0, "11.10")
    [sent] = transport.requests
    assert sent.url == "https://epmm.v2.test/api/v2/ping"
    assert sent.headers["Accept"] == "application/json"


# -- search, count, fields ----------------------------------------------------------------


async def test_search_sends_query_fields_and_paging_and_reads_records() -> None:
    transport = MemoryTransport()
    record = {"common.uuid": UUID, "common.id": 12, "common.status": "ACTIVE",
              "common.platform": "Android", "common.compliant": False,
              "common.quarantined": "true", "common.last_connected_at": "2020-11-09T07:38:22.000Z",
              "common.os_version": "14", "user.user_id": "jdoe",
              "user.email_address": "j@example.test", "ios.iPhone UDID": None}
    transport.on("GET", "/api/v2/devices", Canned.json(
        {"totalCount": 1, "resultCount": 1, "hasMore": False, "results": [record],
         "searchTimeMillis": 3}))
    query = (Q.field("common.status") == "ACTIVE") & (Q.field("common.compliant") == False)  # noqa: E712
    async with client(transport) as epmm:
        found = [r async for r in v2(epmm).search(query, ["common.status", "ios.iPhone UDID"])]
    [sent] = transport.requests
    assert params(sent) == {"adminDeviceSpaceId": "1",
                            "query": '"common.status"="ACTIVE" AND "common.compliant"=false',
                            "fields": "common.uuid,common.status,ios.iPhone UDID",
                            "limit": "200", "offset": "0"}
    assert "fields=common.uuid%2Ccommon.status%2Cios.iPhone%20UDID" in raw_query(sent)
    assert sent.body is None and sent.headers["Accept"] == "application/json"
    [r] = found
    assert (r.uuid, r.id, r.status, r.platform, r.compliant, r.quarantined) == (
        UUID, 12, "ACTIVE", "Android", False, True)
    assert r.last_connected_at == datetime(2020, 11, 9, 7, 38, 22, tzinfo=UTC)
    assert (r.os_version, r.user_id, r.email) == ("14", "jdoe", "j@example.test")
    assert r["ios.iPhone UDID"] is None and dict(r)["common.id"] == 12
    with pytest.raises(TypeError):
        r["common.id"] = 1  # type: ignore[index]  # read-only


async def test_search_by_label_id_sends_label_id_and_no_query() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices", Canned.json({"totalCount": 0, "hasMore": False,
                                                  "results": []}))
    async with client(transport) as epmm:
        assert [r async for r in v2(epmm).search("", ["common.uuid"], label_id=42)] == []
    [sent] = transport.requests
    assert params(sent)["labelId"] == "42" and "query" not in params(sent)


async def test_search_no_data_404_is_an_empty_listing() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices",
                 Canned.json({"messages": [{"message": "none"}]}, status=404))
    async with client(transport) as epmm:
        assert [r async for r in v2(epmm).search("", ["common.uuid"])] == []
    assert len(transport.requests) == 1


async def test_count_and_search_fields() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices/count", Canned.json({"totalCount": "17"}))
    transport.on("GET", "/api/v2/devices/search_fields", Canned.json(
        {"results": [{"name": "common.uuid", "type": "STRING"}, {"name": "ios.iPhone UDID"}]}))
    async with client(transport) as epmm:
        api = v2(epmm)
        assert await api.count(Q.field("common.platform") == "iOS") == 17
        assert await api.search_fields() == ["common.uuid", "ios.iPhone UDID"]
    count, fields = transport.requests
    assert params(count) == {"adminDeviceSpaceId": "1", "query": '"common.platform"="iOS"'}
    assert params(fields) == {"adminDeviceSpaceId": "1"}


@pytest.mark.parametrize("body", [b"[1, 2]", b"<html>oops</html>", b'{"results": 5}',
                                  b'{"results": [{"common.status": "ACTIVE"}], "totalCount": 1}',
                                  b'{"unrelated": true}'])
async def test_a_search_answer_of_the_wrong_shape_is_a_decode_error(body: bytes) -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices", Canned(200, body))
    async with client(transport) as epmm:
        with pytest.raises(DecodeError, match="GET /devices -> 200"):
            [r async for r in v2(epmm).search("", ["common.uuid"])]


async def test_count_without_total_count_is_a_decode_error() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices/count", Canned.json({"count": 3}))
    async with client(transport) as epmm:
        with pytest.raises(DecodeError, match="totalCount"):
            await v2(epmm).count("")


# -- paging through the client ------------------------------------------------------------


def fleet(n: int, **kw: object) -> Fleet:
    return Fleet([device(i) for i in range(n)], **kw)  # type: ignore[arg-type]


async def walk_search(f: Fleet, page_size: int) -> tuple[list[str], MemoryTransport]:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices", f.responder())
    async with client(transport) as epmm:
        out = [r.uuid async for r in v2(epmm).search("", ["common.uuid"], page_size=page_size)]
    return out, transport


@pytest.mark.parametrize(("reading", "cap", "sent"), [
    ("index", None, [(0, 10), (1, 10), (11, 10), (21, 10)]),
    ("page", None, [(0, 10), (1, 10), (2, 10)]),
    ("index", 4, [(0, 10), (1, 4), (5, 4), (9, 4), (13, 4), (17, 4), (21, 4)]),
    ("page", 4, [(0, 10), (1, 4), (2, 4), (3, 4), (4, 4), (5, 4)])])
async def test_search_pages_every_device_once(reading: str, cap: int | None,
                                              sent: list[tuple[int, int]]) -> None:
    f = fleet(23, reading=reading, cap=cap)
    out, transport = await walk_search(f, 10)
    assert out == [uuid_of(i) for i in range(23)]
    assert [(int(params(r)["offset"]), int(params(r)["limit"])) for r in transport.requests] \
        == sent == f.asked


async def test_search_on_a_server_ignoring_offset_stops_after_two_requests() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices", fleet(50, reading="ignore").responder())
    got: list[str] = []
    async with client(transport) as epmm:
        with pytest.raises(PagingError, match="ignores 'offset'"):
            async for r in v2(epmm).search("", ["common.uuid"], page_size=10):
                got.append(r.uuid)
    assert len(transport.requests) == 2 and got == [uuid_of(i) for i in range(10)]


async def test_search_with_has_more_inconsistent_with_the_count() -> None:
    f = fleet(30, has_more="always_false")
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices", f.responder())
    async with client(transport) as epmm:
        with pytest.raises(PagingError, match="totalCount says 30"):
            [r async for r in v2(epmm).search("", ["common.uuid"], page_size=10)]
    assert len(transport.requests) == 1
    out, transport = await walk_search(fleet(30, has_more="always_true"), 10)
    assert len(out) == 30 == len(set(out)) and len(transport.requests) == 4


async def test_search_drops_a_device_repeated_across_pages() -> None:
    pages = {0: [0, 1, 2, 3], 1: [1, 2, 3, 4], 5: [4, 5, 6, 7], 9: [8, 9]}
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/devices", lambda req: Canned.json({
        "totalCount": 10, "hasMore": int(params(req)["offset"]) < 9,
        "results": [device(i) for i in pages[int(params(req)["offset"])]]}))
    async with client(transport) as epmm:
        out = [r.uuid async for r in v2(epmm).search("", ["common.uuid"], page_size=4)]
    assert out == [uuid_of(i) for i in range(10)] and len(transport.requests) == 4


async def test_seeded_trials_through_the_client() -> None:
    rng = random.Random(2015)
    for _ in range(60):
        n, size = rng.randint(0, 40), rng.randint(1, 9)
        f = fleet(n, reading=rng.choice(["index", "page", "ignore"]),
                  cap=rng.choice([None, rng.randint(1, 9)]), has_more="correct")
        try:
            out, transport = await walk_search(f, size)
        except PagingError:
            assert f.reading == "ignore"
            continue
        assert out == [uuid_of(i) for i in range(n)], (n, size, f.asked)
        eff = min(size, f.cap or size)
        assert len(transport.requests) == len(f.asked) <= -(-n // eff) + 3


async def test_labels_page_by_id_through_label_summary() -> None:
    f = Fleet([label(i) for i in range(1, 8)], reading="page")
    transport = MemoryTransport()
    transport.on("GET", "/api/v2/labels/label_summary", f.responder())
    async with client(transport) as epmm:
        got = [lab async for lab in v2(epmm).labels(page_size=3)]
    assert [lab.id for lab in got] == list(range(1, 8))
    assert got[0].name == "label-1" and got[0].is_static is True and got[0].row_type == "ADMIN"
    assert got[0].device_space_name == "Global" and got[0].device_count == 1
    assert params(transport.requests[0]) == {"adminDeviceSpaceId": "1", "limit": "3",
                                             "offset": "0"}


async def test_validation_errors_of_search_send_nothing() -> None:
    transport = MemoryTransport()
    async with client(transport, device_space_id=None) as epmm:
        api = V2Api(epmm.sender, epmm.config)
        bad: list[Callable[[], object]] = [lambda: api.search("x" * 256, ["common.uuid"]),
               lambda: api.search("", []),
               lambda: api.search("", "common.uuid,common.status"),
               lambda: api.search("", ["nodot"]),
               lambda: api.search("", [f"a.f{i}" for i in range(512)]),
               lambda: api.search("a", ["common.uuid"], label_id=3),
               lambda: api.search("", ["common.uuid"], label_id=0),
               lambda: api.search("", ["common.uuid"], page_size=0),
               lambda: api.labels(page_size=201)]
        for call in bad:
            with pytest.raises(ValidationError):
                call()
        with pytest.raises(ValidationError):
            await api.count(Q.field("common.platform") == "x" * 300)
    assert transport.requests == []


async def test_a_front_end_prefix_replaces_api_v2() -> None:
    transport = MemoryTransport()
    transport.on("GET", "/rest/api/v2/ping", Canned.json({"results": {"apiVersion": 2}}))
    async with client(transport) as epmm:
        api = V2Api(epmm.sender, epmm.config, prefix="/rest/api/v2")
        assert (await api.ping()).api_version == 2.0
        for bad in ("rest", "/rest/", "/a b", "/x?y", "", 5):
            with pytest.raises(ValidationError):
                V2Api(epmm.sender, epmm.config, prefix=bad)  # type: ignore[arg-type]
    assert transport.requests[0].url == "https://epmm.v2.test/rest/api/v2/ping"
