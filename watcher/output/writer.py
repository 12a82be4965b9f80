"""The event stream: Event records rendered as JSON lines (or console, or readable lines) on a given stream."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from watcher.core.events import Event, rfc3339
from watcher.core.untrusted import valid_unicode
from watcher.output.readable import EventDict, ReadableRenderer

if TYPE_CHECKING:
    from watcher.core.vocabulary import Level

LEVELS: dict[Level, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40}
# a structlog processor's signature: (logger, method name, event dict) -> the rendered line
Renderer = Callable[[Any, str, EventDict], str]


# JSON allows these raw inside strings, but readers that split on every Unicode line break
# (JavaScript, Python's str.splitlines) would cut an event in two
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"})


def _json(_: Any, __: str, event: EventDict) -> str:
    return _dumps(event)


def _dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    if text.isascii():
        return text
    # a lone surrogate would fail the UTF-8 write and take the daemon with it
    return valid_unicode(text).translate(_LINE_BREAKS)


def renderer_for(fmt: str, stream: TextIO) -> Renderer:
    """The renderer of an ``events.format``: JSON lines, console key=value (``auto`` on a TTY), or readable."""
    if fmt == "readable":
        return ReadableRenderer()
    if fmt == "console" or (fmt == "auto" and stream.isatty()):
        return structlog.dev.ConsoleRenderer(colors=stream.isatty())
    return _json


class EventWriter:
    """Writes Event records to ``stream`` through ``render``, one line each, leaving out those below ``level``.

    Everything it needs is passed in: no process-wide logging configuration is read or changed.
    """

    def __init__(
        self, stream: TextIO, render: Renderer, level: Level = "info", *, clock: Callable[[], float] = time.time
    ) -> None:
        self._stream, self._render, self._clock = stream, render, clock
        self._least = LEVELS[level]

    @classmethod
    def for_format(cls, fmt: str, level: Level, stream: TextIO | None = None) -> EventWriter:
        """A writer for an ``events.format`` and level, on ``stream`` (stdout by default)."""
        out = stream or sys.stdout
        return cls(out, renderer_for(fmt, out), level)

    def set_level(self, level: Level) -> None:
        """Leave out events below ``level`` from now on (a reload)."""
        self._least = LEVELS[level]

    @property
    def stream(self) -> TextIO:
        """Where the lines go."""
        return self._stream

    def lines(self, events: Iterable[Event]) -> list[str]:
        """Each event at or above the level rendered as one line, newline included."""
        out = []
        for event in events:
            if LEVELS[event.level] < self._least:
                continue
            line: dict[str, Any] = {"timestamp": rfc3339(self._clock()), "level": event.level, "event": event.name}
            if event.batch_id is not None:
                line["batch_id"] = event.batch_id
            if event.seq is not None:
                line["seq"] = event.seq
            line.update(event.fields)
            out.append(self._render(None, event.level, line) + "\n")
        return out

    def write(self, events: Iterable[Event]) -> None:
        """Render and write the events here and now, then flush once (for one-shot commands, not the daemon)."""
        text = "".join(self.lines(events))
        if text:
            self._stream.write(text)
            self._stream.flush()
