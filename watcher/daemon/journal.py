"""Commit-then-write for the event stream: events are committed with their state, then written.

Each poll's events go into the state file's outbox in the same transaction as the state that
produced them, then to the output, and are acknowledged once the output has really written them.

A crash between commit and write leaves the events in the outbox, and the next start writes them
again: exact duplicates, same ``(batch_id, seq)``. Writing before committing would instead let a
restarted watcher reuse a seq for a different event, which downstream de-duplication would drop.
Without a state file, events are written at once.

A commit that fails (a full disk, another program's lock) keeps its change for the next attempt,
after a backoff, and writes nothing; while commits fail, or the output is not keeping up, the journal
is ``held`` and the poller stops advancing batches, so nothing is produced that could not be kept.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import TYPE_CHECKING, Protocol

import anyio

from watcher.daemon.store import Change, Store

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from watcher.core.board import Board, HistogramKey, JobSummary
    from watcher.core.events import Event
    from watcher.core.histogram import Histogram
    from watcher.core.tracker import Track


# events are written this many at a time, with a pass of the event loop between, so a poll that
# recovered a thousand lines does not hold up every other batch while they are written
WRITE_CHUNK = 256
# retries of a failed commit back off from this to RETRY_MAX_SECONDS
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


class Output(Protocol):
    """How far the output has got: ``written`` counts lines out (tickets up to it are done), ``full`` asks to wait."""

    @property
    def written(self) -> int: ...  # noqa: D102
    @property
    def full(self) -> bool: ...  # noqa: D102


class _Immediate:
    """An output that writes synchronously: every ticket is done at once and it is never full."""

    written = 1 << 62
    full = False


def _ignore(_: str | None) -> None:
    """Nobody listens."""


def commit_retry_delay(failures: int) -> float:
    """Seconds before retrying a commit after ``failures`` consecutive failed ones."""
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2.0 ** max(0, failures - 1))


class Journal:
    """Buffers poll results, commits them in groups off the event loop, then writes their events."""

    def __init__(
        self,
        store: Store | None,
        board: Board,
        write: Callable[[list[Event]], int | None],
        *,
        output: Output | None = None,
        on_state_error: Callable[[str | None], None] = _ignore,
    ) -> None:
        self._store, self._board, self._write = store, board, write
        self._output: Output = output or _Immediate()
        self._on_state_error = on_state_error  # each failed commit's reason; None once commits work again
        self._tracks: dict[str, Track] = {}
        self._events: list[Event] = []
        # a chunked write is under way: anything new queues behind it, never between its chunks
        self._writing = False
        self._removed: set[str] = set()
        self._saved_jobs: dict[str, JobSummary] = dict(board.jobs)
        self._saved_histograms: dict[HistogramKey, Histogram] = dict(board.histograms)
        self._written_upto = 0
        # (output ticket, last outbox id) of committed lots not yet known to be written
        self._unacked: deque[tuple[int, int]] = deque()
        self.failures = 0  # consecutive failed commits
        self.failing: str | None = None
        self._wake = anyio.Event()

    @property
    def held(self) -> str | None:
        """Why the poller must not advance any batch now (None when it may)."""
        if self.failing is not None:
            return f"state file not writable: {self.failing}"
        if self._output.full:
            return "event output not keeping up"
        return None

    def submit(self, track: Track, events: list[Event], changed: bool) -> None:
        """Take one poll's result; without a store its events go straight out (a large or queued lot in chunks)."""
        if self._store is None:
            if self._events or self._writing or len(events) > WRITE_CHUNK:
                self._events.extend(events)  # behind what is queued, so a batch's events stay in order
                self._wake.set()
            elif events:  # most list-mode polls have none: nothing to queue, count or record
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
        """Queue events a previous run committed but may not have written; they are acknowledged once written."""
        if outbox:
            ticket = await self._write_chunked(list(outbox.values()))
            self._unacked.append((ticket, max(outbox)))

    async def run(self) -> None:
        """Commit whenever something is pending (a group commit); after a failed commit, retry after a backoff."""
        while True:
            if self.failing is not None:
                await anyio.sleep(commit_retry_delay(self.failures))
            else:
                await self._wake.wait()
            self._wake = anyio.Event()
            await self.commit()

    async def commit(self) -> None:
        """Commit what is pending, then write its events; a failed commit keeps it all for the next attempt."""
        if self._store is None:
            events, self._events = self._events, []
            with anyio.CancelScope(shield=True):
                await self._write_chunked(events)
            return
        self._acknowledge()
        jobs = [j for n, j in self._board.jobs.items() if self._saved_jobs.get(n) is not j]
        hists = [(k, h) for k, h in self._board.histograms.items() if self._saved_histograms.get(k) is not h]
        removed = sorted(self._removed)
        change = Change(list(self._tracks.values()), jobs, removed, self._events, self._written_upto, hists)
        self._tracks, self._events, self._removed = {}, [], set()
        # once taken from the buffers, a change must reach both the file and stdout, even on shutdown
        with anyio.CancelScope(shield=True):
            try:
                last = await anyio.to_thread.run_sync(self._store.commit, change)
            except (sqlite3.Error, OSError) as exc:
                self._put_back(change)
                self._failed(exc)
                return
            self._recovered()
            self._saved_jobs.update((j.job_name, j) for j in jobs)
            self._saved_histograms.update(hists)
            ticket = await self._write_chunked(change.events)
        if change.events:
            self._unacked.append((ticket, last))

    @property
    def acknowledgeable(self) -> bool:
        """Whether events the output has written wait for a commit to acknowledge them."""
        return bool(self._unacked) and self._unacked[0][0] <= self._output.written

    def _acknowledge(self) -> None:
        """Outbox rows the output has written are deleted with the next commit."""
        while self._unacked and self._unacked[0][0] <= self._output.written:
            self._written_upto = self._unacked.popleft()[1]

    def _put_back(self, change: Change) -> None:
        """Return a failed change to the buffers, ahead of (and overridden by) anything newer."""
        self._tracks = {**{t.batch_id: t for t in change.tracks}, **self._tracks}
        self._events = [*change.events, *self._events]
        self._removed |= set(change.removed)

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        reason = " ".join(str(exc).split()) or type(exc).__name__
        self.failing = self.failing or reason
        self._on_state_error(reason)

    def _recovered(self) -> None:
        if self.failing is not None:
            self.failing = None
            self._on_state_error(None)
        self.failures = 0

    async def _write_chunked(self, events: Sequence[Event]) -> int:
        """Write in chunks with a pass of the loop between; the ticket of the last chunk."""
        self._writing = True
        ticket = 0
        try:
            for start in range(0, len(events), WRITE_CHUNK):
                if start:
                    await anyio.lowlevel.checkpoint()
                ticket = self._write(list(events[start : start + WRITE_CHUNK])) or ticket
        finally:
            self._writing = False
        return ticket
