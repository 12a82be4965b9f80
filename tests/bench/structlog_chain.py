"""Does structlog earn its place as the output stage? Today's EventWriter against a structlog processor chain.

    python tests/bench/structlog_chain.py [--events 10000] [--repeat 9] [--formats json,ecs,readable]

The chain is the one issue 25 asks for, built as cheaply as structlog allows: a filtering bound logger
(``make_filtering_bound_logger``, cached on first use, a plain dict as context), the event record bound
per call, then processors for level filtering (watcher.* always passes), redaction, the timestamp and
the message, and the format's renderer last; a logger that appends each line to an outbox list. Both
write the same events; the script first checks the lines are byte-identical, then times both in this
process, interleaved, and prints the best of ``--repeat`` per event and the ratio (chain / today).
Needs structlog (the ``bench`` extra): the watcher itself does not depend on it, after this measurement.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import timeit
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import structlog
except ImportError:  # not a dependency of the watcher: the bench extra brings it
    raise SystemExit("structlog_chain.py needs structlog: pip install -e '.[bench]'") from None

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.render import sample
from watcher.core.events import rfc3339
from watcher.core.redact import redact_req_body
from watcher.output.ecs import EcsRenderer
from watcher.output.jsonline import render_json
from watcher.output.readable import ReadableRenderer
from watcher.output.writer import LEVELS, EventWriter, Renderer

if TYPE_CHECKING:
    from collections.abc import Callable

    from structlog.typing import EventDict, Processor

    from watcher.core.events import Event

CLOCK = 1_764_328_646.89  # a fixed wall clock: both sides stamp the same time
RECORD = "_record"


class Outbox:
    """structlog's logger: every rendered line is appended, newline included, as the pump would take it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def msg(self, line: str) -> None:
        """Take one rendered line."""
        self.lines.append(line + "\n")

    debug = info = warning = error = msg


def keep_level(least: int) -> Processor:
    """Drop batch events below ``least``; the watcher's own lifecycle always passes."""

    def processor(_logger: Any, method: str, event_dict: EventDict) -> EventDict:
        if LEVELS[method] < least and not event_dict["event"].startswith("watcher."):  # type: ignore[index]
            raise structlog.DropEvent
        return event_dict

    return processor


def redaction(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """A request body's secrets masked (today the tracker does this when it makes the event)."""
    record: Event = event_dict[RECORD]
    body = record.fields.get("req_body")
    if isinstance(body, str):
        event_dict["req_body"] = redact_req_body(body)
    return event_dict


def timestamper(clock: Callable[[], float]) -> Processor:
    """The record's own time, else the clock's (RFC 3339, as today)."""

    def processor(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        event_dict["timestamp"] = event_dict[RECORD].timestamp or rfc3339(clock())
        return event_dict

    return processor


def renderer(render: Renderer) -> Processor:
    """The format's renderer as structlog's last processor: the record and its stamp to one line."""

    def processor(_logger: Any, _method: str, event_dict: EventDict) -> str:
        return render(event_dict[RECORD], event_dict["timestamp"])

    return processor


class ChainWriter:
    """The processor-chain output stage: one structlog call per event, lines into an outbox.

    ``bare``: structlog's floor, the timestamp and the renderer only (no filtering, no redaction), to
    show what structlog's call path alone costs.
    """

    def __init__(self, render: Renderer, least: str = "info", *, bare: bool = False) -> None:
        self.outbox = Outbox()
        chain = [keep_level(LEVELS[least]), redaction] if not bare else []  # type: ignore[index]
        self._log = structlog.wrap_logger(
            self.outbox,
            processors=[*chain, timestamper(lambda: CLOCK), renderer(render)],
            wrapper_class=structlog.make_filtering_bound_logger(0),
            context_class=dict,
            cache_logger_on_first_use=True,
        )

    def lines(self, events: list[Event]) -> list[str]:
        """Each event through the chain; the lines the outbox took."""
        self.outbox.lines = []
        log = self._log
        for event in events:
            getattr(log, event.level)(event.name, _record=event)
        return self.outbox.lines


FORMATS: dict[str, Callable[[], Renderer]] = {
    "json": lambda: render_json,
    "ecs": EcsRenderer,
    "readable": lambda: ReadableRenderer(color=False, time="utc"),
}


def measure(fmt: str, events: list[Event], repeat: int) -> tuple[float, float, float]:
    """Best seconds per event of today's writer, the chain and the bare chain, timed in turn in this process."""
    today = EventWriter(io.StringIO(), FORMATS[fmt](), "info", clock=lambda: CLOCK)
    chain, bare = ChainWriter(FORMATS[fmt]()), ChainWriter(FORMATS[fmt](), bare=True)
    if not today.lines(events) == chain.lines(events) == bare.lines(events):
        raise SystemExit(f"{fmt}: the chain's lines differ from today's")
    best = [float("inf")] * 3
    for _ in range(repeat):
        for i, writer in enumerate((today, chain, bare)):
            best[i] = min(best[i], timeit.timeit(lambda w=writer: w.lines(events), number=1))  # type: ignore[misc]
    return best[0] / len(events), best[1] / len(events), best[2] / len(events)


def main() -> None:
    """Print, per format, today's and the chain's time per event and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--formats", default="json,ecs,readable")
    args = parser.parse_args()
    events = sample(args.events)
    rows = {}
    for fmt in args.formats.split(","):
        today, chain, bare = measure(fmt, events, args.repeat)
        rows[fmt] = {"today_us": round(today * 1e6, 2), "chain_ratio": round(chain / today, 2)}
        rows[fmt]["bare_ratio"] = round(bare / today, 2)
        print(
            f"{fmt:>9}: today {today * 1e6:6.2f} us/event; structlog chain {chain * 1e6:6.2f} "
            f"({chain / today:.2f}x, limit 1.2x); bare structlog {bare * 1e6:6.2f} ({bare / today:.2f}x)"
        )
    print(json.dumps({"structlog": structlog.__version__ if hasattr(structlog, "__version__") else "?", **rows}))


if __name__ == "__main__":
    main()
