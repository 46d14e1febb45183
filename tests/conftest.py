"""Fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """Each test starts with the same structlog configuration, whatever the last one set
    (the CLI configures a level and a renderer globally)."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
