"""Following batches to their end, for `wait` and `logs --follow`: the log so far, then the daemon's poll loop.

The log so far comes from the log endpoint, a page at a time; it also seeds each batch's log track,
so the poll loop that follows aligns the details window against everything already printed and
prints each later line once, with the daemon's own backfill when a burst outruns the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import anyio

from watcher.core.board import Board
from watcher.core.events import Event
from watcher.core.logdiff import LogTrack, diff_log
from watcher.core.outcome import Outcome, final_outcome
from watcher.core.tracker import Track, context
from watcher.daemon.poller import Clocks, Poller
from watcher.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from watcher.api.client import BatchApi, LogPage
    from watcher.api.policy import RequestPolicy
    from watcher.config.settings import Config
    from watcher.core.model import Snapshot
    from watcher.errors import FailureReason

LOG_PAGE = 1000
# the most pages one log is read in (a million lines): a server claiming a huge total must not get a
# request storm, nor fill the memory
MAX_LOG_PAGES = 1_000
# a finished batch is followed this long for its last lines when the log endpoint cannot be read
SETTLE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class History:
    """A batch's log so far, labelled by stream, and the log track that knows all of it."""

    lines: tuple[tuple[str, str], ...]
    track: LogTrack


async def read_history(api: BatchApi, policy: RequestPolicy, batch_id: str) -> History:
    """The whole log through the log endpoint, page by page; raises ApiError when it cannot be read."""
    raw: list[str] = []
    start = 0
    for _ in range(MAX_LOG_PAGES):
        page = await policy.call(_page(api, batch_id, start))
        if page.start != start:
            break  # not the slice asked for: a server that does not page would repeat itself for ever
        raw.extend(page.lines)
        start += len(page.lines)
        if not page.lines or start >= page.total:
            break
    diff = diff_log(LogTrack(), (), backfill=raw, from_start=True)
    return History(diff.lines, diff.track)


def _page(api: BatchApi, batch_id: str, start: int) -> Callable[[], Awaitable[LogPage]]:
    return lambda: api.log(batch_id, start, LOG_PAGE)


class _Uncounted:
    """One-shot commands keep no self-metrics."""

    def poll_done(self, seconds: float, reason: FailureReason | None) -> None:
        """Nothing to count."""


class Follower:
    """Polls a set of batches like the daemon does and hands their events to ``show`` until each is final."""

    def __init__(
        self,
        cfg: Config,
        api: BatchApi,
        policy: RequestPolicy,
        show: Callable[[list[Event]], None],
        *,
        grace: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cfg, self._api, self._policy, self._show, self._clock = cfg, api, policy, show, clock
        self.grace = grace
        self.board = Board()
        self.outcomes: dict[str, Outcome] = {}
        # the poll loop keeps reading a finished batch for the grace, and a little longer for its last lines
        keep = max(grace, SETTLE_SECONDS) + 2 * cfg.watch.interval_seconds
        polling = replace(cfg, watch=replace(cfg.watch, terminal_grace_seconds=keep))
        clocks = Clocks(wall=clock)
        self._poller = Poller(api, policy, polling, self.board, self._sink, _Uncounted(), clocks=clocks)
        self._revivable = cfg.api.flavor == "dli"

    def seed(self, batch_id: str, history: History, snap: Snapshot | None) -> None:
        """Print the log so far (as ``batch.log`` events, seq from 1) and start the batch's track after it.

        ``snap`` (the batch's details, when read) gives the events the context every batch event carries.
        """
        about = context(snap)
        events = [
            Event("batch.log", "info", batch_id, n, {**about, "stream": stream, "line": line})
            for n, (stream, line) in enumerate(history.lines, start=1)
        ]
        self.board.tracks[batch_id] = Track(batch_id, seq=len(events), log=history.track)
        self._show(events)

    @property
    def log_endpoint(self) -> bool:
        """Whether the log so far can be read (the config may turn the log endpoint off)."""
        return self._cfg.api.log_endpoint

    async def run(self, batch_ids: list[str], tick: Callable[[Mapping[str, Track]], None] = lambda _: None) -> None:
        """Follow until every batch is final (``outcomes``); the caller bounds it with a deadline if it wants one.

        ``tick`` sees the tracks a few times a second (a progress line).
        """
        async with anyio.create_task_group() as tg:
            self._poller.watch(batch_ids)
            tg.start_soon(self._poller.run, tg)
            while len(self.outcomes) < len(batch_ids):
                await anyio.sleep(0.05)
                self.outcomes.update(self._finished(batch_ids, self.outcomes))
                tick(self.board.tracks)
            tg.cancel_scope.cancel()

    def results(self, batch_ids: list[str]) -> dict[str, Outcome]:
        """Each batch's outcome, ``timed_out`` for those not final yet."""
        return {bid: self.outcomes.get(bid, "timed_out") for bid in batch_ids}

    def _finished(self, batch_ids: list[str], known: dict[str, Outcome]) -> dict[str, Outcome]:
        now = self._clock()
        found: dict[str, Outcome] = {}
        for bid in batch_ids:
            track = self.board.tracks.get(bid)
            if bid in known or track is None:
                continue
            outcome = final_outcome(track, now, self.grace, revivable=self._revivable)
            if outcome is not None and self._settled(track, now, outcome):
                found[bid] = outcome
        return found

    def _settled(self, track: Track, now: float, outcome: Outcome) -> bool:
        """Whether a final batch's last lines are in: the log endpoint was read after it finished, or it cannot be."""
        if outcome == "missing" or track.log.settled or not self._cfg.api.log_endpoint:
            return True
        return track.terminal_at is not None and now - track.terminal_at >= SETTLE_SECONDS

    def _sink(self, track: Track, events: list[Event], changed: bool) -> None:
        del track, changed  # the follower keeps no state file: only the events matter
        self._show(events)


async def history_or_none(
    api: BatchApi, policy: RequestPolicy, batch_id: str
) -> tuple[History | None, ApiError | None]:
    """The log so far, or None and the error that kept it from being read (the log endpoint is optional)."""
    try:
        return await read_history(api, policy, batch_id), None
    except ApiError as exc:
        return None, exc
