"""The poll loop: schedules every batch on its own slot, polls it through the request policy, feeds the tracker.

One scheduler task wakes (at most once per tick) for due batches and starts a short poll task per
batch in the task group it is given (list mode: one list cycle for all of them); the request
policy bounds requests in flight, so a slow batch holds one slot only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import anyio

from watcher.core import states
from watcher.core.flavor import BY_NAME
from watcher.core.listed import reusable
from watcher.core.log.poll import HIDDEN_READ_SECONDS, kept_window
from watcher.core.model import with_details_only
from watcher.core.readiness import Rejection, first_cycle_done
from watcher.core.schedule import TICK, Timing, next_poll, overdue, sleep_for, start_poll
from watcher.core.timetable import Timetable
from watcher.core.tracker import Failure, Track, observe, observe_failure, observe_missing, quiet, touch
from watcher.daemon.backfill import NOTHING_NEW, LogApi, LogReader
from watcher.daemon.listpoll import ListApi, ListPoller
from watcher.errors import ApiError, AuthError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from anyio.abc import TaskGroup

    from watcher.api.policy import RequestPolicy
    from watcher.config.settings import Config
    from watcher.core.board import Board
    from watcher.core.events import Event
    from watcher.core.listplan import Hint
    from watcher.core.model import Snapshot
    from watcher.core.tracker import LogResult
    from watcher.errors import FailureReason


class Api(ListApi, LogApi, Protocol):
    """The part of BatchApi the poller uses."""

    async def details(self, batch_id: str) -> Snapshot: ...  # noqa: D102
    def forget(self, batch_ids: Iterable[str]) -> None: ...  # noqa: D102


class Sink(Protocol):
    """Receives each poll's new track and events; ``changed`` says the track's durable part moved."""

    def __call__(self, track: Track, events: list[Event], changed: bool) -> None: ...  # noqa: D102


class Telemetry(Protocol):
    """Where poll outcomes are counted (the self-metrics)."""

    def poll_done(self, seconds: float, reason: FailureReason | None) -> None: ...  # noqa: D102


def _persistent_change(old: Track, new: Track) -> bool:
    """Whether a poll changed what the state file keeps beyond liveness (up, last poll times)."""
    return (old.seq, old.snapshot, old.log, old.presence, old.terminal_at) != (
        new.seq,
        new.snapshot,
        new.log,
        new.presence,
        new.terminal_at,
    )


def failure_of(err: ApiError) -> Failure:
    """An API error as the plain record the tracker reports."""
    return Failure(err.reason, err.message, err.status_code, err.error_code, err.attempts)


def _nothing(*_: object) -> None:
    """A hook nobody listens to."""


@dataclass(frozen=True, slots=True)
class PollerHooks:
    """What the poller tells its owner: the loop's progress (health, watchdog) and readiness."""

    on_progress: Callable[[float], None] = _nothing
    on_ready: Callable[[], None] = _nothing
    # asked once per finished poll: whether to set its answer aside, because what it produced could
    # not be committed or written now (the batch then stays where it was, and is diffed again later)
    hold_poll: Callable[[], bool] = lambda: False
    # an exception no poll should raise: a bug of the watcher's, reported with its traceback
    on_bug: Callable[[BaseException], None] = _nothing


@dataclass(frozen=True, slots=True)
class Clocks:
    """Wall time for what the tracker records and each batch's slot phase; monotonic time for when polls happen.

    Scheduling on the monotonic clock means a stepped wall clock (NTP, a VM restore) never stops or
    floods polling.
    """

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


class Poller:
    """Schedules the watched batches and polls each one when its slot comes."""

    def __init__(
        self,
        api: Api,
        policy: RequestPolicy,
        cfg: Config,
        board: Board,
        sink: Sink,
        telemetry: Telemetry,
        *,
        hooks: PollerHooks = PollerHooks(),
        clocks: Clocks = Clocks(),
    ) -> None:
        self._api, self._policy, self._board, self._sink, self._telemetry = api, policy, board, sink, telemetry
        self._hooks, self._clock, self._mono = hooks, clocks.wall, clocks.monotonic
        self._logs = LogReader(api, policy, enabled=cfg.api.log_endpoint)
        self._lists = ListPoller(
            api, policy, self._poll, self._clock, on_bug=hooks.on_bug, known=self._known, take_now=self._take_kept
        )
        self.configure(cfg)
        self._due = Timetable()
        # the last wall-clock slot queued and its monotonic time: a list cycle queues all its batches on one
        # slot, so they share one time, one bucket of the timetable and one float (issue 30)
        self._last_slot = (math.nan, 0.0)
        self._inflight: set[str] = set()
        self._watched: set[str] = set()
        self._wake = anyio.Event()
        self._sleep_until = 0.0
        # batches that still owe their first poll before the watcher counts as ready
        self._first_cycle: set[str] = set()
        # what else the first cycle waits for (discovery's first run)
        self._awaited: set[str] = set()
        # list mode: when the running cycle last finished a poll (None: no cycle runs); one runs at a time
        self._cycle_progress: float | None = None

    def configure(self, cfg: Config) -> None:
        """Take new settings (on reload); the batch set is changed by ``watch``."""
        self._cfg = cfg
        self._revives_dead = BY_NAME[cfg.api.flavor].revives_dead
        self._logs.enabled = cfg.api.log_endpoint
        w = cfg.watch
        self._logs.every = max(w.interval_seconds, HIDDEN_READ_SECONDS)
        self._timing = Timing(
            w.interval_seconds,
            w.terminal_grace_seconds,
            w.retention_seconds,
            w.not_found_interval_seconds,
            aligned=w.mode == "list",
        )

    @property
    def timing(self) -> Timing:
        """The current scheduling intervals."""
        return self._timing

    def await_first(self, name: str) -> None:
        """Hold readiness until ``arrived(name)``: the first cycle includes it (discovery's first run)."""
        if not self._board.ready:
            self._awaited.add(name)

    def arrived(self, name: str) -> None:
        """What readiness waited for has happened (succeeded or failed); the batches it added still owe a poll."""
        self._awaited.discard(name)
        self._wake.set()

    def watch(self, batch_ids: Iterable[str], hints: Mapping[str, Hint] | None = None) -> tuple[list[str], list[str]]:
        """Set the watched batches; returns (added, removed). Removed ones leave the board.

        ``hints`` say where a listing saw batches not polled yet, so list mode reads their queue.
        """
        wanted = list(dict.fromkeys(batch_ids))
        added = [b for b in wanted if b not in self._watched]
        removed = sorted((self._watched | set(self._board.tracks)) - set(wanted))
        now = self._clock()
        tracks = [self._board.tracks.get(bid) or Track(bid) for bid in added]
        self._board.add(tracks)
        for track in tracks:
            self._schedule(track.batch_id, start_poll(track, now, self._timing), now)
        for bid in removed:
            self._due.drop(bid)
        self._watched = set(wanted)
        self._lists.note_hints(hints or {}, self._watched, self._board.tracks)
        self._board.drop(set(removed))
        self._api.forget(removed)
        # a batch restored from the state file that needs no more polls does not hold up readiness, nor
        # does one an earlier run found missing: it has been read, and its next poll may be minutes away
        self._first_cycle |= {t.batch_id for t in tracks if t.batch_id in self._due and t.presence != "not_found"}
        self._first_cycle -= set(removed)
        self._wake.set()
        return added, removed

    def _schedule(self, bid: str, slot: float | None, now: float) -> None:
        """Queue the next poll at wall-clock ``slot`` (computed at wall time ``now``), kept as a monotonic time.

        The delay is measured against the same ``now`` the slot came from: reading the wall clock again
        here would let a clock step between the two reads move the poll by the whole step.
        """
        if slot is None:
            self._due.drop(bid)
            return
        when = self._mono() + max(0.0, slot - now)
        last, shared = self._last_slot
        if slot == last and abs(when - shared) < TICK:
            when = shared  # the same poll time within a scheduler tick: the one float
        else:
            self._last_slot = (slot, when)
        self._due.put(bid, when)
        if when < self._sleep_until:
            self._wake.set()  # only when it is due before the scheduler would wake anyway

    async def run(self, tg: TaskGroup) -> None:
        """The scheduler loop: start a poll task for each due batch (list mode: one cycle for all), forever.

        List mode starts a cycle only once the last one is over: overlapping cycles would read the
        same pages twice, and batches due meanwhile join the next one.
        """
        while True:
            now = self._mono()
            self._hooks.on_progress(now)
            self._check_ready()
            listing = self._cfg.watch.mode == "list"
            due = [] if listing and self._cycle_progress is not None else self._pop_due(now)
            if due and listing:
                self._cycle_progress = now
                tg.start_soon(self._cycle, due, name="list cycle")
            else:
                for bid in due:
                    tg.start_soon(self._poll, bid, None, name=f"poll {bid}")
            # behind a running cycle, its end is what wakes the scheduler
            waiting = listing and self._cycle_progress is not None
            delay = sleep_for(now, None if waiting else self._due.earliest())
            self._sleep_until = now + delay
            self._wake = anyio.Event()
            with anyio.move_on_after(max(delay, 0.0)):
                await self._wake.wait()

    async def poll_now(self, bid: str) -> None:
        """Poll one watched batch at once, off the schedule (a replay starts the polls its recording holds)."""
        self._inflight.add(bid)
        await self._poll(bid, None)

    async def cycle_now(self) -> None:
        """Run one list cycle at once for every batch still scheduled (a replay)."""
        self._cycle_progress = self._mono()
        await self._cycle(list(self._due))

    def overdue(self, now: float) -> float:
        """How long (monotonic seconds) the earliest queued poll has been due without being started."""
        return overdue(now, self._due.earliest(), self._cycle_progress)

    async def _cycle(self, due: list[str]) -> None:
        """One list cycle; its end lets the next one start."""
        try:
            await self._lists.cycle(due, self._board.tracks, self._cfg)
        finally:
            self._cycle_progress = None
            self._wake.set()

    def _known(self, bid: str) -> Snapshot | None:
        """The snapshot an unchanged list item of the batch stands for (read live: the board's dict may be swapped)."""
        return reusable(self._board.tracks.get(bid))

    def _pop_due(self, now: float) -> list[str]:
        """The batches due by ``now``, in the timetable's order, marked in flight."""
        due = []
        for bid in self._due.pop_due(now):
            if bid not in self._inflight:
                self._inflight.add(bid)
                due.append(bid)
        return due

    def _check_ready(self) -> None:
        if not self._board.ready and first_cycle_done(self._first_cycle, self._awaited):
            self._board.ready = True
            self._hooks.on_ready()

    async def _poll(self, bid: str, listed: Snapshot | None) -> None:
        """Poll one batch (or take what a list page said of it), record the outcome, schedule the next poll."""
        started = self._mono()
        old = self._board.tracks.get(bid) or Track(bid)
        try:
            track, events, reason = await self._poll_batch(old, listed)
        except Exception as exc:  # noqa: BLE001 - a bug costs one failed poll, never the daemon
            track, events, reason = self._bug(old, exc)
        finally:
            self._done(bid)
        self._finish(bid, old, (track, events, reason), started)

    def _take_kept(self, bid: str, listed: Snapshot) -> bool:
        """Take a list item that is the batch's kept snapshot, window and all, as ``_poll`` would, without awaiting.

        Nothing is to be read for it (``kept_window``), so it needs no task switch or coroutine: most
        items of a list cycle. False: anything else, left to ``_poll``.
        """
        old = self._board.tracks.get(bid)
        if old is None or listed is not old.snapshot:
            return False
        if not kept_window(old.log, listed.log, terminal=states.is_terminal(listed.state)):
            return False
        started = self._mono()
        try:
            self._board.answered(bid, None)
            result: tuple[Track, list[Event], FailureReason | None] = (old, [], None)
            if not quiet(old, listed, NOTHING_NEW):  # quiet: most items, whose track only moves its time (_finish)
                result = (*self._observe(old, listed, NOTHING_NEW), None)
        except Exception as exc:  # noqa: BLE001 - a bug costs one failed poll, never the daemon
            result = self._bug(old, exc)
        finally:
            self._done(bid)
        self._finish(bid, old, result, started)
        return True

    def _bug(self, old: Track, exc: BaseException) -> tuple[Track, list[Event], FailureReason]:
        """A poll that raised: reported as a bug, recorded as one failed poll."""
        self._hooks.on_bug(exc)
        failure = Failure("internal", f"internal error ({type(exc).__name__}): a bug, see watcher.internal_error")
        return (*observe_failure(old, failure, self._clock()), failure.reason)

    def _done(self, bid: str) -> None:
        """A poll is over, whatever its outcome: no longer in flight, and the running cycle has progressed."""
        self._inflight.discard(bid)
        if self._cycle_progress is not None:
            self._cycle_progress = self._mono()

    def _finish(
        self, bid: str, old: Track, result: tuple[Track, list[Event], FailureReason | None], started: float
    ) -> None:
        """Count the poll, keep its track and events (or set them aside), schedule the next poll."""
        track, events, reason = result
        now = self._clock()
        self._telemetry.poll_done(self._mono() - started, reason)
        if bid not in self._watched:
            return  # unwatched while in flight: its result no longer belongs anywhere
        if self._hooks.hold_poll():
            self._schedule(bid, next_poll(old, now, self._timing), now)
            return
        if track is old and reason is None:
            # a quiet poll (``_take_kept``): the board's own track, nothing in it to note or keep but its time
            touch(track, now)
            changed = False
        else:
            before = self._board.tracks.get(bid)
            if events or before is None or before.snapshot is not track.snapshot:
                # an unchanged snapshot's label values were admitted when it was first kept (admitted stay)
                self._board.note_events(track, events, now)
            self._board.put(track)
            changed = before is None or _persistent_change(before, track)
        self._sink(track, events, changed)
        if reason is None:
            self._board.last_successful_poll = now
        self._first_cycle.discard(bid)
        self._schedule(bid, next_poll(track, now, self._timing), now)

    async def _poll_batch(
        self, track: Track, listed: Snapshot | None
    ) -> tuple[Track, list[Event], FailureReason | None]:
        bid = track.batch_id
        try:
            if listed is not None:
                snap = with_details_only(listed, track.snapshot)
            else:
                snap = await self._policy.call(lambda: self._api.details(bid))
        except NotFoundError as err:
            self._board.answered(bid, Rejection("not_found", err.status_code, err.error_code, err.message))
            return (*observe_missing(track, self._clock(), failure_of(err)), None)
        except ApiError as err:
            auth = isinstance(err, AuthError)
            self._board.answered(bid, Rejection("auth", err.status_code, err.error_code, err.message) if auth else None)
            return (*observe_failure(track, failure_of(err), self._clock()), err.reason)
        self._board.answered(bid, None)
        log = await self._logs.diff(track, snap, self._clock())
        return (*self._observe(track, snap, log), None)

    def _observe(self, track: Track, snap: Snapshot, log: LogResult) -> tuple[Track, list[Event]]:
        """The tracker's ``observe`` of an answer, now, with the settings that shape its events."""
        return observe(
            track,
            snap,
            self._clock(),
            log,
            include_req_body=self._cfg.events.include_req_body,
            revives_dead=self._revives_dead,
        )
