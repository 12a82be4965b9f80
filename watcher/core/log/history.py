"""A log read from its first line, labelled by stream a page at a time: what `logs` and `wait` print as history.

Pure: the pages come from the caller. Only each stream's last lines are kept, so a log of any length
takes the same memory; the track it leaves is the one ``diff_log`` would give the whole log at once.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from watcher.core.log.diff import TAIL_KEEP, LogTrack, StreamTrack
from watcher.core.log.layout import MARKED, layout_of, marker

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watcher.core.log.layout import Layout


class Labeller:
    """Labels a log read from its first line with its stream, a page at a time, keeping only each stream's tail.

    The same reading ``diff_log`` gives a whole log at once, without holding the log: markers open
    sections (and are not lines of their own), lines before any marker are the unsectioned ``log``.
    """

    def __init__(self) -> None:
        self._layout: Layout = "plain"
        self._stream = "log"
        self._tails: dict[str, deque[str]] = {}
        self._seen: dict[str, int] = {}

    def feed(self, lines: Sequence[str]) -> list[tuple[str, str]]:
        """The page's lines with their streams, in order."""
        self._layout = layout_of(self._layout, lines)
        out: list[tuple[str, str]] = []
        for line in lines:
            opened = marker(line)
            if opened is not None and (self._layout in MARKED or opened == "diagnostics"):
                self._stream = opened
                self._tails.setdefault(opened, deque(maxlen=TAIL_KEEP))
                self._seen.setdefault(opened, 0)
                continue
            self._tails.setdefault(self._stream, deque(maxlen=TAIL_KEEP)).append(line)
            self._seen[self._stream] = self._seen.get(self._stream, 0) + 1
            out.append((self._stream, line))
        return out

    def track(self) -> LogTrack:
        """The log track after every line fed: each stream's tail and exact count."""
        streams = {name: StreamTrack(tuple(tail), self._seen[name]) for name, tail in self._tails.items() if tail}
        return LogTrack(streams=streams, layout=self._layout)
