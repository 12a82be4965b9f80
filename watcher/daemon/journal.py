"""Commit-then-write for the event stream: events are committed with their state, then written.

Each poll's events go into the state file's outbox in the same transaction as the state that
produced them, then to stdout, then are acknowledged.

A crash between commit and write leaves the events in the outbox, and the next start writes them
again: exact duplicates, same ``(batch_id, seq)``. Writing before committing would instead let a
restarted watcher reuse a seq for a different event, which downstream de-duplication would drop.
Without a state file, events are written at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from watcher.daemon.store import Change, Store

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from watcher.core.board import Board, JobSummary
    from watcher.core.events import Event
    from watcher.core.tracker import Track


# events are written this many at a time, with a pass of the event loop between, so a poll that
# recovered a thousand lines does not hold up every other batch while they are written
WRITE_CHUNK = 256


class Journal:
    """Buffers poll results, commits them in groups off the event loop, then writes their events."""

    def __init__(self, store: Store | None, board: Board, write: Callable[[list[Event]], None]) -> None:
        self._store, self._board, self._write = store, board, write
        self._tracks: dict[str, Track] = {}
        self._events: list[Event] = []
        # a chunked write is under way: anything new queues behind it, never between its chunks
        self._writing = False
        self._removed: set[str] = set()
        self._saved_jobs: dict[str, JobSummary] = dict(board.jobs)
        self._written_upto = 0
        self._wake = anyio.Event()

    def submit(self, track: Track, events: list[Event], changed: bool) -> None:
        """Take one poll's result; without a store its events go straight out (a large or queued lot in chunks)."""
        if self._store is None:
            if self._events or self._writing or len(events) > WRITE_CHUNK:
                self._events.extend(events)  # behind what is queued, so a batch's events stay in order
                self._wake.set()
            else:
                self._write(events)
            return
        if changed:
            self._tracks[track.batch_id] = track
        self._events.extend(events)
        if changed or events:
            self._wake.set()

    def forget(self, batch_ids: list[str]) -> None:
        """Drop unwatched batches from the state file at the next commit."""
        self._removed.update(batch_ids)
        for bid in batch_ids:
            self._tracks.pop(bid, None)
        self._wake.set()

    async def replay(self, outbox: dict[int, Event]) -> None:
        """Write events a previous run committed but may not have written, then acknowledge them."""
        if outbox:
            await self._write_chunked(list(outbox.values()))
            self._written_upto = max(outbox)
            await self.commit()

    async def run(self) -> None:
        """Commit whenever something is pending: a group commit of all that came in meanwhile."""
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await self.commit()

    async def commit(self) -> None:
        """Commit what is pending, then write its events."""
        if self._store is None:
            events, self._events = self._events, []
            with anyio.CancelScope(shield=True):
                await self._write_chunked(events)
            return
        jobs = [j for n, j in self._board.jobs.items() if self._saved_jobs.get(n) is not j]
        change = Change(list(self._tracks.values()), jobs, sorted(self._removed), self._events, self._written_upto)
        self._tracks, self._events, self._removed = {}, [], set()
        # once taken from the buffers, a change must reach both the file and stdout, even on shutdown
        with anyio.CancelScope(shield=True):
            last = await anyio.to_thread.run_sync(self._store.commit, change)
            self._saved_jobs.update((j.job_name, j) for j in jobs)
            await self._write_chunked(change.events)
        self._written_upto = last

    async def _write_chunked(self, events: Sequence[Event]) -> None:
        self._writing = True
        try:
            for start in range(0, len(events), WRITE_CHUNK):
                if start:
                    await anyio.lowlevel.checkpoint()
                self._write(list(events[start : start + WRITE_CHUNK]))
        finally:
            self._writing = False
