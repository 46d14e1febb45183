"""The examples in docs/operations.md run against the simulator, so they stay true."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from epmm_async.simulator import Simulator

DOC = Path(__file__).parents[2] / "docs" / "operations.md"
BLOCK = re.compile(r"```python\n# example: (\w+)\n(.*?)```", re.S)


def examples() -> dict[str, Callable[..., Coroutine[Any, Any, None]]]:
    found: dict[str, Callable[..., Coroutine[Any, Any, None]]] = {}
    for name, code in BLOCK.findall(DOC.read_text()):
        namespace: dict[str, Any] = {}
        exec(compile(code, f"{DOC}:{name}", "exec"), namespace)
        found[name] = namespace["main"]
    return found


EXAMPLES = examples()


def test_all_three_examples_are_there() -> None:
    assert set(EXAMPLES) == {"service", "batch", "bot"}


@pytest.fixture
async def sim() -> Any:
    async with Simulator(devices=300, seed=4, time_scale=0.0005) as server:
        yield server


def active(sim: Simulator) -> list[str]:
    return [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"]


async def test_service(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    uuid = active(sim)[0]
    await EXAMPLES["service"](sim.url, sim.username, sim.password, uuid)
    assert sim.ledger.count(uuid, "LOCK") == 1
    assert "succeeded" in capsys.readouterr().out


async def test_batch_resumes(sim: Simulator, tmp_path: Path) -> None:
    uuids = active(sim)[:40]
    journal = str(tmp_path / "wipe.journal")
    await EXAMPLES["batch"](sim.url, sim.username, sim.password, uuids, journal)
    await EXAMPLES["batch"](sim.url, sim.username, sim.password, uuids, journal)
    assert set(sim.ledger.actions("WIPE").values()) == {1}
    assert len(sim.ledger.actions("WIPE")) == 40
    # The resumed run sent nothing again: one wipe request RECEIVED per device.
    assert sim.received.destructive_counts("WIPE") == dict.fromkeys(uuids, 1)


async def test_bot(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    device = sim.fleet.devices[active(sim)[0]]
    # time_scale 0.0005 makes the simulator's 2-60 s fixes land within 30 ms
    await EXAMPLES["bot"](sim.url, sim.username, sim.password, device.principal)
    out = capsys.readouterr().out
    assert device.uuid in out
