"""4. Fan-out efficiency, where the server is not the bottleneck, and 5. against a sequential
``requests`` loop.

For each setting (concurrency C, server latency L): ``N`` distinct per-device locks through
the operations layer, ``epmm.ops.fan_out("lock", uuids, reason=..., concurrency=C)`` on a
fresh client with ``connection_limit=C``, against the bare-aiohttp baseline: C tasks taking
the next uuid from a shared iterator, each sending the same PUT as ``overhead``'s bare side
(same bytes, same session settings, ``TCPConnector(limit=C)``, read, status check, typed
msgspec decode) on a fresh session. Each side first opens its C connections with an untimed
run of C locks: the figure is the fan-out's, not C TCP handshakes'. The ideal time is
``ceil(N / C) * L`` (C requests in flight at every moment, each taking exactly L);
efficiency = ideal / measured wall time (from the call to the last outcome).

The server is ``benchmarks._lock_server`` in a child process with ``LATENCY_S = L``: a raw
asyncio protocol that answers pre-built bytes from a ``call_later`` timer, a few microseconds
of CPU per request. Its CPU time (``/proc``) over each run is reported as a share of one core
(``server_cpu_share``): a server at a few percent of a core is not what limits a run. The
bare baseline's efficiency is the proof the setting measures the client. What no client can
beat is the latency a lone request sees on this machine (the timer, and waking two
processes on a shared VM): ``single_request_ms`` measures it (bare, one connection, before
and after the rounds), and ``*_vs_seen_latency`` is the efficiency against
``ceil(N / C) * median single-request time``.

Then the public clients' way: a ``requests.Session`` sending one PUT after another to the
same server at 50 ms; ``SEQ_SAMPLE`` sequential locks are timed per round and extrapolated
to ``N``, against ours at concurrency 64 in the same round.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import requests as http

from epmm_async import ClientConfig, EpmmClient

from .harness import Result, child_process, free_port, load_average, process_cpu, spread
from .overhead import PASSWORD, QUERY, REASON, USER, bare_headers, bare_lock, bare_session

N = 2048
ROUNDS = 5
SETTINGS = ((64, 0.05), (256, 0.25))
"""(concurrency, server latency in seconds)."""
TARGET = 0.9
BASELINE_TARGET = 0.95
SEQ_SAMPLE = 100
SEQ_ROUNDS = 3
COMPARE_AT = 64


def uuids(n: int = N) -> list[str]:
    """``n`` distinct, reproducible device uuids (the server answers any)."""
    return [str(uuidlib.UUID(int=(0x727AFB16 << 96) + i, version=4)) for i in range(n)]


@dataclass(slots=True)
class Run:
    """One timed fan-out: wall seconds, this process's CPU, the server's CPU."""

    wall: float
    cpu: float
    server_cpu: float | None


async def _timed(server_pid: int, job: Callable[[], Awaitable[None]]) -> Run:
    s0 = process_cpu(server_pid)
    c0 = time.process_time()
    t0 = time.perf_counter()
    await job()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    s1 = process_cpu(server_pid)
    return Run(wall, cpu, s1 - s0 if s0 is not None and s1 is not None else None)


async def ours_fan_out(url: str, ids: list[str], c: int, server_pid: int) -> Run:
    """The client's fan-out of ``ids`` at concurrency ``c``: a fresh client, its ``c``
    connections opened by an untimed fan-out of ``c`` locks first."""
    config = ClientConfig(connection_limit=c)
    async with EpmmClient(url, username=USER, password=PASSWORD, config=config) as epmm:

        async def fan_out(todo: list[str]) -> None:
            report = await epmm.ops.fan_out("lock", todo, reason=REASON, concurrency=c)
            assert report.all_succeeded, report.counts

        await fan_out(ids[:c])
        return await _timed(server_pid, lambda: fan_out(ids))


async def bare_fan_out(url: str, ids: list[str], c: int, server_pid: int) -> Run:
    """The bare-aiohttp baseline: ``c`` tasks over a shared iterator; a fresh session, its
    ``c`` connections opened first, as for ours."""
    headers = bare_headers()
    async with bare_session(connection_limit=c) as session:

        async def worker(todo: Iterator[str]) -> None:
            for u in todo:
                await bare_lock(session, f"{url}/api/v1/dm/devices/lock/{u}?{QUERY}", headers)

        async def fan_out(todo: list[str]) -> None:
            shared = iter(todo)
            await asyncio.gather(*(worker(shared) for _ in range(min(c, len(todo)))))

        await fan_out(ids[:c])
        return await _timed(server_pid, lambda: fan_out(ids))


async def single_latencies(url: str, n: int) -> list[float]:
    """Seconds each of ``n`` bare locks takes alone, one after another on one connection:
    the server's latency as a client on this machine sees it (timer and wake-up lateness
    included), which no fan-out can beat."""
    headers = bare_headers()
    out: list[float] = []
    async with bare_session(connection_limit=1) as session:
        target = f"{url}/api/v1/dm/devices/lock/{uuids(1)[0]}?{QUERY}"
        await bare_lock(session, target, headers)
        for _ in range(n):
            t0 = time.perf_counter()
            await bare_lock(session, target, headers)
            out.append(time.perf_counter() - t0)
    return out


def _sequential(url: str, ids: list[str]) -> float:
    with http.Session() as s:
        s.auth = (USER, PASSWORD)
        s.headers["Accept"] = "application/json"
        t0 = time.perf_counter()
        for u in ids:
            r = s.put(f"{url}/api/v1/dm/devices/lock/{u}?{QUERY}")
            r.raise_for_status()
            r.content  # noqa: B018
        return time.perf_counter() - t0


def _share(runs: list[Run]) -> float | None:
    shares = [r.server_cpu / r.wall for r in runs if r.server_cpu is not None]
    return round(spread(shares).median, 3) if shares else None


def _setting(
    c: int, latency: float, ids: list[str]
) -> tuple[list[Result], list[float], list[float]]:
    """Both sides at one setting, interleaved; with, at COMPARE_AT, the sequential loop."""
    port = free_port()
    ideal = math.ceil(len(ids) / c) * latency
    ours: list[Run] = []
    bare: list[Run] = []
    speedups: list[float] = []
    seq_ms: list[float] = []
    with child_process(["-m", "benchmarks._lock_server", str(port), str(latency)],
                       port) as proc:
        url = f"http://127.0.0.1:{port}"
        # Warm-up (imports, first connections, the server's code paths); not counted.
        asyncio.run(ours_fan_out(url, ids[: 2 * c], c, proc.pid))
        asyncio.run(bare_fan_out(url, ids[: 2 * c], c, proc.pid))
        probes = max(10, int(1.5 / latency))
        single = asyncio.run(single_latencies(url, probes))
        for i in range(ROUNDS):
            sides = [("ours", ours_fan_out), ("bare", bare_fan_out)]
            for name, side in sides if i % 2 == 0 else sides[::-1]:
                got = asyncio.run(side(url, ids, c, proc.pid))
                (ours if name == "ours" else bare).append(got)
            if c == COMPARE_AT and i < SEQ_ROUNDS:
                sample = ids[i * SEQ_SAMPLE : (i + 1) * SEQ_SAMPLE]
                took = _sequential(url, sample)
                seq_ms.append(took / len(sample) * 1000)
                speedups.append(took * (len(ids) / len(sample)) / ours[-1].wall)
        single += asyncio.run(single_latencies(url, probes))
    n = len(ids)
    common: dict[str, object] = {
        "ideal_s": round(ideal, 3),
        "ours_locks_per_s": round(n / spread([r.wall for r in ours]).median),
        "bare_locks_per_s": round(n / spread([r.wall for r in bare]).median),
        "ours_cpu_us_per_lock": round(spread([r.cpu for r in ours]).median / n * 1e6, 1),
        "bare_cpu_us_per_lock": round(spread([r.cpu for r in bare]).median / n * 1e6, 1),
        "server_cpu_share": _share(ours + bare),
        "load_avg_1m": load_average(),
    }
    single.sort()
    seen = spread(single).median
    # The same ideal with the latency a lone request sees here instead of the nominal one.
    seen_ideal = math.ceil(n / c) * seen
    common["single_request_ms"] = {"median": round(seen * 1000, 2),
                                   "p90": round(single[int(0.9 * (len(single) - 1))] * 1000, 2)}
    ours_eff = spread([ideal / r.wall for r in ours])
    bare_eff = spread([ideal / r.wall for r in bare])
    meaning = (f"ideal time / measured (ideal = ceil({n}/{c}) x {latency * 1000:.0f} ms = "
               f"{ideal:.2f} s; higher is better, 1.0 = ideal)")
    results = [
        Result(
            name=f"fanout_c{c}",
            title=f"Fan-out {n:,} locks (ops.fan_out), c={c}, latency {latency * 1000:.0f} ms",
            ratio=ours_eff,
            ratio_meaning=meaning,
            target=f">= {TARGET}",
            met=ours_eff.median >= TARGET,
            figures={"bare_efficiency": round(bare_eff.median, 3),
                     "ours_over_bare": round(ours_eff.median / bare_eff.median, 3),
                     "ours_vs_seen_latency": round(
                         spread([seen_ideal / r.wall for r in ours]).median, 3),
                     **common},
            rounds=ROUNDS,
        ),
        Result(
            name=f"fanout_bare_c{c}",
            title=f"Fan-out baseline (bare aiohttp), c={c}, latency {latency * 1000:.0f} ms",
            ratio=bare_eff,
            ratio_meaning=meaning,
            target=f">= {BASELINE_TARGET} (the server is not the limit)",
            met=bare_eff.median >= BASELINE_TARGET,
            figures={"bare_vs_seen_latency": round(
                         spread([seen_ideal / r.wall for r in bare]).median, 3),
                     "single_request_ms": common["single_request_ms"],
                     "server_cpu_share": common["server_cpu_share"],
                     "load_avg_1m": common["load_avg_1m"]},
            rounds=ROUNDS,
        ),
    ]
    return results, speedups, seq_ms


def run() -> list[Result]:
    ids = uuids()
    out: list[Result] = []
    speedups: list[float] = []
    seq_ms: list[float] = []
    for c, latency in SETTINGS:
        results, sp, ms = _setting(c, latency, ids)
        out.extend(results)
        speedups.extend(sp)
        seq_ms.extend(ms)
    sp_spread = spread(speedups)
    out.append(Result(
        name="vs_sequential",
        title=f"{N:,} locks: fan-out (c={COMPARE_AT}) vs sequential requests",
        ratio=sp_spread,
        ratio_meaning=f"sequential requests time ({SEQ_SAMPLE} timed, x{N / SEQ_SAMPLE:.1f}) "
                      "/ ours time, 50 ms latency (higher is better)",
        target=">= 20x",
        met=sp_spread.median >= 20,
        figures={"sequential_ms_per_lock": round(spread(seq_ms).median, 2)},
        rounds=len(speedups),
        notes=f"sequential: {SEQ_SAMPLE} locks timed per round, extrapolated to {N}",
    ))
    return out
