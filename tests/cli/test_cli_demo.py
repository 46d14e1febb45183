"""``epmm demo`` runs to its summary; Ctrl-C during a job still prints the summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import SimThread
from typer.testing import CliRunner

from epmm_async.cli import app
from epmm_async.enums import DeviceStatus
from epmm_async.simulator import Faults


def _demo(tmp_path: Path, devices: int) -> None:
    reports = tmp_path / "reports"
    r = CliRunner().invoke(app, ["demo", "--devices", str(devices), "--reports-dir",
                                 str(reports)])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert "Summary" in r.stdout
    assert "wiped exactly once" in r.stdout
    # The demo's own lines (stdout) count locations by freshness; the jobs' summaries (stderr)
    # name the server. No per-device records are written on stdout.
    assert " fresh fixes; " in r.stdout and " stale (" in r.stdout
    assert " unsupported (iOS" in r.stdout
    assert " locked" in r.stdout and "devices locked" not in r.stdout
    assert "an 8,190-byte request line" in r.stdout
    assert '"device":' not in r.stdout
    assert "lock summary (bulk LOCK) on http://127.0.0.1:" in r.stderr
    for name in ("lost-devices.txt", "wipe-report.csv", "locate-report.csv",
                 "lock-report.jsonl", "wipe-lost.journal"):
        assert (reports / name).is_file(), name


def test_demo_small(tmp_path: Path) -> None:
    _demo(tmp_path, 2000)


@pytest.mark.slow
def test_demo_full(tmp_path: Path) -> None:
    _demo(tmp_path, 20_000)


def test_ctrl_c_cancels_the_rest_and_prints_the_summary(tmp_path: Path) -> None:
    st = SimThread(devices=200, seed=3, faults=Faults(latency=0.05))
    try:
        uuids = [d.uuid for d in st.sim.fleet.devices.values()
                 if d.status == DeviceStatus.ACTIVE][:120]
        args = [a for u in uuids for a in ("--uuid", u)]
        report = tmp_path / "r.jsonl"
        proc = subprocess.Popen(
            [sys.executable, "-m", "epmm_async", "--concurrency", "2", "wakeup", *args,
             "--mode", "per-device", "--report", str(report)],
            env={**os.environ, **st.env()}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 1, stdout + stderr
        assert "Traceback" not in stderr
        assert "Stopping" in stderr
        assert "interrupted" in stderr and "wakeup summary" in stderr
        # No journal: the summary says the job cannot be resumed, and how to make one that can.
        assert "not resumable: this run had no --journal" in stderr
        lines = report.read_text().splitlines()
        assert len(lines) == 120
        assert any('"status":"cancelled"' in line for line in lines)
        # stdout is a pipe: one JSON record per device and nothing else.
        records = [json.loads(line) for line in stdout.splitlines()]
        assert len(records) == 120
        assert {r["device"] for r in records} == set(uuids)
        assert "cancelled" in {r["status"] for r in records}
    finally:
        st.close()
