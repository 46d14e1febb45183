"""The README's quickstart runs as written against the simulator, and prints only what it
prints (the library itself prints nothing)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def quickstart() -> str:
    text = README.read_text()
    section = text[text.index("## Quickstart"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_quickstart_runs_against_the_simulator(tmp_path: Path) -> None:
    code = quickstart()
    for placeholder in ('"https://epmm.example.com"', 'username="api-admin"', 'password="..."'):
        assert placeholder in code, placeholder
    code = (code.replace('"https://epmm.example.com"', "SIM.url")
                .replace('username="api-admin"', "username=SIM.username")
                .replace('password="..."', "password=SIM.password"))
    assert code.rstrip().endswith("asyncio.run(main())")
    code = code.replace("asyncio.run(main())", "asyncio.run(serve())")
    script = tmp_path / "quickstart.py"
    script.write_text(textwrap.dedent("""
        from epmm_async.simulator import Simulator

        SIM = None

        async def serve():
            global SIM
            async with Simulator(devices=500, seed=7) as sim:
                SIM = sim
                await main()
                print("LOCKED", max(sim.ledger.actions("LOCK").values()))
    """) + code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPMM_")}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    devices = [line for line in lines if line.startswith("Device(uuid=")]
    assert devices and all("status='LOST'" in line for line in devices)
    assert any(line.startswith("[Device(uuid=") for line in lines)  # by_mac found it
    assert re.fullmatch(r"\{'succeeded': \d+\}", lines[-2]), lines[-2]
    assert lines[-1] == "LOCKED 2"  # one device locked by MAC, then by the bulk job
    # Only the example's own prints: no log line from the library.
    assert len(lines) == len(devices) + 3, proc.stdout
