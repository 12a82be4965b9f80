"""Shared fixtures: the asyncio backend, a simulator on loopback, the schema check of every watcher run's events."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest

from tests.helpers import RUNS, simulator
from tests.schemas import assert_valid
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import Iterator

    from watcher.simulator import SimServer


@pytest.fixture(autouse=True)
def events_follow_the_schema() -> Iterator[None]:
    """Every event an in-process watcher wrote validates against schema/, as written (JSON) and rendered as ECS."""
    RUNS.clear()
    yield
    runs = list(RUNS)
    RUNS.clear()
    for run in runs:
        assert_valid("json", run.out.getvalue().splitlines())
        assert_valid("ecs", EventWriter.for_format("ecs", "debug", io.StringIO()).lines(run.events))


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
