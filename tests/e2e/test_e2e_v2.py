"""API v2 end to end: the real client (``epmm.v2``, ``epmm.ops.label_*``, ``epmm_async.v2.Q``)
against the embedded simulator over HTTP, never MemoryTransport.

The simulator is the ground truth: its fleet (``sim.fleet``: devices, users, labels and their
members), the values its v2 fields give (``epmm_async.simulator.search.FIELDS``) and what it
received (``sim.received``, v2 paths named with their ``/api/v2`` prefix). Each test starts
its own simulator with the ``Quirks(v2_*)`` switches it is about, so a test may change the
fleet. The 30,000-device membership runs are ``slow``; a 3,000-device variant runs by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from epmm_async import (
    BadRequestError,
    ClientConfig,
    DeviceNotFound,
    EpmmClient,
    NotFoundError,
    RetryPolicy,
    ValidationError,
)
from epmm_async.enums import DeviceStatus
from epmm_async.ops import BulkReport, JobSettings, Journal, Outcome, OutcomeStatus
from epmm_async.simulator import Faults, Quirks, ReceivedRequest, SimDevice, Simulator
from epmm_async.simulator.search import FIELDS
from epmm_async.v2 import Q, Query, query_text

World = tuple[Simulator, EpmmClient]

DEVICES = 400
SEED = 23
FAST = RetryPolicy(initial_delay=0.005, max_delay=0.05, deadline=5)
LABEL = "Empty Label"  # a static label of the default fleet with no members
MAX_UUIDS = 100  # the jobs' default per-call size
V2 = "/api/v2"
MEMBERSHIP = re.compile(r"/api/v2/devices/labels/(?P<names>.+)/(?P<verb>add|remove)")
UNKNOWN = [f"0000dead-0000-4000-8000-{i:012x}" for i in range(1, 6)]
S, F, U, C = (OutcomeStatus(s) for s in ("succeeded", "failed", "unknown", "cancelled"))


# -- helpers -----------------------------------------------------------------------------------


def make_client(sim: Simulator, **config: Any) -> EpmmClient:
    """A client for ``sim`` with short retry waits."""
    return EpmmClient(sim.url, username=sim.username, password=sim.password,
                      config=ClientConfig(retry=FAST, **config))


@contextlib.asynccontextmanager
async def world(quirks: Quirks | None = None, *, devices: int = DEVICES, seed: int = SEED,
                faults: Faults | None = None, **config: Any) -> AsyncIterator[World]:
    """A fresh simulator with ``quirks`` and a client on it."""
    async with Simulator(devices=devices, seed=seed, quirks=quirks or Quirks(),
                         faults=faults) as sim, make_client(sim, **config) as epmm:
        yield sim, epmm


def value(d: SimDevice, name: str) -> Any:
    """The simulator's own value of v2 field ``name`` for ``d`` (None: the device lacks it)."""
    return FIELDS[name].get(d)


def truth(sim: Simulator, keep: Callable[[SimDevice], bool]) -> Counter[str]:
    """The fleet's devices ``keep`` selects, each once."""
    return Counter(d.uuid.lower() for d in sim.fleet.devices.values() if keep(d))


def live(sim: Simulator) -> list[str]:
    """Every device v1's label search shows (it hides RETIRED ones), in fleet order."""
    return [d.uuid for d in sim.fleet.devices.values() if d.status != DeviceStatus.RETIRED]


def members(sim: Simulator, name: str = LABEL) -> set[str]:
    """The devices in label ``name``, from the fleet."""
    label = sim.fleet.label_named(name)
    assert label is not None
    return {d.uuid for d in sim.fleet.devices.values() if label.matches(d)}


async def found(epmm: EpmmClient, query: Query | str, **kw: Any) -> Counter[str]:
    """The uuids ``epmm.v2.search`` yields, counted (so a repeat shows)."""
    return Counter([r.uuid.lower() async for r in epmm.v2.search(query, ["common.uuid"], **kw)])


def since(sim: Simulator, mark: int) -> list[ReceivedRequest]:
    """Requests received after ``mark`` (a length of ``sim.received``)."""
    return sim.received.requests[mark:]


def membership(sim: Simulator, verb: str | None = None, mark: int = 0) -> list[ReceivedRequest]:
    """The label add/remove requests received after ``mark``."""
    out = []
    for r in since(sim, mark):
        m = MEMBERSHIP.fullmatch(r.path)
        if r.method == "PUT" and m is not None and verb in (None, m["verb"]):
            out.append(r)
    return out


def sent(r: ReceivedRequest) -> list[str]:
    """The uuids of a membership request's body, lower-cased."""
    body = r.json()
    assert isinstance(body, dict), r
    return [u.lower() for u in body["deviceUuids"]]


def space_param(r: ReceivedRequest) -> list[str]:
    """The ``adminDeviceSpaceId`` values a request carried (any case of the name)."""
    return [v for k, v in r.query_pairs() if k.lower() == "admindevicespaceid"]


def by_device(report: BulkReport | Sequence[Outcome]) -> dict[str, Outcome]:
    """Outcomes by device, checking there is one per device."""
    outcomes = report.outcomes if isinstance(report, BulkReport) else report
    table = {o.device.lower(): o for o in outcomes}
    assert len(table) == len(outcomes), "a device got two outcomes"
    return table


def interleave(known: Sequence[str], extra: Sequence[str], every: int) -> list[str]:
    """``known`` with one of ``extra`` after every ``every`` devices (so no two are adjacent)."""
    out: list[str] = []
    pending = list(extra)
    for i, u in enumerate(known, 1):
        out.append(u)
        if pending and i % every == every // 2:
            out.append(pending.pop(0))
    assert not pending, "not enough devices to spread the extras"
    return out


# -- ping, device space, search fields -----------------------------------------------------------


async def test_ping_and_device_space_discovered_once() -> None:
    async with world() as (sim, epmm):
        ping = await epmm.v2.ping()
        assert ping.api_version == 2.0 and ping.vsp_version
        assert not space_param(sim.received.requests[-1])  # ping names no space
        # Concurrent first callers share the one discovery.
        counts = await asyncio.gather(*(epmm.v2.count("") for _ in range(5)))
        assert counts == [len(sim.fleet.devices)] * 5
        assert await epmm.v2.device_space() == 1
        paths = Counter(r.path for r in sim.received.requests)
        assert paths[f"{V2}/device_spaces/mine"] == 1
        assert paths[f"{V2}/devices/count"] == 5
        for r in sim.received.requests:
            if r.path == f"{V2}/devices/count":
                assert space_param(r) == ["1"]


async def test_another_device_space_is_sent_on_every_call() -> None:
    async with world(Quirks(v2_device_space_id=7)) as (sim, epmm):
        sd = next(iter(sim.fleet.devices.values()))
        assert await epmm.v2.device_space() == 7
        assert await epmm.v2.count("") == len(sim.fleet.devices)
        assert await epmm.v2.search_fields()
        assert [lb async for lb in epmm.v2.labels()]
        assert await found(epmm, "") == truth(sim, lambda d: True)
        assert await epmm.v2.device_labels(sd.uuid) is not None
        created = await epmm.v2.create_label("Space Seven")
        assert (await epmm.v2.add_to_label("Space Seven", [sd.uuid])).successful
        assert (await epmm.v2.remove_from_label("Space Seven", [sd.uuid])).successful
        assert await epmm.v2.delete_labels([created.id], "e2e")
        skip = {f"{V2}/ping", f"{V2}/device_spaces/mine"}
        rest = [r for r in sim.received.requests if r.path not in skip]
        assert rest and all(space_param(r) == ["7"] for r in rest), rest
        assert all(r.status == 200 for r in sim.received.requests)
        bodies = [r.json() for r in rest if r.method in ("POST", "DELETE")]
        assert [b["deviceSpaceId"] for b in bodies] == [7, 7]


async def test_search_fields_are_the_servers() -> None:
    async with world() as (_, epmm):
        assert await epmm.v2.search_fields() == list(FIELDS)


# -- search and count ----------------------------------------------------------------------------


async def test_search_records_match_the_fleet() -> None:
    names = ["common.id", "common.status", "common.platform", "common.compliant",
             "common.quarantined", "common.last_connected_at", "common.os_version",
             "common.noncompliance_reasons", "ios.iPhone UDID", "user.user_id",
             "user.email_address"]
    async with world() as (sim, epmm):
        query = Q.field("common.platform") == "iOS"
        records = [r async for r in epmm.v2.search(query, names, page_size=50)]
        want = [d for d in sim.fleet.devices.values() if value(d, "common.platform") == "iOS"]
        assert [r.uuid for r in records] == [d.uuid for d in want] and want
        for r, d in zip(records, want, strict=True):
            for name in ["common.uuid", *names]:
                v = value(d, name)
                if v is None:
                    assert name not in r, (d, name)
                else:
                    assert r[name] == FIELDS[name].json(v), (d, name)
            assert r.id == d.id
            assert r.status == d.status.value
            assert r.platform == "iOS"
            assert r.compliant == (d.compliance == 0)
            assert r.quarantined == (d.quarantined != 0)
            assert r.last_connected_at == datetime.fromtimestamp(d.last_connected_at, UTC)
            assert r.user_id == d.user.principal
            assert r.email == d.user.email


async def test_search_by_label_id() -> None:
    async with world() as (sim, epmm):
        sales = sim.fleet.label_named("Sales")
        assert sales is not None and sales.static
        assert await found(epmm, "", label_id=sales.id) == truth(sim, sales.matches)
        # A query and a label together: how the server combines them is unknown, so the
        # client refuses the pair before sending.
        mark = len(sim.received)
        with pytest.raises(ValidationError):
            epmm.v2.search(Q.field("common.platform") == "iOS", ["common.uuid"],
                           label_id=sales.id)
        assert since(sim, mark) == []


async def test_count_matches_the_fleet() -> None:
    cases: list[tuple[Query | str, Callable[[SimDevice], bool]]] = [
        ("", lambda d: True),
        (Q.field("common.status") == "ACTIVE", lambda d: d.status == DeviceStatus.ACTIVE),
        (Q.field("common.retired") == True, lambda d: d.status == DeviceStatus.RETIRED),  # noqa: E712
        (Q.field("common.compliant") != True, lambda d: d.compliance != 0),  # noqa: E712
        (Q.field("common.imei").is_empty(), lambda d: not value(d, "common.imei")),
        (Q.field("user.email_address").contains("@"), lambda d: "@" in d.user.email),
        (Q.field("common.id") >= 5000, lambda d: d.id >= 5000),
        (Q.field("common.last_connected_at")
         < datetime.fromtimestamp(1_717_000_000, UTC),
         lambda d: d.last_connected_at < 1_717_000_000),
    ]
    async with world() as (sim, epmm):
        for query, keep in cases:
            want = truth(sim, keep)
            assert await epmm.v2.count(query) == sum(want.values()), query
            assert await found(epmm, query) == want, query


# -- labels ------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_page", [False, True], ids=["offset-index", "offset-page"])
@pytest.mark.parametrize("cap", [200, 3], ids=lambda c: f"label-cap-{c}")
async def test_labels_and_label_lookup(as_page: bool, cap: int) -> None:
    async with world(Quirks(v2_label_page_cap=cap, v2_offset_as_page=as_page)) as (sim, epmm):
        labels = [lb async for lb in epmm.v2.labels()]
        counts = sim.fleet.label_counts()
        assert [(lb.id, lb.name, lb.is_static, lb.device_count, lb.description, lb.criteria)
                for lb in labels] == [
            (sl.id, sl.name, sl.static, counts[sl.id], sl.description, sl.query)
            for sl in sim.fleet.labels]
        assert {lb.row_type for lb in labels if lb.id < 0} == {"SYSTEM"}
        pages = [r for r in sim.received.requests if r.path == f"{V2}/labels/label_summary"]
        n = len(sim.fleet.labels)
        assert len(pages) <= math.ceil(n / min(cap, 200)) + 2
        assert all(int(dict(r.query_pairs())["limit"]) <= 200 for r in pages)
        for name in ("Équipe Paris", "R&D/Prototypes", "Lost Devices"):
            got = await epmm.v2.label(name)
            assert got is not None and got.name == name
            want = sim.fleet.label_named(name)
            assert want is not None and got.id == want.id and got.is_static == want.static
        assert await epmm.v2.label("équipe paris") is None  # case-sensitive by design
        assert await epmm.v2.label("No Such Label") is None


async def test_create_and_delete_labels() -> None:
    async with world() as (sim, epmm):
        uuids = live(sim)[:3]
        created = await epmm.v2.create_label("E2E ✓ Static", "made by the e2e test")
        assert created.name == "E2E ✓ Static" and created.static is True
        sl = sim.fleet.label_by_id(created.id)
        assert sl is not None and sl.static and sl.description == "made by the e2e test"
        listed = await epmm.v2.label("E2E ✓ Static")
        assert listed is not None and listed.id == created.id and listed.device_count == 0
        assert (await epmm.v2.add_to_label("E2E ✓ Static", uuids)).successful
        assert members(sim, "E2E ✓ Static") == set(uuids)
        mark = len(sim.received)
        with pytest.raises(BadRequestError):  # a duplicate name (case aside): sent once
            await epmm.v2.create_label("e2e ✓ static")
        assert [r.method for r in since(sim, mark)] == ["POST"]
        assert await epmm.v2.delete_labels([created.id], "end of the e2e test") is True
        assert sim.fleet.label_by_id(created.id) is None
        assert all(created.id not in sim.fleet.devices[u].labels for u in uuids)
        assert await epmm.v2.label("E2E ✓ Static") is None
        mark = len(sim.received)
        with pytest.raises(NotFoundError):
            await epmm.v2.delete_labels([created.id], "again")
        assert [r.method for r in since(sim, mark)] == ["DELETE"]
        mark = len(sim.received)
        with pytest.raises(ValidationError):  # a system label's negative id: never sent
            await epmm.v2.delete_labels([-1], "no")
        assert since(sim, mark) == []


async def test_device_labels_match_the_fleet() -> None:
    async with world() as (sim, epmm):
        devices = list(sim.fleet.devices.values())
        picks = [
            next(d for d in devices if len(d.labels) >= 2),
            next(d for d in devices if d.status == DeviceStatus.RETIRED),
            next(d for d in devices if d.status == DeviceStatus.LOST),
            next(d for d in devices if not d.labels),
        ]
        for d in picks:
            got = await epmm.v2.device_labels(d.uuid.upper())
            want = {(str(lb.id), lb.name, lb.static) for lb in sim.fleet.labels if lb.matches(d)}
            assert {(lb.id, lb.name, lb.static) for lb in got} == want, d
            assert len(got) == len(want)
        mark = len(sim.received)
        with pytest.raises(DeviceNotFound):
            await epmm.v2.device_labels(UNKNOWN[0])
        assert len(since(sim, mark)) == 1


async def test_add_and_remove_from_labels_directly() -> None:
    names = ["R&D/Prototypes", "Équipe Paris", LABEL]
    async with world() as (sim, epmm):
        uuids = live(sim)[10:16]
        before = {n: members(sim, n) for n in names}
        added = await epmm.v2.add_to_label(names, [u.upper() for u in uuids] + uuids[:2])
        assert added.successful and not added.failures
        for n in names:
            assert members(sim, n) == before[n] | set(uuids), n
        (req,) = membership(sim, "add")
        assert sorted(sent(req)) == sorted(uuids)  # duplicates dropped, one request
        assert all(sim.ledger.count(u, "LABEL_ADD") >= 1 for u in uuids)
        removed = await epmm.v2.remove_from_label(names, uuids)
        assert removed.successful and not removed.failures
        for n in names:
            assert members(sim, n) == before[n] - set(uuids), n
        # An unknown uuid among known ones: a failure record naming it, the rest applied.
        mixed = await epmm.v2.add_to_label(LABEL, [*uuids[:2], UNKNOWN[0]])
        assert mixed.successful is False
        assert [f.device for f in mixed.failures] == [UNKNOWN[0]]
        assert members(sim, LABEL) == set(uuids[:2])


async def test_membership_errors_are_sent_once() -> None:
    async with world() as (sim, epmm):
        uuids = live(sim)[:2]
        await epmm.v2.device_space()
        mark = len(sim.received)
        with pytest.raises(NotFoundError):
            await epmm.v2.add_to_label("No Such Label", uuids)
        with pytest.raises(BadRequestError):  # a dynamic label takes no manual members
            await epmm.v2.add_to_label("iOS", uuids)
        assert [r.status for r in since(sim, mark)] == [404, 400]
        mark = len(sim.received)
        with pytest.raises(ValidationError):  # a comma would split the name: never sent
            await epmm.v2.add_to_label("a,b", uuids)
        with pytest.raises(ValidationError):
            await epmm.v2.add_to_label(LABEL, ["not-a-uuid"])
        with pytest.raises(ValidationError):
            await epmm.v2.remove_from_label(LABEL, [])
        assert since(sim, mark) == []


# -- the query builder: escaping, precedence, length ---------------------------------------------

TARGET = 'Zé"名\\\\"🙂\\'  # Zé"名\\"🙂\  : a quote, two backslashes, \", a trailing backslash
DECOYS = (
    'Zé"名\\"🙂\\',  # one backslash fewer
    'Zé名\\\\"🙂\\',  # no first quote
    'Zé"名\\\\"🙂',  # no trailing backslash
    'Zé"名\\\\\\"🙂\\',  # one backslash more
    TARGET + "x",  # longer: starts with the target
    "x" + TARGET,  # contains it
)


def _distinct_users(sim: Simulator, n: int) -> list[Any]:
    users: dict[str, Any] = {}
    for d in sim.fleet.devices.values():
        users.setdefault(d.user.principal, d.user)
        if len(users) == n:
            break
    return list(users.values())


async def test_escaping_matches_exactly_the_devices_it_should() -> None:
    async with world() as (sim, epmm):
        target, *decoys = _distinct_users(sim, 1 + len(DECOYS))
        target.last = TARGET
        for user, last in zip(decoys, DECOYS, strict=True):
            user.last = last
        field = Q.field("user.last_name")
        folded = TARGET.casefold()
        cases: list[tuple[Query, Callable[[SimDevice], bool]]] = [
            (field == TARGET, lambda d: d.user.last.casefold() == folded),
            (field != TARGET, lambda d: d.user.last.casefold() != folded),
            (field.starts_with(TARGET), lambda d: d.user.last.casefold().startswith(folded)),
            (field.contains(TARGET), lambda d: folded in d.user.last.casefold()),
            (field.contains('"名\\\\"'), lambda d: '"名\\\\"' in d.user.last),
            (field.does_not_contain("\\"), lambda d: "\\" not in d.user.last),
            ((field == TARGET) | (field == DECOYS[0]),
             lambda d: d.user.last in (TARGET, DECOYS[0])),
        ]
        for query, keep in cases:
            want = truth(sim, keep)
            assert await found(epmm, query) == want, str(query)
            assert await epmm.v2.count(query) == sum(want.values()), str(query)
            (pair,) = [v for k, v in sim.received.requests[-1].query_pairs() if k == "query"]
            assert pair == query_text(query)  # the server got the text as rendered
        exact = truth(sim, lambda d: d.user is target)
        assert exact and await found(epmm, field == TARGET) == exact


async def test_refused_characters_are_never_sent() -> None:
    async with world() as (sim, epmm):
        await epmm.v2.device_space()
        mark = len(sim.received)
        for bad in ("a\nb", "tab\there", "nul\x00", "line\u2028sep", "lone\ud800"):
            with pytest.raises(ValidationError):
                await epmm.v2.count(Q.field("user.last_name") == bad)
        for name in ('user."last"', "user.last\\name", "nodot"):
            with pytest.raises(ValidationError):
                Q.field(name)
        with pytest.raises(ValidationError):
            await epmm.v2.count('"user.last_name"="a\ud800"')  # plain text: still encodable only
        assert since(sim, mark) == []


@pytest.mark.parametrize("left_to_right", [False, True], ids=["and-first", "left-to-right"])
async def test_precedence_gives_the_fleet_sets(left_to_right: bool) -> None:
    a = Q.field("common.platform") == "Android"
    b = Q.field("common.compliant") == False  # noqa: E712
    c = Q.field("common.employee_owned") == True  # noqa: E712
    d_ = Q.field("common.status") == "ACTIVE"

    def pa(d: SimDevice) -> bool:
        return bool(value(d, "common.platform") == "Android")

    def pb(d: SimDevice) -> bool:
        return d.compliance != 0

    def pc(d: SimDevice) -> bool:
        return bool(d.employee_owned)

    def pd(d: SimDevice) -> bool:
        return d.status == DeviceStatus.ACTIVE

    cases: list[tuple[Query, Callable[[SimDevice], bool]]] = [
        (a & (b | c), lambda d: pa(d) and (pb(d) or pc(d))),
        ((a & b) | c, lambda d: (pa(d) and pb(d)) or pc(d)),
        (c | (a & b), lambda d: pc(d) or (pa(d) and pb(d))),
        ((c | a) & b, lambda d: (pc(d) or pa(d)) and pb(d)),
        ((a | b) & (c | d_), lambda d: (pa(d) or pb(d)) and (pc(d) or pd(d))),
        ((a & b) | (c & d_), lambda d: (pa(d) and pb(d)) or (pc(d) and pd(d))),
        (Q.all_of(a, b | c, d_), lambda d: pa(d) and (pb(d) or pc(d)) and pd(d)),
        (~(a & b), lambda d: not (pa(d) and pb(d))),
        (~(a | c) | d_, lambda d: not (pa(d) or pc(d)) or pd(d)),
    ]
    async with world(Quirks(v2_left_to_right=left_to_right)) as (sim, epmm):
        sets = [truth(sim, keep) for _, keep in cases]
        assert sets[0] != sets[1] and sets[2] != sets[3]  # the fleet tells them apart
        for (query, _), want in zip(cases, sets, strict=True):
            assert await epmm.v2.count(query) == sum(want.values()), str(query)
            assert await found(epmm, query) == want, str(query)
        # The same terms unparenthesised: the server's reading decides, so the quirk matters
        # (and the builder, which always parenthesises, is immune to it).
        raw = f"{c} OR {a} AND {b}"
        reading = sets[3] if left_to_right else sets[2]
        assert await epmm.v2.count(raw) == sum(reading.values())


async def test_query_length_limit_is_checked_before_sending() -> None:
    field = Q.field("user.last_name")
    room = 255 - len(str(field == ""))
    accented = "é" * room  # 255 characters, more bytes: the limit counts characters
    quotes = '"' * (room // 2)  # every quote escaped: the rendered text is what counts
    async with world() as (sim, epmm):
        u1, u2 = _distinct_users(sim, 2)
        u1.last, u2.last = accented, quotes
        for user, text in ((u1, accented), (u2, quotes)):
            query = field == text
            assert len(query_text(query)) == 255
            want = truth(sim, lambda d, user=user: d.user is user)
            assert await epmm.v2.count(query) == sum(want.values())
            assert await found(epmm, query) == want
        mark = len(sim.received)
        too_long: list[Query | str] = [
            field == accented + "é",
            field == quotes + "a",
            (field == "x") | (field == "y" * 250),
            "a" * 256,
        ]
        for query in too_long:
            with pytest.raises(ValidationError, match="255"):
                await epmm.v2.count(query)
            with pytest.raises(ValidationError, match="255"):
                epmm.v2.search(query, ["common.uuid"])  # refused when called, not iterated
        assert since(sim, mark) == []


# -- paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_page", [False, True], ids=["offset-index", "offset-page"])
@pytest.mark.parametrize(("cap", "page_size"), [(None, 200), (None, 23), (7, 200), (64, 50),
                                                (None, 1)], ids=lambda v: str(v))
async def test_search_pages_every_device_exactly_once(as_page: bool, cap: int | None,
                                                      page_size: int) -> None:
    quirks = Quirks(v2_offset_as_page=as_page, v2_page_cap=cap)
    async with world(quirks, devices=300) as (sim, epmm):
        await epmm.v2.device_space()
        query = Q.field("common.retired") == False  # noqa: E712
        want = truth(sim, lambda d: d.status != DeviceStatus.RETIRED)
        mark = len(sim.received)
        assert await found(epmm, query, page_size=page_size) == want
        pages = since(sim, mark)
        assert all(r.path == f"{V2}/devices" and r.status == 200 for r in pages)
        per_page = min(page_size, cap or page_size)
        assert math.ceil(len(want) / per_page) <= len(pages) <= math.ceil(
            len(want) / per_page) + 2
        assert all(int(dict(r.query_pairs())["limit"]) <= page_size for r in pages)


async def test_search_over_a_page_cap_that_errors_stops_at_once() -> None:
    quirks = Quirks(v2_page_cap=50, v2_over_cap="error")
    async with world(quirks, devices=120) as (sim, epmm):
        await epmm.v2.device_space()
        mark = len(sim.received)
        with pytest.raises(BadRequestError):
            await found(epmm, "")  # the default page size (200) is over the cap
        assert [r.status for r in since(sim, mark)] == [400]
        assert await found(epmm, "", page_size=50) == truth(sim, lambda d: True)


# -- label membership jobs: the cap nobody documents -----------------------------------------------


def _check_cap(sim: Simulator, verb: str, targets: list[str], cap: int, most: int,
               cap_status: int) -> None:
    """Every device in exactly one accepted call, no accepted call over ``cap``, refusals
    bounded as documented (each device in at most ceil(log2(most)) refused calls)."""
    reqs = membership(sim, verb)
    assert reqs and all(r.done and r.status is not None for r in reqs)
    accepted = [r for r in reqs if r.status == 200]
    refused = [r for r in reqs if r.status != 200]
    assert max(len(sent(r)) for r in accepted) <= min(cap, most)
    assert all(r.status == cap_status and len(sent(r)) > cap for r in refused), refused
    assert Counter(u for r in accepted for u in sent(r)) == Counter(u.lower() for u in targets)
    received = sim.received.label_uuids(verb)
    assert set(received) == {u.lower() for u in targets}
    assert max(received.values()) - 1 <= math.ceil(math.log2(most))
    chunks = math.ceil(len(targets) / most)
    assert len(accepted) <= chunks * math.ceil(most / min(cap, most)) + math.ceil(
        math.log2(most)) * 2
    assert len(refused) <= 2 * math.ceil(math.log2(most)) + 2


async def _membership_at_scale(devices: int, cap: int, max_uuids: int | None,
                               cap_status: int) -> None:
    quirks = Quirks(v2_max_label_uuids=cap, v2_label_cap_status=cap_status)
    most = max_uuids or MAX_UUIDS
    kw = {} if max_uuids is None else {"max_uuids": max_uuids}
    async with world(quirks, devices=devices, seed=5) as (sim, epmm):
        targets = live(sim)
        assert members(sim) == set()
        added = await epmm.ops.label_add(LABEL, targets, **kw)
        outcomes = by_device(added)
        assert set(outcomes) == set(targets) and added.all_succeeded, added.counts
        _check_cap(sim, "add", targets, cap, most, cap_status)
        assert members(sim) == set(targets)
        v1 = await epmm.devices.by_label(LABEL)
        assert Counter(d.uuid.lower() for d in v1) == Counter(targets)
        sim.received.clear()
        removed = await epmm.ops.label_remove(LABEL, targets, **kw)
        assert set(by_device(removed)) == set(targets) and removed.all_succeeded
        _check_cap(sim, "remove", targets, cap, most, cap_status)
        assert members(sim) == set()
        assert await epmm.devices.by_label(LABEL) == []


@pytest.mark.parametrize(("cap", "max_uuids", "cap_status"),
                         [(37, None, 400), (37, None, 413), (250, None, 400), (250, 1000, 400)],
                         ids=["cap37", "cap37-413", "cap250", "cap250-max1000"])
async def test_label_add_remove_3000_devices_unknown_cap(cap: int, max_uuids: int | None,
                                                         cap_status: int) -> None:
    await _membership_at_scale(3_000, cap, max_uuids, cap_status)


@pytest.mark.slow
@pytest.mark.parametrize(("cap", "max_uuids"), [(37, None), (250, 1000)],
                         ids=["cap37", "cap250-max1000"])
async def test_label_add_remove_30000_devices_unknown_cap(cap: int,
                                                          max_uuids: int | None) -> None:
    await _membership_at_scale(30_000, cap, max_uuids, 400)


# -- partial failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 207, 400])
async def test_partial_failure_unknown_uuids_fail_the_rest_succeed(status: int) -> None:
    """With records for every device (``v2_success_records``, ``v2_remove_records``), under
    any status of the partial answer: the unknown uuids FAILED, the rest SUCCEEDED. A 400
    (read as a wordless refusal) is isolated by halving."""
    quirks = Quirks(v2_partial_failure=status, v2_success_records=True, v2_remove_records=True)
    async with world(quirks) as (sim, epmm):
        known = live(sim)[:250]
        mixed = interleave(known, UNKNOWN, every=50)
        for verb, job, want_members in (("add", epmm.ops.label_add, set(known)),
                                        ("remove", epmm.ops.label_remove, set())):
            report = await job(LABEL, mixed)
            outcomes = by_device(report)
            assert set(outcomes) == {u.lower() for u in mixed}
            assert {u for u, o in outcomes.items() if o.status is F} == set(UNKNOWN), verb
            assert {u for u, o in outcomes.items() if o.status is S} == set(known), verb
            if status < 300:
                assert all(UNKNOWN[i] in (outcomes[UNKNOWN[i]].error or "") for i in range(5))
                assert len(membership(sim, verb)) == 3  # one call a chunk
            assert members(sim) == want_members, verb


async def test_partial_failure_with_failure_only_records(tmp_path: Path) -> None:
    """The default answer lists failures only, with ``successful: false``: the unknown uuids
    FAILED; a device of such a chunk that the answer does not name is UNKNOWN (documented:
    never SUCCEEDED), the other chunks SUCCEEDED. The fleet has every known device; a resume
    sends again exactly the FAILED and UNKNOWN ones."""
    journal = tmp_path / "partial.journal"
    async with world(Quirks(v2_partial_failure=200)) as (sim, epmm):
        known = live(sim)[:300]
        mixed = known[:40] + UNKNOWN[:1] + known[40:200] + UNKNOWN[1:2] + known[200:]
        chunks = [mixed[i:i + MAX_UUIDS] for i in range(0, len(mixed), MAX_UUIDS)]
        tainted = {u for ch in chunks if set(ch) & set(UNKNOWN) for u in ch} - set(UNKNOWN)
        assert tainted and len(tainted) < len(known)
        report = await epmm.ops.label_add(LABEL, mixed, settings=JobSettings(journal=journal))
        outcomes = by_device(report)
        for u, o in outcomes.items():
            want = F if u in UNKNOWN else U if u in tainted else S
            assert o.status is want, (u, o)
        assert members(sim) == set(known)
        mark = len(sim.received)
        again = await epmm.ops.label_add(LABEL, mixed, settings=JobSettings(journal=journal))
        resent = Counter(u for r in membership(sim, "add", mark) for u in sent(r))
        assert set(resent) == tainted | set(UNKNOWN[:2])
        assert {u for u, o in by_device(again).items() if o.from_journal} == (
            set(known) - tainted)


# -- cancellation and the journal --------------------------------------------------------------


async def test_closing_the_stream_midway_sends_nothing_after(tmp_path: Path) -> None:
    journal = tmp_path / "close.journal"
    quirks = Quirks(v2_max_label_uuids=37)
    faults = Faults(latency=0.005, paths=(f"{V2}/devices/labels",))
    async with world(quirks, devices=3_000, faults=faults) as (sim, epmm):
        targets = live(sim)
        stream = epmm.ops.stream_label_add(LABEL, targets, settings=JobSettings(journal=journal))
        yielded: list[Outcome] = []
        async for outcome in stream:
            yielded.append(outcome)
            if len(yielded) >= 300:
                break
        t0 = time.monotonic()
        await stream.aclose()
        t1 = time.monotonic()
        await asyncio.sleep(0.3)
        # Nothing arrives once the stream is closed; while it closes, only what was already
        # on its way (at most one request a worker: the default concurrency is 2).
        assert sim.received.requests_after(t1) == []
        assert len(sim.received.requests_after(t0)) <= 2
        reqs = membership(sim, "add")
        assert all(r.done and r.status is not None for r in reqs)
        # Outcomes consistent: what was yielded, the journal, the fleet and the accepted
        # requests all agree.
        assert all(o.status is S for o in yielded) and len(by_device(yielded)) == len(yielded)
        snap = Journal.read(journal)
        statuses = Counter(e.status for e in snap.entries.values())
        assert set(statuses) <= {"succeeded", "cancelled"} and sum(statuses.values()) == len(
            targets)
        done = {u for u, e in snap.entries.items() if e.status == "succeeded"}
        accepted = {u for r in reqs if r.status == 200 for u in sent(r)}
        assert {o.device for o in yielded} <= done
        assert done == accepted == members(sim)
        assert 300 <= len(done) < len(targets)


async def test_journal_resume_sends_no_device_already_succeeded(tmp_path: Path) -> None:
    journal = tmp_path / "resume.journal"
    async with world(Quirks(v2_max_label_uuids=37), devices=3_000) as (sim, epmm):
        targets = live(sim)
        stop = anyio.Event()
        first: list[Outcome] = []
        settings = JobSettings(journal=journal, stop=stop)
        async for outcome in epmm.ops.stream_label_add(LABEL, targets, settings=settings):
            first.append(outcome)
            if len(first) == 500:
                stop.set()
        table = by_device(first)
        assert set(table) == set(targets)  # a stop yields the rest, cancelled
        done_first = {u for u, o in table.items() if o.status is S}
        assert {o.status for o in first} == {S, C} and 500 <= len(done_first) < len(targets)
        snap = Journal.read(journal)
        assert {u for u, e in snap.entries.items() if e.status == "succeeded"} == done_first
        assert members(sim) == done_first
        sim.received.clear()
        second = await epmm.ops.label_add(LABEL, targets, settings=JobSettings(journal=journal))
        outcomes = by_device(second)
        assert second.all_succeeded and set(outcomes) == set(targets)
        assert {u for u, o in outcomes.items() if o.from_journal} == done_first
        resent = sim.received.label_uuids("add")
        assert not set(resent) & done_first
        assert set(resent) == set(targets) - done_first
        _check_cap(sim, "add", sorted(set(targets) - done_first), 37, MAX_UUIDS, 400)
        assert members(sim) == set(targets)
        v1 = await epmm.devices.by_label(LABEL)
        assert Counter(d.uuid for d in v1) == Counter(targets)


# -- a server without API v2 ---------------------------------------------------------------------


async def _drain(it: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in it]


async def test_v2_disabled_raises_clearly_and_never_loops() -> None:
    async with world(Quirks(v2_enabled=False), devices=50) as (sim, epmm):
        uuid = next(iter(sim.fleet.devices))
        calls: list[tuple[str, Callable[[], Any]]] = [
            ("ping", epmm.v2.ping),
            ("device_space", epmm.v2.device_space),
            ("search", lambda: _drain(epmm.v2.search("", ["common.uuid"]))),
            ("count", lambda: epmm.v2.count("")),
            ("search_fields", epmm.v2.search_fields),
            ("labels", lambda: _drain(epmm.v2.labels())),
            ("label", lambda: epmm.v2.label("Sales")),
            ("create_label", lambda: epmm.v2.create_label("Nope")),
            ("delete_labels", lambda: epmm.v2.delete_labels([1], "no")),
            ("device_labels", lambda: epmm.v2.device_labels(uuid)),
            ("add_to_label", lambda: epmm.v2.add_to_label("Sales", [uuid])),
            ("remove_from_label", lambda: epmm.v2.remove_from_label("Sales", [uuid])),
            ("ops.label_add", lambda: epmm.ops.label_add("Sales", [uuid])),
            ("ops.label_remove",
             lambda: epmm.ops.label_remove("Sales", [uuid], check_label=False)),
        ]
        for name, call in calls:
            for _ in range(2):  # a failed discovery is not kept, and never looped on
                mark = len(sim.received)
                with pytest.raises(NotFoundError) as info:
                    await call()
                got = since(sim, mark)
                assert len(got) == 1, (name, got)
                assert got[0].path.startswith(V2 + "/") and got[0].status == 404, name
                assert info.value.status == 404, name
                assert f"{V2}/" in str(info.value), (name, str(info.value))
        assert all(r.path.startswith(V2) for r in sim.received.requests)
        # v1 is untouched: the label v2 could not reach is still there.
        shown = members(sim, "Sales") & set(live(sim))  # v1's label search hides RETIRED
        assert {d.uuid for d in await epmm.devices.by_label("Sales")} == shown
