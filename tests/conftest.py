"""Shared fixtures and the lanes: the asyncio backend, a simulator on loopback, the schema check of every run's events.

The slow lane is where a test lives, not a mark someone must remember: everything under tests/e2e and
tests/deploy (and tests/test_style.py, the linters) is marked ``slow``, so ``pytest -m "not slow"`` is the fast
lane; a ``slow`` mark written anywhere else is refused. Fast tests get a 30 s timeout each (property tests
120 s); slow ones keep pyproject's.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import is_hypothesis_test, settings

from tests.helpers import RUNS, simulator
from tests.schemas import assert_valid
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import Iterator

    from watcher.simulator import SimServer

TESTS = Path(__file__).resolve().parent
SLOW_DIRS = frozenset({"e2e", "deploy"})
# ruff and mypy over the whole tree: slow, but it stays where every helper and hook runs it by name
SLOW_FILES = frozenset({"test_style.py"})
FAST_TIMEOUT_SECONDS = 30
# measured on 2 cores (issue 25): the fast lane 59 s with one worker a core, 38 s with two; three gained nothing
WORKERS_PER_CORE = 2

# the property tests' example counts (tests/props.py): a quarter in the inner loop, all of them in CI
# (`.ci/run` passes --hypothesis-profile=full, which Hypothesis' plugin loads after this)
settings.register_profile("full", max_examples=100)
settings.register_profile("fast", max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
# a Hypothesis test runs hundreds of examples: CPU-bound, and several times slower on a busy machine
PROPERTY_TIMEOUT_SECONDS = 120


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` starts two workers per core: most tests wait on loopback servers and subprocesses, not a CPU."""
    del config  # the hook's signature
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return WORKERS_PER_CORE * cores


def lane_is_slow(path: Path) -> bool:
    """Whether a test file or folder is in the slow lane by where it lives (tests/e2e, tests/deploy, test_style.py)."""
    resolved = path.resolve()
    parts = resolved.relative_to(TESTS).parts if resolved.is_relative_to(TESTS) else ()
    return bool(parts) and (parts[0] in SLOW_DIRS or parts[0] in SLOW_FILES)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast lane (``-m "not slow"``) does not even import the slow lane's modules: a second of collection."""
    fast_lane = str(config.getoption("markexpr", "")).replace("'", '"').strip() == "not slow"
    return True if fast_lane and lane_is_slow(collection_path) else None


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the mark must be there when it looks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow lane by path; give every other test the fast lane's timeout unless it sets its own."""
    misplaced = [item.nodeid for item in items if not lane_is_slow(item.path) and item.get_closest_marker("slow")]
    if misplaced:
        # a mark would put it in the slow lane while its file sits in the fast one: move the test instead
        raise pytest.UsageError(f"slow tests live under tests/e2e or tests/deploy, not marked elsewhere: {misplaced}")
    for item in items:
        if lane_is_slow(item.path):
            item.add_marker(pytest.mark.slow)
        elif item.get_closest_marker("timeout") is None:
            prop = isinstance(item, pytest.Function) and is_hypothesis_test(item.obj)
            item.add_marker(pytest.mark.timeout(PROPERTY_TIMEOUT_SECONDS if prop else FAST_TIMEOUT_SECONDS))


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
