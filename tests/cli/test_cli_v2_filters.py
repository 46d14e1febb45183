"""The selection filters on the server (an API v2 query) and on the client select the same
devices from the same fleet; how the server's offer of v2 is detected, and the fallbacks."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterator

import pytest
from cli_support import Invoke, SimThread, make_invoke

from epmm_async.cli.device_filter import DeviceFilter
from epmm_async.cli.v2_filters import server_part, translate
from epmm_async.enums import ComplianceReason, DeviceStatus
from epmm_async.errors import AuthenticationError, ConnectError, ForbiddenError, ServerError
from epmm_async.simulator.fleet import SimDevice
from epmm_async.simulator.wire import Quirks
from epmm_async.v2 import V2Api

ACTIVE = (DeviceStatus.ACTIVE,)
COMPROMISED = ComplianceReason.COMPROMISED.value
Pred = Callable[[SimDevice], bool]


def _truth(st: SimThread, pred: Pred, statuses: tuple[DeviceStatus, ...] = ACTIVE) -> set[str]:
    return {d.uuid for d in st.sim.fleet.devices.values() if d.status in statuses and pred(d)}


def _iso(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _planned(cli: Invoke, *args: str) -> tuple[set[str], str]:
    """The devices a dry run selects: those it would send to and those pre-flight skips."""
    r = cli("lock", *args, "--dry-run", "-o", "json", "--allow-empty")
    assert r.exit_code == 0, r.output
    if not r.stdout.strip():  # nothing matched
        return set(), r.stderr
    plan = json.loads(r.stdout)
    return set(plan["devices"]) | set(plan["skipped"]), r.stderr


def _listed(cli: Invoke, *args: str) -> set[str]:
    r = cli("devices", "list", "-o", "jsonl", *args)
    assert r.exit_code == 0, r.output
    return {json.loads(line)["uuid"] for line in r.stdout.splitlines() if line.strip()}


def _requests(st: SimThread, prefix: str) -> list[str]:
    return [f"{r.method} {r.path}" for r in st.sim.received.requests if r.path.startswith(prefix)]


def _spread_last_seen(st: SimThread) -> int:
    """Spread the fleet's check-ins (the generated active devices all checked in at its
    fixed "now") over 60 days; returns one some devices have exactly, others before and
    after it."""
    base = 1_717_200_000
    for n, d in enumerate(sorted(st.sim.fleet.devices.values(), key=lambda d: d.uuid)):
        d.last_connected_at = base - (n % 60) * 86_400 - 3_600
    return base - 30 * 86_400 - 3_600


# Each case: the options, the ground truth, whether every filter runs on the server.
CASES: dict[str, tuple[tuple[str, ...], Pred, tuple[DeviceStatus, ...], bool]] = {
    "platform": (("--platform", "ios"), lambda d: d.kind == "ios", ACTIVE, True),
    "two platforms": (("--platform", "android", "--platform", "macos"),
                      lambda d: d.kind in ("android", "macos"), ACTIVE, True),
    "non-compliant": (("--compliance", "any"), lambda d: d.compliance != 0, ACTIVE, True),
    "compliant windows": (("--compliance", "none", "--platform", "windows"),
                          lambda d: d.compliance == 0 and d.kind == "windows", ACTIVE, True),
    "quarantined": (("--quarantined",), lambda d: d.quarantined != 0, ACTIVE, True),
    "lost android": (("--platform", "android", "--status", "LOST", "--status", "WIPED"),
                     lambda d: d.kind == "android",
                     (DeviceStatus.LOST, DeviceStatus.WIPED), True),
    "reason (client)": (("--compliance", "compromised", "--platform", "android"),
                        lambda d: d.kind == "android" and bool(d.compliance & COMPROMISED), ACTIVE,
                        False),
    "os version (client)": (("--platform", "ios", "--os-version", "<17"),
                            lambda d: d.kind == "ios"
                            and int(d.platform.split()[1].split(".")[0]) < 17, ACTIVE, False),
    "blocked (client)": (("--blocked", "--platform", "android"),
                         lambda d: d.kind == "android" and d.block_reason != 0, ACTIVE, False),
    "query too long (mixed)": (
        ("--platform", "ios", "--platform", "macos", "--platform", "android", "--platform",
         "windows", "--quarantined"), lambda d: d.quarantined != 0, ACTIVE, False),
    "owned (client)": (("--company-owned", "--compliance", "any"),
                       lambda d: not d.employee_owned and d.compliance != 0, ACTIVE, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_server_and_client_filters_select_the_same_devices(
        cli: Invoke, shared: SimThread, case: str) -> None:
    args, pred, statuses, whole = CASES[case]
    want = _truth(shared, pred, statuses)
    before = len(_requests(shared, "/api/v1/dm/devices"))
    server, said = _planned(cli, *args)
    v1_lists = len(_requests(shared, "/api/v1/dm/devices")) - before
    client, said_client = _planned(cli, *args, "--no-v2")
    assert server == client == want
    assert said.startswith("API v2 query"), said
    assert "API v2" not in said_client
    # Every filter on the server: one search, no v1 listing of the fleet at all.
    assert (v1_lists == 0) is whole
    # devices list: the same devices either way (v2 narrows the v1 listing).
    assert _listed(cli, *args) == _listed(cli, *args, "--no-v2") == want


def test_pre_flight_reads_the_status_the_v2_search_gives(cli: Invoke, shared: SimThread) -> None:
    wiped = _truth(shared, lambda d: True, (DeviceStatus.WIPED,))
    assert wiped
    for extra in ((), ("--no-v2",)):
        r = cli("lock", "--status", "WIPED", "--status", "LOST", "--platform", "android",
                "--platform", "ios", "--platform", "windows", "--platform", "macos",
                "--dry-run", "-o", "json", *extra)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["skipped"] == dict.fromkeys(sorted(wiped), "wiped")


def test_last_seen_runs_on_the_server_with_the_same_boundaries(
        fresh_cli: Invoke, fresh: SimThread) -> None:
    edge = _spread_last_seen(fresh)
    before = _truth(fresh, lambda d: d.last_connected_at < edge)
    after = _truth(fresh, lambda d: d.last_connected_at >= edge)
    assert before and after and _truth(fresh, lambda d: d.last_connected_at == edge)
    for args, want in ((("--last-seen-before", _iso(edge)), before),
                       (("--last-seen-after", _iso(edge)), after),  # >= : the edge is in
                       (("--last-seen-after", _iso(edge), "--last-seen-before", _iso(edge)),
                        set()),
                       (("--last-seen-before", "30d"), before | after)):
        server, said = _planned(fresh_cli, *args)
        client, _ = _planned(fresh_cli, *args, "--no-v2")
        assert server == client == want
        assert "common.last_connected_at" in said


def test_no_v2_sends_no_v2_request(cli: Invoke, shared: SimThread) -> None:
    before = len(_requests(shared, "/api/v2"))
    _planned(cli, "--platform", "ios", "--quarantined", "--no-v2")
    assert _listed(cli, "--platform", "ios", "--no-v2")
    assert len(_requests(shared, "/api/v2")) == before


def test_filters_without_a_v2_term_ask_nothing_of_v2(cli: Invoke, shared: SimThread) -> None:
    before = len(_requests(shared, "/api/v2"))
    _planned(cli, "--os-version", ">=14", "--blocked")
    _planned(cli, "--label", "Sales", "--platform", "ios")  # a label search: few records
    assert len(_requests(shared, "/api/v2")) == before


def test_one_ping_per_command(cli: Invoke, shared: SimThread) -> None:
    before = len(_requests(shared, "/api/v2/ping"))
    _planned(cli, "--platform", "ios", "--os-version", "<17")
    assert len(_requests(shared, "/api/v2/ping")) == before + 1


@pytest.fixture(scope="module")
def no_v2() -> Iterator[SimThread]:
    """A server without API v2: every /api/v2 path is the web server's HTML 404."""
    st = SimThread(devices=120, seed=11, time_scale=0.02, quirks=Quirks(v2_enabled=False))
    yield st
    st.close()


def test_a_server_without_v2_filters_on_the_client(no_v2: SimThread) -> None:
    cli = make_invoke(no_v2)
    want = _truth(no_v2, lambda d: d.kind == "ios" and d.compliance != 0)
    got, said = _planned(cli, "--platform", "ios", "--compliance", "any")
    assert got == want and "v2" not in said  # silent without -v
    r = cli("lock", "--platform", "ios", "--compliance", "any", "--dry-run", "-v")
    assert r.exit_code == 0, r.output
    assert "v2.unavailable" in r.stderr and "HTTP 404" in r.stderr
    assert "platform ios: kept" in r.stderr
    assert _listed(cli, "--platform", "ios", "--compliance", "any") == want


def test_a_refused_query_falls_back_to_the_client(fresh: SimThread, fresh_cli: Invoke) -> None:
    fresh.sim.set_quirks(Quirks(v2_max_query_length=30))  # every filter query is a 400
    want = _truth(fresh, lambda d: d.kind == "android" and d.quarantined != 0)
    r = fresh_cli("lock", "--platform", "android", "--quarantined", "--dry-run", "-o", "json",
                  "-v", "--allow-empty")
    assert r.exit_code == 0, r.output
    assert "v2.query_refused" in r.stderr and "platform android: kept" in r.stderr
    assert set(json.loads(r.stdout)["devices"] if r.stdout.strip() else []) == want
    assert _listed(fresh_cli, "--platform", "android", "--quarantined") == want


PING_FAILURES = {
    "401 (no v2 role)": lambda: AuthenticationError(401, ("no v2 role",), method="GET",
                                                    path="/api/v2/ping"),
    "403": lambda: ForbiddenError(403, ("forbidden",), method="GET", path="/api/v2/ping"),
    "connection reset": lambda: ConnectError("reset by peer", method="GET",
                                             path="/api/v2/ping"),
    "500": lambda: ServerError(500, (), method="GET", path="/api/v2/ping"),
}


@pytest.mark.parametrize("failure", sorted(PING_FAILURES))
def test_any_ping_failure_means_no_v2(fresh: SimThread, fresh_cli: Invoke,
                                      monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    # v1 works, the v2 ping fails: the filters run on the client, and -v says why.
    async def refused(self: V2Api) -> object:
        raise PING_FAILURES[failure]()

    monkeypatch.setattr(V2Api, "ping", refused)
    want = _truth(fresh, lambda d: d.kind == "windows")
    got, said = _planned(fresh_cli, "--platform", "windows")
    assert got == want and "API v2" not in said
    r = fresh_cli("devices", "list", "--platform", "windows", "-o", "jsonl", "-v")
    assert r.exit_code == 0 and "v2.unavailable" in r.stderr, r.output
    assert not [x for x in fresh.sim.received.requests if x.path.startswith("/api/v2")]


# -- the translation ---------------------------------------------------------------------


def test_what_translates_and_what_stays_on_the_client() -> None:
    at = _dt.datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=_dt.UTC)
    f = DeviceFilter(platforms=["ios"], last_seen_before=["30d"], last_seen_after=["60d"],
                     compliance=["any"], quarantined=True, os_versions=["<17"], blocked=True,
                     company_owned=True, now=at)
    terms = {k: q.render() for k, q in translate(f).items()}
    assert terms == {
        "platforms": '"common.platform"="iOS" OR "common.platform"="iPhone" OR '
                     '"common.platform"="iPadOS"',
        "seen_before": '"common.last_connected_at"<"2026-04-01T12:00:00.123Z"',
        "seen_after": '"common.last_connected_at">="2026-03-02T12:00:00.123Z"',
        "compliance": '"common.compliant"=false',
        "quarantined": '"common.quarantined"=true',
    }
    # The client compares with the same instant, to the millisecond.
    assert f.seen_before == [_dt.datetime(2026, 4, 1, 12, 0, 0, 123000, tzinfo=_dt.UTC)]
    assert translate(DeviceFilter(compliance=["none"]))["compliance"].render() == (
        '"common.compliant"=true')
    for kept in (["compromised"], ["any", "none"], ["any", "compromised"]):
        assert "compliance" not in translate(DeviceFilter(compliance=kept))


def test_the_server_part_ands_the_statuses_and_fits_255_characters() -> None:
    part = server_part(DeviceFilter(platforms=["windows"], statuses=["LOST", "WIPED"]))
    assert part is not None
    assert part.text == ('("common.status"="LOST" OR "common.status"="WIPED") AND '
                         '"common.platform"="Windows"')
    # Too long with every term: a term that does not fit stays on the client.
    big = DeviceFilter(platforms=["ios", "macos", "android", "windows"], quarantined=True,
                       compliance=["any"], last_seen_before=["2026-01-01"])
    part = server_part(big)
    assert part is not None and len(part.text) <= 255
    assert part.keys == ("seen_before", "compliance", "quarantined")
    assert big.filter_keys() == ["platforms", "seen_before", "compliance", "quarantined"]
    # A label, user, phone or MAC search: its records are checked as they come.
    assert server_part(DeviceFilter(labels=["Sales"], platforms=["ios"])) is None
    assert server_part(DeviceFilter(os_versions=["<17"])) is None
