"""The received-requests log: every request the simulator received, refused ones included, and
every destructive request per device; the faults that feed it. Driven with plain aiohttp and
raw sockets only, so that the oracle does not depend on the client it judges."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from yarl import URL

from epmm_async.enums import DeviceStatus
from epmm_async.simulator import DestructiveRequest, Faults, SimDevice, Simulator
from epmm_async.simulator.faults import FaultState

DM = "/api/v1/dm"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=300, seed=11) as s:
        yield s


def _auth(sim: Simulator) -> dict[str, str]:
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _active(sim: Simulator, n: int = 1) -> list[SimDevice]:
    found = [d for d in sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE]
    return found[:n]


async def _call(
    sim: Simulator,
    method: str,
    target: str,
    *,
    auth: bool = True,
    headers: dict[str, str] | None = None,
    data: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request with a fresh session; ``target`` is sent as is (already encoded)."""
    hdrs = {**(_auth(sim) if auth else {}), **(headers or {})}
    if data is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    async with (
        aiohttp.ClientSession() as s,
        s.request(
            method,
            URL(sim.url + DM + target, encoded=True),
            headers=hdrs,
            data=data,
            allow_redirects=False,
        ) as r,
    ):
        return r.status, dict(r.headers), await r.read()


async def _raw(sim: Simulator, line: str, headers: list[tuple[str, str]]) -> int:
    """Send exactly ``line`` CRLF, each ``Name: value`` CRLF, CRLF; return the status."""
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    try:
        head = line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        writer.write(head.encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()


def _base_headers(sim: Simulator) -> list[tuple[str, str]]:
    return [("Host", f"{sim.host}:{sim.port}"), *_auth(sim).items(), ("Connection", "close")]


def _header_total(line: str, headers: list[tuple[str, str]]) -> int:
    return len(line) + 2 + sum(len(k) + 2 + len(v) + 2 for k, v in headers) + 2


async def _until(done: Callable[[], bool]) -> None:
    """Poll ``done`` for up to 5 s (a bound, not a timing assertion)."""
    for _ in range(500):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within 5 s")


def _status(sim: Simulator, d: SimDevice) -> DeviceStatus:
    return sim.fleet.devices[d.uuid].status


def _only(sim: Simulator, device: str) -> DestructiveRequest:
    (entry,) = sim.received.destructive_for(device)
    return entry


# --------------------------------------------------------------------------- the request log
async def test_every_request_logged_at_arrival_with_its_answer(sim: Simulator) -> None:
    (d,) = _active(sim)
    t0 = time.monotonic()
    assert (await _call(sim, "GET", f"/devices/{d.uuid}?x=%41b"))[0] == 200
    assert (await _call(sim, "GET", "/labels", auth=False))[0] == 401
    assert (await _call(sim, "GET", "/no/such/path"))[0] == 404
    assert (await _call(sim, "DELETE", "/devices"))[0] == 405
    reqs = sim.received.requests
    assert [r.status for r in reqs] == [200, 401, 404, 405]
    assert [r.seq for r in reqs] == sorted(r.seq for r in reqs) and len({r.seq for r in reqs}) == 4
    assert all(r.done and r.at >= t0 for r in reqs)
    first = reqs[0]
    assert (first.method, first.path, first.query) == ("GET", f"{DM}/devices/{d.uuid}", "x=%41b")
    assert reqs[1].path == f"{DM}/labels" and reqs[3].method == "DELETE"
    assert len(sim.received) == 4 and sim.received.destructive == []  # no wipe/retire asked


async def test_requests_after_and_clear(sim: Simulator) -> None:
    await _call(sim, "GET", "/labels")
    await _call(sim, "GET", "/countries")
    mark = time.monotonic()
    assert sim.received.requests_after(mark) == []
    await _call(sim, "GET", "/operators")
    later = sim.received.requests_after(mark)
    assert [r.path for r in later] == [f"{DM}/operators"]
    assert len(sim.received.requests_after(0.0)) == 3
    last_seq = sim.received.requests[-1].seq
    sim.received.clear()
    assert sim.received.requests == [] and sim.received.destructive == []
    await _call(sim, "GET", "/labels")
    assert sim.received.requests[0].seq == last_seq + 1  # numbers keep counting


# --------------------------------------------------------------------------- refused, counted
async def test_refused_destructive_requests_are_counted(sim: Simulator) -> None:
    a, b, c, e, f = _active(sim, 5)
    # 401: no credentials
    assert (await _call(sim, "PUT", f"/devices/wipe/{a.uuid}", auth=False))[0] == 401
    # 414: request line over 8190 bytes
    assert (await _call(sim, "PUT", f"/devices/wipe/{b.uuid}?pad={'x' * 8200}"))[0] == 414
    # 400: request line + headers over 8 KB
    big = {"X-Pad": "y" * 8200}
    status, _, body = await _call(sim, "PUT", f"/devices/retire/{c.uuid}", headers=big)
    assert status == 400 and b"Request header is too large" in body
    # 429: rate limited
    sim.set_faults(Faults(rate_limit_rate=1.0, paths=("/devices/wipe",)))
    assert (await _call(sim, "PUT", f"/devices/wipe/{e.uuid}"))[0] == 429
    # 302: redirected to a login page
    sim.set_faults(Faults(redirect_rate=1.0))
    assert (await _call(sim, "PUT", f"/devices/wipe/{f.uuid}"))[0] == 302
    sim.set_faults(Faults())

    counts = sim.received.destructive_counts()
    assert counts == {a.uuid: 1, b.uuid: 1, c.uuid: 1, e.uuid: 1, f.uuid: 1}
    assert sim.received.destructive_counts("RETIRE") == {c.uuid: 1}
    got = {x.device: (x.status, x.action, x.via, x.applied) for x in sim.received.destructive}
    assert got == {
        a.uuid: (401, "WIPE", "single", False),
        b.uuid: (414, "WIPE", "single", False),
        c.uuid: (400, "RETIRE", "single", False),
        e.uuid: (429, "WIPE", "single", False),
        f.uuid: (302, "WIPE", "single", False),
    }
    assert _only(sim, e.uuid).fault == "rate_limit" and _only(sim, f.uuid).fault == "redirect"
    assert all(x.certainly_refused for x in sim.received.destructive)
    assert all(d.status == DeviceStatus.ACTIVE for d in (a, b, c, e, f))
    assert len(sim.ledger) == 0
    assert [r.status for r in sim.received.requests] == [401, 414, 400, 429, 302]
    # each was certainly refused: sending them again is no violation
    for d in (a, b, c, e, f):
        assert (await _call(sim, "PUT", f"/devices/wipe/{d.uuid}"))[0] == 200
    assert sim.received.violations() == []
    assert set(sim.received.destructive_counts().values()) == {2}


async def test_header_limit_status_400_or_431(sim: Simulator) -> None:
    (d,) = _active(sim)
    big = {"X-Pad": "y" * 8200}
    status, _, body = await _call(sim, "GET", "/labels", headers=big)
    assert status == 400 and b"Request header is too large" in body
    sim.set_faults(Faults(header_limit_status=431))
    status, _, body = await _call(sim, "PUT", f"/devices/wipe/{d.uuid}", headers=big)
    assert status == 431 and b"too large" in body
    assert _only(sim, d.uuid).status == 431 and _only(sim, d.uuid).certainly_refused
    sim.set_faults(Faults(header_limit_status=400))
    assert (await _call(sim, "GET", "/labels", headers=big))[0] == 400
    with pytest.raises(ValueError):
        Faults(header_limit_status=413)


async def test_request_line_limit_boundary() -> None:
    # A large header budget isolates Apache's request-line check from Tomcat's header limit.
    async with Simulator(devices=50, seed=3, max_header_bytes=1 << 20) as sim:
        d, w = _active(sim, 2)
        hdrs = _base_headers(sim)

        def line(method: str, path: str, length: int) -> str:
            prefix = f"{method} {DM}{path}?pad="
            text = prefix + "x" * (length - len(prefix) - len(" HTTP/1.1")) + " HTTP/1.1"
            assert len(text) == length
            return text

        assert await _raw(sim, line("GET", f"/devices/{d.uuid}", 8190), hdrs) == 200
        assert await _raw(sim, line("GET", f"/devices/{d.uuid}", 8191), hdrs) == 414
        assert sim.stats.request_lines[-2:] == [8190, 8191]
        # a wipe at exactly the limit is processed; one byte more is refused, not applied
        assert await _raw(sim, line("PUT", f"/devices/wipe/{w.uuid}", 8191), hdrs) == 414
        assert _status(sim, w) == DeviceStatus.ACTIVE
        assert await _raw(sim, line("PUT", f"/devices/wipe/{w.uuid}", 8190), hdrs) == 200
        assert _status(sim, w) == DeviceStatus.WIPED
        assert [(x.status, x.applied) for x in sim.received.destructive_for(w.uuid)] == [
            (414, False),
            (200, True),
        ]
        assert sim.received.violations() == []


async def test_header_limit_boundary_counts_request_line_and_headers() -> None:
    async with Simulator(devices=50, seed=3) as sim:
        (d,) = _active(sim)
        line = f"GET {DM}/devices/{d.uuid} HTTP/1.1"

        def padded(total: int) -> list[tuple[str, str]]:
            hdrs = [*_base_headers(sim), ("X-Pad", "")]
            missing = total - _header_total(line, hdrs)
            hdrs[-1] = ("X-Pad", "p" * missing)
            assert _header_total(line, hdrs) == total
            return hdrs

        assert await _raw(sim, line, padded(8192)) == 200
        assert await _raw(sim, line, padded(8193)) == 400
        sim.set_faults(Faults(header_limit_status=431))
        assert await _raw(sim, line, padded(8193)) == 431
        assert await _raw(sim, line, padded(8192)) == 200
        # a short request line with a long header: the same sum decides
        short = f"GET {DM}/labels HTTP/1.1"
        hdrs = [*_base_headers(sim), ("X-Pad", "")]
        hdrs[-1] = ("X-Pad", "q" * (8193 - _header_total(short, hdrs)))
        assert await _raw(sim, short, hdrs) == 431
        assert [r.status for r in sim.received.requests] == [200, 400, 431, 200, 431]


async def test_bulk_refused_by_request_line_records_every_uuid(sim: Simulator) -> None:
    devices = _active(sim, 200)
    uuids = [d.uuid for d in devices]
    query = "&".join(f"deviceUuids={u}" for u in uuids)
    query += f"&deviceUuids={uuids[0].upper()}"  # the same device twice: one record
    status, _, _ = await _call(sim, "POST", f"/bulk/devices/WIPE?{query}")
    assert status == 414
    assert sim.received.destructive_counts() == {u: 1 for u in uuids}
    assert {(x.action, x.via, x.status, x.applied) for x in sim.received.destructive} == {
        ("WIPE", "bulk", 414, False)
    }
    assert len({x.seq for x in sim.received.destructive}) == 1
    # split and resent: certainly refused first, so no violation; every device wiped once
    for half in (uuids[:100], uuids[100:]):
        q = "&".join(f"deviceUuids={u}" for u in half)
        assert (await _call(sim, "POST", f"/bulk/devices/WIPE?{q}"))[0] == 200
    assert sim.received.violations() == []
    assert set(sim.received.destructive_counts().values()) == {2}
    assert all(d.status == DeviceStatus.WIPED for d in devices)
    assert sum(x.applied for x in sim.received.destructive) == 200


async def test_bulk_query_and_form_body_both_recorded(sim: Simulator) -> None:
    a, b, c = _active(sim, 3)
    unknown = "00000000-0000-4000-8000-00000000abcd"
    status, _, _ = await _call(
        sim,
        "POST",
        f"/bulk/devices/RETIRE?deviceUuids={a.uuid}",
        data=f"deviceUuids={b.uuid}&deviceUuids={c.uuid}&deviceUuids={unknown}",
    )
    assert status == 200
    got = {x.device: (x.action, x.via, x.applied) for x in sim.received.destructive}
    assert got == {
        a.uuid: ("RETIRE", "bulk", True),
        b.uuid: ("RETIRE", "bulk", True),
        c.uuid: ("RETIRE", "bulk", True),
        unknown: ("RETIRE", "bulk", False),
    }
    assert all(d.status == DeviceStatus.RETIRED for d in (a, b, c))


async def test_mac_target_recorded_as_the_devices_uuid(sim: Simulator) -> None:
    (d,) = _active(sim)
    mac = d.wifi_mac.upper().replace(":", "")
    colons = ":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower()
    assert (await _call(sim, "PUT", f"/devices/wipe/mac/{colons}"))[0] == 200
    assert (await _call(sim, "PUT", "/devices/retire/mac/00-00-5E-00-53-FF"))[0] == 404
    assert sim.received.destructive_counts() == {d.uuid: 1, "mac:00005E0053FF": 1}
    assert _only(sim, d.uuid).applied and _only(sim, d.uuid).via == "single"
    assert not _only(sim, "mac:00005E0053FF").applied
    # the same device by uuid after a wipe by MAC that applied: a violation
    assert (await _call(sim, "PUT", f"/devices/wipe/{d.uuid}"))[0] == 400
    (line,) = sim.received.violations()
    assert d.uuid in line


# --------------------------------------------------------------------------- applied flags
async def test_applied_error_applies_then_answers_the_error(sim: Simulator) -> None:
    a, b, c, e = _active(sim, 4)
    sim.set_faults(Faults(applied_error_rate=1.0, applied_error_statuses=(504,)))
    status, headers, body = await _call(sim, "PUT", f"/devices/wipe/{a.uuid}")
    assert status == 504 and headers["Content-Type"].startswith("text/html")
    assert b"Gateway Timeout" in body and "Retry-After" not in headers
    assert a.status == DeviceStatus.WIPED and sim.ledger.count(a.uuid, "WIPE") == 1
    entry = _only(sim, a.uuid)
    assert (entry.status, entry.applied, entry.fault) == (504, True, "applied_error")
    assert not entry.certainly_refused
    sim.set_faults(Faults(applied_error_rate=1.0, applied_error_statuses=(502,)))
    status, _, body = await _call(sim, "POST", f"/bulk/devices/RETIRE?deviceUuids={b.uuid}")
    assert status == 502 and b"Bad Gateway" in body and b.status == DeviceStatus.RETIRED
    assert _only(sim, b.uuid).applied and _only(sim, b.uuid).via == "bulk"
    sim.set_faults(Faults(applied_error_rate=1.0, applied_error_statuses=(500,)))
    status, headers, body = await _call(sim, "PUT", f"/devices/retire/{c.uuid}")
    assert status == 500 and headers["Content-Type"].startswith("application/json")
    assert b"messages" in body and c.status == DeviceStatus.RETIRED
    assert sim.stats.faults["applied_error"] == 3
    # switched off: a plain answer, no fault
    sim.set_faults(Faults(applied_error_rate=0.0))
    assert (await _call(sim, "PUT", f"/devices/wipe/{e.uuid}"))[0] == 200
    assert _only(sim, e.uuid).fault is None and _only(sim, e.uuid).applied
    # a resend after the 504 that applied is a violation (the device is wiped: 400)
    assert (await _call(sim, "PUT", f"/devices/wipe/{a.uuid}"))[0] == 400
    (line,) = sim.received.violations()
    assert a.uuid in line and "504" in line and "applied_error" in line


async def test_error_before_applying_is_not_applied(sim: Simulator) -> None:
    a, b = _active(sim, 2)
    sim.set_faults(Faults(error_rate=1.0, error_statuses=(500,)))
    assert (await _call(sim, "PUT", f"/devices/wipe/{a.uuid}"))[0] == 500
    entry = _only(sim, a.uuid)
    assert (entry.applied, entry.fault) == (False, "error")
    assert a.status == DeviceStatus.ACTIVE
    # a 500 says nothing to the client: a resend is a violation even though nothing applied
    sim.set_faults(Faults())
    assert (await _call(sim, "PUT", f"/devices/wipe/{a.uuid}"))[0] == 200
    assert len(sim.received.violations()) == 1
    # 503 without Retry-After: may have applied, for the client
    sim.set_faults(Faults(error_rate=1.0, error_statuses=(503,), retry_after=None))
    status, headers, _ = await _call(sim, "PUT", f"/devices/wipe/{b.uuid}")
    assert status == 503 and "Retry-After" not in headers
    sim.set_faults(Faults())
    assert (await _call(sim, "PUT", f"/devices/wipe/{b.uuid}"))[0] == 200
    assert len(sim.received.violations()) == 2


async def test_drop_applies_and_is_recorded_as_cut(sim: Simulator) -> None:
    a, b = _active(sim, 2)
    sim.set_faults(Faults(drop_rate=1.0, paths=("/devices/wipe", "/bulk/devices")))
    with pytest.raises(aiohttp.ClientError):
        await _call(sim, "PUT", f"/devices/wipe/{a.uuid}")
    with pytest.raises(aiohttp.ClientError):
        await _call(sim, "POST", f"/bulk/devices/WIPE?deviceUuids={b.uuid}")
    for d in (a, b):
        entry = _only(sim, d.uuid)
        assert (entry.status, entry.done, entry.applied, entry.fault) == (None, True, True, "drop")
        assert d.status == DeviceStatus.WIPED
    assert [r.status for r in sim.received.requests] == [None, None]
    sim.set_faults(Faults())
    assert sim.received.violations() == []
    assert (await _call(sim, "PUT", f"/devices/wipe/{a.uuid}"))[0] == 400
    assert (await _call(sim, "POST", f"/bulk/devices/WIPE?deviceUuids={b.uuid}"))[0] == 200
    lines = sim.received.violations()
    assert len(lines) == 2 and all("cut" in ln and "drop" in ln for ln in lines)
    assert sim.received.violations("RETIRE") == []


async def test_malformed_answer_is_may_have_applied_even_when_refused(sim: Simulator) -> None:
    (d,) = _active(sim)
    assert (await _call(sim, "PUT", f"/devices/wipe/{d.uuid}"))[0] == 200
    sim.set_faults(Faults(malformed_rate=1.0))
    # refused by the server (wiped), but the client gets a garbled 200
    status, _, _ = await _call(sim, "PUT", f"/devices/wipe/{d.uuid}")
    assert status == 200
    second = sim.received.destructive_for(d.uuid)[1]
    assert (second.applied, second.fault) == (False, "malformed")
    assert not second.certainly_refused


async def test_client_that_gives_up_is_recorded_as_cut(sim: Simulator) -> None:
    (d,) = _active(sim)
    sim.set_faults(Faults(latency=0.5, paths=("/devices/wipe",)))
    with pytest.raises(asyncio.TimeoutError):
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.1)) as s,
            s.put(f"{sim.url}{DM}/devices/wipe/{d.uuid}", headers=_auth(sim)),
        ):
            pass
    await _until(lambda: sim.received.requests[0].done)
    entry = _only(sim, d.uuid)
    # the server carried on after the client left: applied, and the answer went nowhere
    assert (entry.done, entry.status, entry.applied) == (True, None, True)


async def test_restart_during_a_slow_wipe_is_cut_after_applying(sim: Simulator) -> None:
    (d,) = _active(sim)
    sim.set_faults(Faults(slow_rate=1.0, slow_seconds=30))

    async def wipe() -> None:
        await _call(sim, "PUT", f"/devices/wipe/{d.uuid}")

    task = asyncio.create_task(wipe())
    await _until(lambda: sim.ledger.count(d.uuid, "WIPE") == 1)
    await sim.restart()
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(task, 5)
    entry = _only(sim, d.uuid)
    assert (entry.done, entry.status, entry.applied, entry.fault) == (True, None, True, "slow")


# --------------------------------------------------------------------------- violations()
async def test_no_violation_after_certain_refusals(sim: Simulator) -> None:
    a, b, c = _active(sim, 3)
    sim.set_faults(Faults(rate_limit_rate=1.0, retry_after=7))
    status, headers, _ = await _call(sim, "PUT", f"/devices/wipe/{a.uuid}")
    assert status == 429 and headers["Retry-After"] == "7"
    sim.set_faults(Faults(error_rate=1.0, error_statuses=(503,), retry_after=2))
    status, headers, _ = await _call(sim, "PUT", f"/devices/retire/{b.uuid}")
    assert status == 503 and headers["Retry-After"] == "2"
    sim.set_faults(Faults())
    assert (await _call(sim, "PUT", f"/devices/wipe/{c.uuid}?pad={'x' * 8200}"))[0] == 414
    assert _only(sim, b.uuid).retry_after == "2"
    for d in (a, b, c):
        assert (await _call(sim, "PUT", f"/devices/wipe/{d.uuid}"))[0] == 200
    assert sim.received.violations() == []
    # a third request after the one that applied is a violation
    assert (await _call(sim, "PUT", f"/devices/retire/{a.uuid}"))[0] == 200
    (line,) = sim.received.violations()
    assert line.startswith(f"device {a.uuid}: 1 destructive request(s) after ")


async def test_redirect_switch_both_ways(sim: Simulator) -> None:
    a, b = _active(sim, 2)
    sim.set_faults(Faults(redirect_rate=1.0))
    status, headers, body = await _call(sim, "POST", f"/bulk/devices/WIPE?deviceUuids={a.uuid}")
    assert status == 302 and headers["Location"] == "/mifs/login/login.jsp"
    assert body == b"{}" and headers["Content-Type"].startswith("application/json")
    assert _status(sim, a) == DeviceStatus.ACTIVE and len(sim.ledger) == 0
    assert sim.stats.faults["redirect"] == 1
    sim.set_faults(Faults(redirect_rate=0.0))
    assert (await _call(sim, "PUT", f"/devices/wipe/{b.uuid}"))[0] == 200
    assert (await _call(sim, "PUT", f"/devices/wipe/{a.uuid}"))[0] == 200
    assert _status(sim, a) == DeviceStatus.WIPED and sim.received.violations() == []


def test_new_faults_are_seeded_and_off_by_default() -> None:
    def plans(faults: Faults) -> list[tuple[int | None, str | None, str | None, int | None]]:
        state = FaultState(faults)
        out = []
        for _ in range(200):
            p = state.plan(f"{DM}/devices/wipe/x")
            out.append((p.status, p.kind, p.after, p.after_status))
        return out

    mixed = Faults(applied_error_rate=0.3, redirect_rate=0.2, drop_rate=0.1, seed=5)
    first = plans(mixed)
    assert first == plans(Faults(applied_error_rate=0.3, redirect_rate=0.2, drop_rate=0.1, seed=5))
    assert {k for _, k, _, _ in first} == {None, "redirect"}
    assert {a for _, _, a, _ in first} == {None, "drop", "applied_error"}
    assert {s for _, _, a, s in first if a == "applied_error"} == {500, 502, 504}
    assert first != plans(Faults(applied_error_rate=0.3, redirect_rate=0.2, drop_rate=0.1, seed=6))
    assert set(plans(Faults())) == {(None, None, None, None)}
    assert Faults().header_limit_status == 400 and Faults().applied_error_rate == 0.0
