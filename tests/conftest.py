"""Shared fixtures: the asyncio backend, structlog reset, and a simulator on loopback (helpers live in helpers.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import structlog

from tests.helpers import simulator

if TYPE_CHECKING:
    from collections.abc import Iterator

    from watcher.simulator import SimServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with simulator("dli") as server:
        yield server


@pytest.fixture
def livy_sim() -> Iterator[SimServer]:
    with simulator("livy") as server:
        yield server
