"""A poll's result on its way to the journal: the run counted once final, and every batch not found said once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from watcher.core.flavor import BY_NAME
from watcher.core.notfound import all_not_found
from watcher.core.outcome import undecided

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.core.board import Board
    from watcher.core.events import Event
    from watcher.core.recent import Recent
    from watcher.core.tracker import Track
    from watcher.daemon.conditions import Say
    from watcher.daemon.journal import Journal
    from watcher.daemon.live import LiveConfig


def settles(track: Track, events: list[Event], changed: bool) -> bool:
    """Whether a poll's result goes to the journal and the outcome count: not if it changed nothing of a running batch.

    Nothing could come of such a poll (most of a list cycle's). A replay skips the same polls, so that it reads
    the recording's clock where the run did.
    """
    return bool(events) or changed or not undecided(track)


class Results:
    """The poller's sink: each poll's outcome noted for the status page, then committed and written."""

    def __init__(
        self,
        live: LiveConfig,
        board: Board,
        journal: Journal,
        recent: Recent,
        say: Say,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._live, self._board, self._journal, self._recent, self._say = live, board, journal, recent, say
        self._wall = wall  # the recording's clock when there is one: a replay decides the outcome at the same time
        # the API error every watched batch was last not found with, once said (watcher.all_not_found)
        self._all_not_found: tuple[int | None, str | None] | None = None

    def __call__(self, track: Track, events: list[Event], changed: bool) -> None:
        """A poll's outcome: noted for the status page (whatever it was), then committed and written."""
        self._recent.polled(track, time.time())
        if settles(track, events, changed):
            self._submit(track, events, changed)

    def _submit(self, track: Track, events: list[Event], changed: bool) -> None:
        """A poll's result to the journal, counted as a run first once its outcome is final (marked, so kept).

        The run's ``batch.outcome`` goes into the same commit as the mark: announced once, restarts included.
        """
        self._settle(track, events, changed, self._wall())
        if track.presence == "not_found" or self._all_not_found is not None:
            self._check_all_not_found()

    def _settle(self, track: Track, events: list[Event], changed: bool, now: float) -> None:
        """Count the run once final and add its batch.outcome to the same commit as the mark."""
        cfg = self._live.cfg
        revivable = BY_NAME[cfg.api.flavor].revives_dead
        grace = cfg.watch.terminal_grace_seconds
        settled, final = self._board.count_outcome(track, now, grace, revivable=revivable)
        self._journal.submit(settled, [*events, *final], changed or settled is not track)

    def _check_all_not_found(self) -> None:
        """Say once when every watched batch (two or more) is not found with the same API error."""
        common = all_not_found(list(self._board.tracks.values()))
        key = None if common is None else common[:2]
        if common is not None and key != self._all_not_found:
            status, code, message = common
            fields = {"batches": len(self._board.tracks), "status_code": status, "error_code": code}
            self._say("watcher.all_not_found", {**fields, "error_message": message}, "warning")
        self._all_not_found = key

    def settle_restored(self) -> None:
        """Count the runs of restored batches that became final while the watcher was away (no poll will)."""
        # what every batch was when the watcher stopped is no news: watcher.all_not_found waits for polls
        for track in list(self._board.tracks.values()):
            self._settle(track, [], False, time.time())  # before any recording starts: its header holds the result
