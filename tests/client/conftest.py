"""Fixtures of the client tests: a mocked EPMM and open clients in both formats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from client_support import MockServer, make_client

from epmm_async import EpmmClient


@pytest.fixture
def mock() -> Iterator[MockServer]:
    """The mocked server; nothing is registered, so an unexpected request fails."""
    with MockServer() as m:
        yield m

@pytest.fixture(params=["json", "xml"])
def fmt(request: pytest.FixtureRequest) -> str:
    """Both response formats."""
    return str(request.param)

@pytest.fixture
async def epmm(fmt: str) -> AsyncIterator[EpmmClient]:
    """An open client in the parametrized format."""
    async with make_client(fmt) as client:
        yield client

