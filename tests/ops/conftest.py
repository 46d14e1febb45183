"""Fixtures for the operations-layer tests: a simulator and a client bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.simulator import Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=600, seed=11, time_scale=0.002) as server:
        yield server


def client_for(sim: Simulator, **options: Any) -> EpmmClient:
    """A client for ``sim`` with fast retries."""
    options.setdefault("retry", RetryPolicy(initial_delay=0.005, max_delay=0.05, deadline=5))
    return EpmmClient(sim.url, username=sim.username, password=sim.password,
                      config=ClientConfig(**options))


@pytest.fixture
def make_client() -> Callable[..., EpmmClient]:
    """``make_client(sim, **options)``: a client for a simulator the test started."""
    return client_for


@pytest.fixture
async def epmm(sim: Simulator) -> AsyncIterator[EpmmClient]:
    async with client_for(sim) as client:
        yield client
