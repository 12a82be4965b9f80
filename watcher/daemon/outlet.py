"""The way out for the watcher's events: masked, queued for stdout, counted and kept for the status page."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from watcher.core.events import Event

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.core.board import Board
    from watcher.core.recent import Recent
    from watcher.core.vocabulary import EventName, Level
    from watcher.metrics.collectors import SelfMetrics
    from watcher.output.pump import OutputPump
    from watcher.output.writer import EventWriter


class Outlet:
    """Writes events: the lines to the pump; each event to the self-metrics, the status page and ``on_event``."""

    def __init__(
        self,
        writer: EventWriter,
        pump: OutputPump,
        board: Board,
        stats: SelfMetrics,
        recent: Recent,
        mask: Callable[[str], str],
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.writer, self.pump = writer, pump
        self._board, self._stats, self._recent, self._on_event = board, stats, recent, on_event
        self._mask = mask

    def use_mask(self, mask: Callable[[str], str]) -> None:
        """Mask with the API client's mask from now on (it also knows the live IAM token)."""
        self._mask = mask

    def masked(self, text: str) -> str:
        """Text with the process's secrets masked."""
        return self._mask(text)

    def say(self, name: EventName, fields: dict[str, Any], level: Level = "info") -> None:
        """Write one of the watcher's own events (no batch, no seq)."""
        self.write([Event(name, level, fields=fields)])

    def write(self, events: list[Event]) -> int:
        """Queue events for the stream and count each (the self-metrics, the embedding caller); the output ticket."""
        # job logs and server messages are server text: whatever of ours it echoes is masked in the line
        ticket = self.pump.put([self._mask(line) for line in self.writer.lines(events)])
        self._recent.record(events, time.time(), self._board.tracks)
        for event in events:
            self._stats.event(event)
            if self._on_event is not None:
                self._on_event(event)
        return ticket
