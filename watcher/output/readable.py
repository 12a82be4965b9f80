"""``events.format = "readable"``: one short line per event for people, ``TIME  JOB  WHAT HAPPENED``.

The public face for every command that shows events to a person (``run`` on a terminal, ``demo``,
the one-shot commands): ``ReadableRenderer(color=..., time=...).render(event)``.
"""

from __future__ import annotations

import time as clock
from datetime import datetime
from typing import TYPE_CHECKING

from watcher.core.events import rfc3339
from watcher.core.printable import printable
from watcher.output.messages import message

if TYPE_CHECKING:
    from watcher.core.events import Event
    from watcher.core.vocabulary import EventTime, Level

WHO_WIDTH = 24
STREAM_WIDTH = 11
# what a batch event is shown under when it names no job, and what the watcher's own events are
SHORT_ID = 8
WATCHER = "dli-watcher"
_RESET = "\x1b[0m"
_DIM, _BOLD = "\x1b[2m", "\x1b[1m"
LEVEL_COLORS: dict[Level, str] = {"debug": _DIM, "info": "", "warning": "\x1b[33m", "error": "\x1b[31m"}


class ReadableRenderer:
    """Renders events as ``HH:MM:SS+01:00  job-name  what happened`` (``HH:MM:SS Z`` in UTC).

    ``color`` adds ANSI colours (warnings yellow, errors red, the time dim, the job bold); ``time``
    shows times in the machine's zone with its offset, or in UTC.
    """

    def __init__(self, *, color: bool = False, time: EventTime = "local") -> None:
        self.color, self.time = color, time
        self._stamp, self._clock = "", ""  # the last timestamp shown: a poll's events share one

    def render(self, event: Event, timestamp: str | None = None) -> str:
        """One line (no newline) for ``event``, at ``timestamp``, else its own, else now."""
        return self(event, timestamp or event.timestamp or rfc3339(clock.time()))

    def __call__(self, event: Event, timestamp: str) -> str:
        """The line for ``event`` written at ``timestamp`` (RFC 3339), as EventWriter asks for it."""
        # a job's name and log are untrusted: their control characters must not reach the terminal
        when, who, what = self.clock(timestamp), printable(self.who(event)), printable(self.what(event))
        if not self.color:
            return f"{when}  {who:<{WHO_WIDTH}} {what}"
        tint = LEVEL_COLORS[event.level]
        return f"{_DIM}{when}{_RESET}  {_BOLD}{who:<{WHO_WIDTH}}{_RESET} {tint}{what}{_RESET if tint else ''}"

    def clock(self, timestamp: str) -> str:
        """The time of day of an RFC 3339 ``timestamp``: local with its offset, or UTC with a ``Z``."""
        if timestamp != self._stamp:
            self._stamp, self._clock = timestamp, self._time_of_day(timestamp)
        return self._clock

    def _time_of_day(self, timestamp: str) -> str:
        try:
            when = datetime.fromisoformat(timestamp)
        except ValueError:
            return timestamp
        if self.time == "utc":
            return when.strftime("%H:%M:%SZ")
        return when.astimezone().isoformat(timespec="seconds")[11:]

    @staticmethod
    def who(event: Event) -> str:
        """The job the event is about (its short ID when it names none), or the watcher itself."""
        if event.batch_id is None:
            return WATCHER
        return str(event.fields.get("job_name") or event.batch_id[:SHORT_ID])

    @staticmethod
    def what(event: Event) -> str:
        """What happened: log lines and gaps in a column by stream, everything else in a sentence."""
        if event.name == "batch.log":
            return f"  {event.fields.get('stream')!s:<{STREAM_WIDTH}} | {message(event)}"
        if event.name == "batch.log_gap":
            missed = event.fields.get("missed_lines")
            count = "some" if missed is None else str(missed)
            return f"  {event.fields.get('stream')!s:<{STREAM_WIDTH}} | ... {count} lines could not be recovered"
        return message(event)
