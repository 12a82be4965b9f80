"""The event stream: Event records rendered as lines in the configured format, for a given stream."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TextIO

from watcher.core.events import Event, rfc3339
from watcher.output.ecs import EcsRenderer
from watcher.output.journald import NO_PREFIX, prefixes
from watcher.output.jsonline import render_json
from watcher.output.readable import ReadableRenderer
from watcher.output.terminal import is_tty, wants_color

if TYPE_CHECKING:
    from watcher.core.vocabulary import EventTime, Level

LEVELS: dict[Level, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40}
# one event and the RFC 3339 time it is written with -> its line, without the newline
Renderer = Callable[[Event, str], str]


def resolved_format(fmt: str, stream: TextIO) -> str:
    """The format ``fmt`` names on ``stream``: ``auto`` is readable on a terminal, else JSON; ``console`` readable."""
    if fmt == "auto":
        return "readable" if is_tty(stream) else "json"
    return "readable" if fmt == "console" else fmt


def renderer_for(fmt: str, stream: TextIO, env: Mapping[str, str], *, time: EventTime, no_color: bool) -> Renderer:
    """The renderer of an ``events.format`` on ``stream``."""
    chosen = resolved_format(fmt, stream)
    if chosen == "readable":
        return ReadableRenderer(color=wants_color(stream, env, no_color=no_color), time=time)
    if chosen == "ecs":
        return EcsRenderer()
    if chosen == "json":
        return render_json
    raise ValueError(f"unknown events.format {fmt!r}")


class EventWriter:
    """Renders Event records as lines for ``stream``, leaving out batch events below ``level``.

    Everything it needs is passed in: no process-wide logging configuration is read or changed.
    ``prefix`` puts a syslog priority before each line of a level when the stream is the journal.
    """

    def __init__(
        self,
        stream: TextIO,
        render: Renderer,
        level: Level = "info",
        *,
        clock: Callable[[], float] = time.time,
        prefix: Mapping[Level, str] = NO_PREFIX,
    ) -> None:
        self._stream, self._render, self._clock = stream, render, clock
        self._least = LEVELS[level]
        self._prefix = dict(prefix)

    @classmethod
    def for_format(
        cls,
        fmt: str,
        level: Level,
        stream: TextIO | None = None,
        *,
        env: Mapping[str, str] | None = None,
        time: EventTime = "local",
        no_color: bool = False,
    ) -> EventWriter:
        """A writer for an ``events.format`` and level on ``stream`` (stdout by default), as ``env`` says.

        ``env`` (the process environment by default) tells whether the stream is systemd's journal
        (``JOURNAL_STREAM``) and whether colour is unwanted (``NO_COLOR``); ``time`` is ``events.time``.
        """
        out = stream or sys.stdout
        environ = os.environ if env is None else env
        render = renderer_for(fmt, out, environ, time=time, no_color=no_color)
        return cls(out, render, level, prefix=prefixes(out, environ))

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
        now: str | None = None  # one reading of the clock for the events that bring no timestamp of their own
        least, render, prefix = self._least, self._render, self._prefix
        for event in events:
            # the watcher's own lifecycle (watcher.*) is never filtered: a lowered level must not hide a reload
            if LEVELS[event.level] < least and not event.name.startswith("watcher."):
                continue
            stamp = event.timestamp or now or (now := rfc3339(self._clock()))
            out.append(f"{prefix[event.level]}{render(event, stamp)}\n")
        return out

    def write(self, events: Iterable[Event]) -> None:
        """Render and write the events here and now, then flush once (for one-shot commands, not the daemon)."""
        text = "".join(self.lines(events))
        if text:
            self._stream.write(text)
            self._stream.flush()
