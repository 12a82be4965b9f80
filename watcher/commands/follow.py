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
from watcher.core.flavor import BY_NAME
from watcher.core.log.history import Labeller
from watcher.core.outcome import Outcome, final_outcome, held
from watcher.core.tracker import Track, context
from watcher.daemon.poller import Clocks, Poller
from watcher.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from watcher.api.client import BatchApi, LogPage
    from watcher.api.policy import RequestPolicy
    from watcher.config.settings import Config
    from watcher.core.log.diff import LogTrack
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
    """What reading a batch's log so far found: the track that knows all of it, how many lines, why it stopped.

    ``cut`` says why the read stopped before the log's end (a server that does not page, the page
    cap), empty when it read everything.
    """

    track: LogTrack
    lines: int = 0
    cut: str = ""


async def read_history(
    api: BatchApi, policy: RequestPolicy, batch_id: str, show: Callable[[list[tuple[str, str]]], None]
) -> History:
    """The whole log through the log endpoint, each page handed to ``show`` before the next is asked for.

    Nothing but one page and each stream's tail is held, however long the log. Raises ApiError when
    the first page cannot be read; a later page that fails ends the read with what was shown so far.
    """
    labeller = Labeller()
    start, cut = 0, ""
    for n in range(MAX_LOG_PAGES + 1):
        if n == MAX_LOG_PAGES:
            cut = f"stopped after {MAX_LOG_PAGES * LOG_PAGE} lines"
            break
        try:
            page = await policy.call(_page(api, batch_id, start))
        except ApiError as exc:
            if start == 0:
                raise
            cut = f"stopped at line {start}: {exc.reason}: {exc.message}"
            break
        if page.start != start:
            # not the slice asked for: a server that does not page would repeat itself for ever
            cut = f"the log endpoint answered line {page.start} when asked for line {start}" if start else ""
            break
        show(labeller.feed(page.lines))
        start += len(page.lines)
        if not page.lines or start >= page.total:
            break
    return History(labeller.track(), start, cut)


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
        on_hold: Callable[[str, float], None] = lambda _bid, _grace: None,
    ) -> None:
        self._cfg, self._api, self._policy, self._show, self._clock = cfg, api, policy, show, clock
        self.grace = grace
        # told once per batch when a dead batch is held for its grace (the flavor may revive it)
        self._on_hold = on_hold
        self._held: set[str] = set()
        self.board = Board()
        self.outcomes: dict[str, Outcome] = {}
        # the poll loop keeps reading a finished batch for the grace, and a little longer for its last lines
        keep = max(grace, SETTLE_SECONDS) + 2 * cfg.watch.interval_seconds
        polling = replace(cfg, watch=replace(cfg.watch, terminal_grace_seconds=keep))
        clocks = Clocks(wall=clock)
        self._poller = Poller(api, policy, polling, self.board, self._sink, _Uncounted(), clocks=clocks)
        self._revivable = BY_NAME[cfg.api.flavor].revives_dead
        self._seqs: dict[str, int] = {}

    def history_sink(self, batch_id: str, snap: Snapshot | None) -> Callable[[list[tuple[str, str]]], None]:
        """Where the log so far goes, a page at a time: ``batch.log`` events numbered from 1.

        ``snap`` (the batch's details, when read) gives the events the context every batch event carries.
        """
        about = context(snap)

        def show(lines: list[tuple[str, str]]) -> None:
            seq = self._seqs.get(batch_id, 0)
            events = [
                Event("batch.log", "info", batch_id, n, {**about, "stream": stream, "line": line})
                for n, (stream, line) in enumerate(lines, start=seq + 1)
            ]
            self._seqs[batch_id] = seq + len(events)
            self._show(events)

        return show

    def seed(self, batch_id: str, track: LogTrack) -> None:
        """Start the batch's track after the log so far, so the poll loop prints each later line once."""
        self.board.tracks[batch_id] = Track(batch_id, seq=self._seqs.get(batch_id, 0), log=track)

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

    def said(self, batch_id: str, outcome: Outcome) -> str:
        """The outcome as `wait` prints it: not found with the API's answer (a wrong project reads so)."""
        track = self.board.tracks.get(batch_id)
        shown = outcome.replace("_", " ")
        if outcome != "not_found" or track is None or track.presence != "not_found":
            return shown
        why = " ".join(str(v) for v in (track.not_found_status, track.not_found_code) if v is not None)
        said = f": {track.not_found_message}" if track.not_found_message else ""
        return f"{shown} ({why}{said})" if why or said else shown

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
            elif bid not in self._held and held(track, now, self.grace, revivable=self._revivable):
                self._held.add(bid)
                self._on_hold(bid, self.grace)
        return found

    def _settled(self, track: Track, now: float, outcome: Outcome) -> bool:
        """Whether a final batch's last lines are in: the log endpoint was read after it finished, or it cannot be."""
        if outcome == "not_found" or track.log.settled or not self._cfg.api.log_endpoint:
            return True
        return track.terminal_at is not None and now - track.terminal_at >= SETTLE_SECONDS

    def _sink(self, track: Track, events: list[Event], changed: bool) -> None:
        del track, changed  # the follower keeps no state file: only the events matter
        self._show(events)


async def history_or_none(
    api: BatchApi, policy: RequestPolicy, batch_id: str, show: Callable[[list[tuple[str, str]]], None]
) -> tuple[History | None, ApiError | None]:
    """The log so far (shown as it is read), or None and the error that kept it from being read at all."""
    try:
        return await read_history(api, policy, batch_id, show), None
    except ApiError as exc:
        return None, exc
