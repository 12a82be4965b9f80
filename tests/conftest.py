"""Shared fixtures: the asyncio backend and a simulator on loopback (helpers live in tests/helpers.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.helpers import simulator

if TYPE_CHECKING:
    from collections.abc import Iterator

    from watcher.simulator import SimServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with simulator("dli") as server:
        yield server


@pytest.fixture
def livy_sim() -> Iterator[SimServer]:
    with simulator("livy") as server:
        yield server
