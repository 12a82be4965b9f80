"""watcher.metrics_slow: a /metrics render over 5 s is reported once, by the poll loop, with what it rendered."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from tests.schemas import assert_valid
from watcher.core.board import Board
from watcher.core.events import Event
from watcher.core.tracker import Track
from watcher.daemon.conditions import SLOW_RENDER, Conditions
from watcher.metrics.collectors import SelfMetrics
from watcher.metrics.exposition import Variant
from watcher.output.pump import OutputPump
from watcher.output.writer import EventWriter
from watcher.web.endpoints import Endpoints

if TYPE_CHECKING:
    from watcher.core.vocabulary import EventName, Level


def conditions() -> tuple[Conditions, list[tuple[EventName, dict[str, object], Level]]]:
    """Conditions over a board of three batches, collecting what they say."""
    board = Board()
    for bid in ("a", "b", "c"):
        board.tracks[bid] = Track(bid)
    said: list[tuple[EventName, dict[str, object], Level]] = []

    def say(name: EventName, fields: dict[str, object], level: Level = "info") -> None:
        said.append((name, fields, level))

    cond = Conditions(board, SelfMetrics(board), OutputPump(lambda _: None), say, per_batch="all")
    return cond, said


def test_a_slow_render_is_reported_once_from_the_loop_and_fast_ones_never():
    """Fast renders say nothing; the first slow one is said at the next scheduler pass, later ones never."""
    cond, said = conditions()
    cond.metrics_rendered(SLOW_RENDER - 0.1, 10)
    cond.progress(1.0)
    assert said == []
    cond.metrics_rendered(SLOW_RENDER + 1.5, 120_000_000)
    assert said == []  # the render thread only notes it
    cond.progress(2.0)
    cond.metrics_rendered(SLOW_RENDER + 9.0, 130_000_000)
    cond.progress(3.0)
    assert said == [
        ("watcher.metrics_slow", {"seconds": 6.5, "bytes": 120_000_000, "batches": 3, "per_batch": "all"}, "warning")
    ]
    name, fields, level = said[0]
    for fmt in ("json", "ecs"):
        lines = EventWriter.for_format(fmt, "debug", io.StringIO()).lines([Event(name, level, fields=fields)])
        assert assert_valid(fmt, lines) == 1


def test_endpoints_tell_how_long_each_render_took_and_its_size():
    """Each /metrics answer is measured and passed to ``rendered``, size as sent."""
    seen: list[tuple[float, int]] = []
    endpoints = Endpoints(
        CollectorRegistry(), lambda: "x 1\n", lambda: True, lambda: None, rendered=lambda s, n: seen.append((s, n))
    )
    response = endpoints.metrics(Variant("text/plain; version=0.0.4; charset=utf-8", gzip=False))
    assert [size for _, size in seen] == [len(response.body)]
    assert seen[0][0] >= 0
