"""What an adversarial review of the cron-ready CLI found, each driven through ``epmm``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from cli_support import Invoke, SimThread

from epmm_async.enums import DeviceStatus


def _active(st: SimThread, n: int) -> list[str]:
    found = [d.uuid for d in st.sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE]
    return found[:n]


def test_a_one_column_csv_is_read_as_a_csv(fresh_cli: Invoke, fresh: SimThread,
                                           tmp_path: Path) -> None:
    uuids = _active(fresh, 3)
    for header in ("uuid", '"UUID"', "\ufeffuuid"):
        path = tmp_path / "one.csv"
        path.write_text(header + "\n" + "\n".join(uuids) + "\n", encoding="utf-8")
        result = fresh_cli("lock", "--from-file", str(path), "--reason", "x", "-o", "jsonl")
        assert result.exit_code == 0, result.stderr
        assert len(result.stdout.splitlines()) == 3
    path.write_text("uuid\n", encoding="utf-8")
    result = fresh_cli("lock", "--from-file", str(path), "--reason", "x")
    assert result.exit_code == 2 and result.stdout == ""
    assert "no devices" in result.stderr


def test_a_wrong_base_url_aborts_the_job_after_one_answer(fresh: SimThread,
                                                          tmp_path: Path) -> None:
    from cli_support import make_invoke

    uuids = _active(fresh, 40)
    path = tmp_path / "forty.txt"
    path.write_text("\n".join(uuids) + "\n")
    invoke = make_invoke(fresh)
    before = len(fresh.sim.received.requests)
    result = invoke("lock", "--from-file", str(path), "--reason", "x", "--concurrency", "1",
                    "-o", "jsonl", env={"EPMM_URL": fresh.sim.url + "/api/v1/dm"})
    received = len(fresh.sim.received.requests) - before
    assert result.exit_code == 3, result.stderr
    assert received <= 2  # the first answer aborts the job
    assert "--url" in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 40
    assert {r["reason"] for r in records if r["status"] == "failed"} <= {"not_found"}


def test_a_phone_number_with_spaces_and_dashes_finds_the_device(cli: Invoke,
                                                                shared: SimThread) -> None:
    device = next(d for d in shared.sim.fleet.devices.values()
                  if d.phone_number and d.phone_number.isdigit() and len(d.phone_number) > 9
                  and d.status == DeviceStatus.ACTIVE)
    digits = device.phone_number
    spaced = f"+{digits[:1]} {digits[1:4]} {digits[4:7]}-{digits[7:]}"
    result = cli("devices", "list", "--phone", spaced, "-o", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert device.uuid in result.stdout


def test_a_closed_pipe_stops_the_job_and_still_says_how_to_resume(fresh: SimThread,
                                                                  tmp_path: Path) -> None:
    uuids = _active(fresh, 60)
    path = tmp_path / "sixty.txt"
    path.write_text("\n".join(uuids) + "\n")
    journal = tmp_path / "wipe.journal"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPMM_")}
    env.update(fresh.env())
    args = [sys.executable, "-m", "epmm_async", "--concurrency", "2", "wipe", "--from-file",
            str(path), "--mode", "per-device", "--reason", "r", "--yes", "--journal",
            str(journal), "-o", "jsonl"]
    cmd = " ".join(f"'{a}'" for a in args) + " | head -2; exit ${PIPESTATUS[0]}"
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 141, done.stderr
    assert "wipe summary" in done.stderr and "stdout was closed" in done.stderr
    assert "--journal" in done.stderr and "Traceback" not in done.stderr
    first = Counter(fresh.sim.received.destructive_counts())
    assert 0 < sum(first.values()) < 60
    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120,
                           check=False)
    assert again.returncode == 0, again.stderr
    counts = fresh.sim.received.destructive_counts()
    assert sorted(counts) == sorted(uuids)
    assert max(counts.values()) == 1  # nothing wiped twice across the two runs
