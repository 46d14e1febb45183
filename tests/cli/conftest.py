"""Fixtures of the CLI tests: a simulator on its own event loop thread, and a CLI runner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_support import Invoke, SimThread, make_invoke


@pytest.fixture(scope="module")
def shared() -> Iterator[SimThread]:
    """A read-mostly simulator shared by a test module (do not wipe or retire on it)."""
    st = SimThread(devices=400, seed=11, time_scale=0.02)
    yield st
    st.close()

@pytest.fixture
def fresh() -> Iterator[SimThread]:
    """A simulator of its own, for tests that change state or read the ledger."""
    st = SimThread(devices=300, seed=5, time_scale=0.02)
    yield st
    st.close()

@pytest.fixture
def cli(shared: SimThread) -> Invoke:
    """Run ``epmm ARGS`` in-process against the shared simulator."""
    return make_invoke(shared)

@pytest.fixture
def fresh_cli(fresh: SimThread) -> Invoke:
    """Run ``epmm ARGS`` in-process against the fresh simulator."""
    return make_invoke(fresh)


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own ``~/.config/epmm/config.toml`` (or ``$EPMM_CONFIG``, ``EPMM_PROFILE``)
    never reaches a test: each test starts with no config file unless it writes one."""
    missing = tmp_path_factory.mktemp("no-config") / "config.toml"
    monkeypatch.setenv("EPMM_CONFIG", str(missing))
    monkeypatch.delenv("EPMM_PROFILE", raising=False)
