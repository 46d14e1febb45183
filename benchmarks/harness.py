"""The shared harness: rounds, medians, spreads, result records, helper processes."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Result",
    "Spread",
    "child_process",
    "free_port",
    "load_average",
    "process_cpu",
    "run_rounds",
    "sim_process",
    "spread",
]


@dataclass(slots=True)
class Spread:
    """Median and range of a series of per-round values."""

    median: float
    low: float
    high: float
    values: list[float]


def spread(values: list[float]) -> Spread:
    """Median, min and max of ``values``."""
    return Spread(statistics.median(values), min(values), max(values), list(values))


@dataclass(slots=True)
class Result:
    """One benchmark figure: a ratio against a same-run baseline, with its spread."""

    name: str
    title: str
    ratio: Spread
    ratio_meaning: str
    """How to read the ratio, e.g. "ours time / bare time (lower is better)"."""
    target: str | None = None
    met: bool | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    """Absolute figures (medians) for context: devices/s, requests/s, bytes..."""
    rounds: int = 0
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["ratio"]["values"] = [round(v, 4) for v in self.ratio.values]
        return out


def run_rounds(
    rounds: int, ours: Callable[[], float], base: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run ``ours`` and ``base`` (each returns a measured quantity) ``rounds`` times,
    alternating which goes first so drift on a noisy machine hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            a.append(ours())
            b.append(base())
        else:
            b.append(base())
            a.append(ours())
    return a, b


async def run_rounds_async(
    rounds: int, ours: Callable[[], Awaitable[float]], base: Callable[[], Awaitable[float]]
) -> tuple[list[float], list[float]]:
    """:func:`run_rounds` for coroutines."""
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            a.append(await ours())
            b.append(await base())
        else:
            b.append(await base())
            a.append(await ours())
    return a, b


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"helper process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


@contextlib.contextmanager
def sim_process(
    devices: int, *extra: str, seed: int = 7, timeout: float = 60.0
) -> Iterator[tuple[str, str, str]]:
    """A simulator in a child process (own CPU, own allocations); yields url, user, password."""
    port = free_port()
    password = secrets.token_urlsafe(16)
    args = ["-m", "epmm_async.simulator", "--devices", str(devices), "--port", str(port),
            "--seed", str(seed), *extra]
    with child_process(args, port, timeout, env=dict(os.environ, EPMM_SIM_PASSWORD=password)):
        yield f"http://127.0.0.1:{port}", "admin", password


@contextlib.contextmanager
def child_process(
    args: list[str], port: int, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Any helper process listening on ``port`` (yielded: its pid is ``.pid``); stopped on
    exit."""
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port, proc, timeout)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) another process has used so far, from ``/proc`` (Linux;
    None elsewhere). Resolution is a clock tick (10 ms): read it around whole runs."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(b")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def load_average() -> float | None:
    """The machine's 1-minute load average (None where unknown): context for a noisy run
    (on 2 cores, above ~2 the benchmark shares its CPUs with other work)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def quiet_logging() -> None:
    """structlog at its default configuration prints every request; benchmarks measure the
    library as an application would run it in production: INFO filtered out."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
