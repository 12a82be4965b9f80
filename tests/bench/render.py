"""Micro-benchmark of event rendering: ``EventWriter.lines`` over 10,000 events, per format.

    python tests/bench/render.py [--events 10000] [--repeat 7] [--formats json,ecs,readable]

The events are what a busy poll produces: mostly ``batch.log`` lines with a few state changes,
carrying the context every batch event has (job name, queue, app id). The best of ``--repeat``
runs is printed in microseconds per event.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import timeit
from typing import TYPE_CHECKING, Any

from watcher.core.events import Event
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from watcher.core.vocabulary import EventName

CONTEXT = {"job_name": "nightly-aggregation", "queue": "etl_queue", "app_id": "application_1712345678901_0042"}
LINE = "24/11/28 11:17:26 INFO DAGScheduler: Job 7 finished: save at Aggregate.scala:88, took 12.004 s"


def sample(count: int, *, context: bool = True) -> list[Event]:
    """``count`` events: nine log lines for each state change, numbered like one batch's stream.

    Without ``context``, the events are shaped as before every batch event carried it (for a baseline).
    """
    # a stamp the tracker gives each event, where the Event has one (the writer's clock otherwise)
    stamped = "timestamp" in {f.name for f in dataclasses.fields(Event)}
    extra: dict[str, Any] = {"timestamp": "2026-11-28T11:17:26.890Z"} if stamped else {}
    events = []
    for seq in range(1, count + 1):
        name: EventName = "batch.log" if seq % 10 else "batch.state_changed"
        fields: dict[str, Any] = (
            {"stream": "stdout", "line": f"{LINE} #{seq}"}
            if seq % 10
            else {"from_state": "starting", "to_state": "running", "update_time": None, "previous_state_seconds": 2.5}
        )
        if context:
            fields = {**CONTEXT, **fields}
        events.append(Event(name, "info", "c9dff41b-a694-42a6-9f27-3c755af225ee", seq, fields, **extra))
    return events


def main() -> None:
    """Print the best time per event for each format."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--formats", default="json,ecs,readable")
    parser.add_argument("--no-context", action="store_true", help="events without job_name, queue, app_id")
    args = parser.parse_args()
    events = sample(args.events, context=not args.no_context)
    for fmt in args.formats.split(","):
        try:
            writer = EventWriter.for_format(fmt, "info", io.StringIO())
        except (KeyError, ValueError, ImportError) as exc:
            print(f"{fmt:>9}: not available ({exc})")
            continue
        best = min(timeit.repeat(lambda w=writer: w.lines(events), number=1, repeat=args.repeat))
        print(f"{fmt:>9}: {best / len(events) * 1e6:6.2f} us/event  ({len(events) / best:,.0f} events/s)")


if __name__ == "__main__":
    main()
