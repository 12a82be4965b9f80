"""Every events.format writes exactly the golden bytes: json, ecs and readable (plain and coloured) pinned line by line.

The events are fixed here (not tests/samples.py, which grows with each new event) and cover what can
go wrong in a renderer: non-ASCII and Unicode line separators, control characters, a lone surrogate,
dotted keys in a request body, a null, an event without its own time, one below the level.
To write the golden files again after an intended change: ``python -m tests.output.test_golden_lines``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from watcher.core.events import Event
from watcher.output.ecs import EcsRenderer
from watcher.output.jsonline import render_json
from watcher.output.readable import ReadableRenderer
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from watcher.output.writer import Renderer

GOLDEN = Path(__file__).parent / "golden"
STAMP = "2026-11-28T11:17:26.890Z"
CLOCK = 1_764_328_700.25  # the writer's clock for the events that bring no time of their own
BATCH = "c9dff41b-a694-42a6-9f27-3c755af225ee"
CONTEXT = {"job_name": "nightly-aggregation", "queue": "etl_queue", "app_id": "application_1712345678901_0042"}
EVENTS = [
    Event("watcher.started", "info", fields={"version": "0.2.0", "batches": 2, "listen": "127.0.0.1:9847"}),
    Event(
        "batch.discovered",
        "info",
        BATCH,
        1,
        {
            **CONTEXT,
            "state": "running",
            "owner": "data-team",
            "create_time": "2026-11-28T11:15:00.000Z",
            "update_time": None,
            "req_body": {"file": "obs://b/job.py", "conf": {"spark.executor.memory": "4g"}},
        },
        STAMP,
    ),
    Event("batch.log", "info", BATCH, 2, {**CONTEXT, "stream": "stdout", "line": "Zürich 東京 ✓ done"}, STAMP),
    Event(
        "batch.log",
        "info",
        BATCH,
        3,
        {**CONTEXT, "stream": "stderr", "line": "a\u2028b\u2029c\x85d \x1b[31mred"},
        STAMP,
    ),
    Event("batch.log", "info", BATCH, 4, {**CONTEXT, "stream": "stderr", "line": "half \ud800 a pair"}, STAMP),
    Event("batch.log_gap", "warning", BATCH, 5, {**CONTEXT, "stream": "stdout", "missed_lines": None}, STAMP),
    Event(
        "batch.state_changed",
        "info",
        BATCH,
        6,
        {**CONTEXT, "from_state": "running", "to_state": "dead", "update_time": None, "previous_state_seconds": 2.5},
        STAMP,
    ),
    Event("batch.poll_recovered", "debug", BATCH, 7, {**CONTEXT, "failed_seconds": 1.0}, STAMP),
    Event(
        "batch.outcome",
        "warning",
        BATCH,
        8,
        {**CONTEXT, "outcome": "failed", "state": "dead", "duration_seconds": 61.5, "recovered": False},
        STAMP,
    ),
    Event("watcher.reload_failed", "error", fields={"key": "watch.bogus", "error_message": "unknown key"}),
]
FORMATS: dict[str, Renderer] = {
    "json": render_json,
    "ecs": EcsRenderer(),
    "readable": ReadableRenderer(color=False, time="utc"),
    "readable-color": ReadableRenderer(color=True, time="utc"),
}


def rendered(fmt: str) -> bytes:
    """The lines the writer gives for EVENTS at level info, as UTF-8 bytes."""
    writer = EventWriter(io.StringIO(), FORMATS[fmt], "info", clock=lambda: CLOCK)
    return "".join(writer.lines(EVENTS)).encode("utf-8")


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_writes_the_golden_bytes(fmt: str) -> None:
    """Byte for byte what the golden file holds; the debug event is left out at level info."""
    golden = (GOLDEN / f"{fmt}.txt").read_bytes()
    assert rendered(fmt) == golden
    assert golden.count(b"\n") == len(EVENTS) - 1


def write_golden() -> None:
    """Write the golden files from today's renderers (after an intended change of a format)."""
    GOLDEN.mkdir(exist_ok=True)
    for fmt in FORMATS:
        (GOLDEN / f"{fmt}.txt").write_bytes(rendered(fmt))


if __name__ == "__main__":
    write_golden()
