"""The library prints nothing by default: an application that has not configured logging gets
no line per request (structlog's defaults would print every event to stdout). Its events go
to structlog once the application configures it, else to the stdlib ``epmm_async`` loggers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from epmm_async._logging import LibraryLogger
from epmm_async.ops import bulk, engine


def test_the_operations_layer_logs_through_the_library_logger() -> None:
    assert all(isinstance(m.log, LibraryLogger) for m in (bulk, engine))

SCRIPT = textwrap.dedent("""
    import asyncio
    {setup}
    from epmm_async import ClientConfig, EpmmClient, RetryPolicy
    from epmm_async.simulator import Simulator
    from epmm_async.simulator.faults import Faults

    async def main() -> None:
        # Every other labels request fails once (503): retries log http.retry at info.
        faults = Faults(error_rate=0.5, error_statuses=(503,), retry_after=None,
                        paths=("/labels",), seed=1)
        async with Simulator(devices=200, seed=3, faults=faults, time_scale=0.001) as sim:
            async with EpmmClient(sim.url, username=sim.username, password=sim.password,
                                  config=ClientConfig(retry=RetryPolicy(
                                      attempts=8, initial_delay=0.001))) as epmm:
                for _ in range(4):
                    await epmm.labels.list()
                lost = await epmm.devices.list(status="LOST")
                await epmm.devices.get(lost[0].uuid)
                report = await epmm.ops.bulk("LOCK", [d.uuid for d in lost])
                print("done", sum(report.counts.values()) == len(lost))

    asyncio.run(main())
""")


def run(setup: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPMM_", "FORCE_COLOR"))}
    return subprocess.run([sys.executable, "-c", SCRIPT.format(setup=setup)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_an_application_without_logging_configured_sees_nothing() -> None:
    proc = run()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done True\n"
    assert proc.stderr == ""


def test_stdlib_logging_configured_by_the_application_gets_the_events() -> None:
    proc = run("import logging, sys; logging.basicConfig(level=logging.DEBUG, "
               "stream=sys.stderr, format='%(name)s %(levelname)s %(message)s')")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done True\n"
    assert "epmm_async DEBUG http.request method=GET path=/labels status=200" in proc.stderr
    assert "epmm_async INFO http.retry" in proc.stderr
    assert "Authorization" not in proc.stderr and "Basic " not in proc.stderr


def test_structlog_configured_by_the_application_gets_the_events() -> None:
    proc = run("import logging, structlog, sys; structlog.configure(wrapper_class="
               "structlog.make_filtering_bound_logger(logging.INFO), logger_factory="
               "structlog.PrintLoggerFactory(sys.stderr))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done True\n"
    assert "http.retry" in proc.stderr and "http.request" not in proc.stderr  # INFO and up
