"""The event stream: structlog configured once, rendering Event records as JSON lines (or console)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, TextIO

import structlog

from watcher.core.events import Event, rfc3339
from watcher.core.untrusted import valid_unicode
from watcher.output.readable import ReadableRenderer

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
EventDict = MutableMapping[str, Any]


def _stamp(_: Any, method: str, event_dict: EventDict) -> EventDict:
    """Put timestamp, level and event first, in the order log shippers read them."""
    head = {"timestamp": rfc3339(time.time()), "level": method if method != "warn" else "warning"}
    head["event"] = event_dict.pop("event")
    head.update(event_dict)
    return head


# JSON allows these raw inside strings, but readers that split on every Unicode line break
# (JavaScript, Python's str.splitlines) would cut an event in two
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"})


def _dumps(obj: Any, **_: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    if text.isascii():
        return text
    # a lone surrogate would fail the UTF-8 write and take the daemon with it
    return valid_unicode(text).translate(_LINE_BREAKS)


def configure(fmt: str, level: str, stream: TextIO | None = None) -> None:
    """Configure structlog for the whole process; the only place that calls structlog.configure."""
    out = stream or sys.stdout
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Callable[..., Any] = (
        ReadableRenderer()
        if fmt == "readable"
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
        if console
        else structlog.processors.JSONRenderer(_dumps)
    )
    structlog.configure(
        processors=[_stamp, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # httpx logs every request at INFO through stdlib logging; the event stream is ours alone
    for name in ("httpx", "httpcore", "hpack"):
        logging.getLogger(name).setLevel(logging.WARNING)


class EventWriter:
    """Writes Event records to the configured stream and tells an observer about each one."""

    def __init__(self, on_event: Callable[[Event], None] | None = None) -> None:
        self._log = structlog.get_logger()
        self._on_event = on_event

    def write(self, events: Iterable[Event]) -> None:
        """Render each event as one line."""
        for event in events:
            fields: dict[str, Any] = {}
            if event.batch_id is not None:
                fields["batch_id"] = event.batch_id
            if event.seq is not None:
                fields["seq"] = event.seq
            fields.update(event.fields)
            getattr(self._log, event.level)(event.name, **fields)
            if self._on_event is not None:
                self._on_event(event)
