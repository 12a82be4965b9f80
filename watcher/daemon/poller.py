"""The poll loop: schedules every batch on its own slot, polls with retries, feeds the tracker, emits.

One scheduler task wakes (at most once per tick) for due batches and starts a short poll task per
batch in the task group it is given; a semaphore bounds requests in flight, so a slow batch holds
one slot only.
"""

from __future__ import annotations

import heapq
import random
import time
from typing import TYPE_CHECKING, Protocol, TypeVar

import anyio

from watcher.core import states
from watcher.core.logdiff import diff_log, marker, stdout_hidden
from watcher.core.schedule import Timing, first_poll, next_poll, retry_delay, sleep_for, throttle_until
from watcher.core.tracker import LogResult, Track, observe, observe_failure, observe_missing
from watcher.daemon.lister import ListApi, fetch_listed, group_by_queue, list_filters
from watcher.errors import ApiError, DecodeError, NotFoundError, ThrottledError, TimeoutApiError, TransientApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from anyio.abc import TaskGroup

    from watcher.api.client import LogPage
    from watcher.config.settings import Config
    from watcher.core.board import Board
    from watcher.core.events import Event
    from watcher.core.model import Snapshot

T = TypeVar("T")
BACKFILL_MAX = 1000
LIST_YIELD_EVERY = 50


class Api(ListApi, Protocol):
    """The part of BatchApi the poller uses."""

    async def details(self, batch_id: str) -> Snapshot: ...  # noqa: D102
    def forget(self, batch_ids: Iterable[str]) -> None: ...  # noqa: D102
    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage: ...  # noqa: D102


class Sink(Protocol):
    """Receives each poll's new track and events; ``changed`` says the track's durable part moved."""

    def __call__(self, track: Track, events: list[Event], changed: bool) -> None: ...  # noqa: D102


def _persistent_change(old: Track, new: Track) -> bool:
    """Whether a poll changed what the state file keeps beyond liveness (up, last poll times)."""
    return (old.seq, old.snapshot, old.log, old.presence, old.terminal_at) != (
        new.seq,
        new.snapshot,
        new.log,
        new.presence,
        new.terminal_at,
    )


class Telemetry(Protocol):
    """Where poll outcomes are counted (the self-metrics)."""

    def poll_done(self, seconds: float, reason: str | None) -> None: ...  # noqa: D102


class Poller:
    """Polls the watched batches and turns what it sees into events."""

    def __init__(
        self,
        api: Api,
        cfg: Config,
        board: Board,
        sink: Sink,
        telemetry: Telemetry,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._api, self._board, self._sink, self._telemetry = api, board, sink, telemetry
        self._clock, self._rng = clock, rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.configure(cfg)
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}
        self._inflight: set[str] = set()
        self._watched: set[str] = set()
        self._throttled_until = 0.0
        self._wake = anyio.Event()
        self._sleep_until = 0.0
        # batches that still owe their first poll before the watcher counts as ready
        self._first_cycle: set[str] = set()
        self.on_progress: Callable[[float], None] = lambda _: None
        self.on_ready: Callable[[], None] = lambda: None

    def configure(self, cfg: Config) -> None:
        """Take new settings (on reload); the batch set is changed by ``watch``."""
        self._cfg = cfg
        # fast_acquire: a free slot costs no extra event-loop pass (the request awaits right after)
        self._limiter = anyio.Semaphore(cfg.watch.concurrency, fast_acquire=True)
        w = cfg.watch
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

    def watch(self, batch_ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """Set the watched batches; returns (added, removed). Removed ones leave the board."""
        wanted = list(dict.fromkeys(batch_ids))
        added = [b for b in wanted if b not in self._watched]
        removed = sorted((self._watched | set(self._board.tracks)) - set(wanted))
        now = self._clock()
        tracks = [self._board.tracks.get(bid) or Track(bid) for bid in added]
        self._board.add(tracks)
        for track in tracks:
            fresh = track.presence == "pending"
            when = first_poll(track.batch_id, now, self._timing) if fresh else next_poll(track, now, self._timing)
            self._schedule(track.batch_id, when)
        for bid in removed:
            self._due.pop(bid, None)
        self._watched = set(wanted)
        self._board.drop(set(removed))
        self._api.forget(removed)
        # a batch restored from the state file that needs no more polls does not hold up readiness
        self._first_cycle |= {b for b in added if b in self._due}
        self._first_cycle -= set(removed)
        self._wake.set()
        return added, removed

    def _schedule(self, bid: str, when: float | None) -> None:
        if when is None:
            self._due.pop(bid, None)
            return
        self._due[bid] = when
        heapq.heappush(self._heap, (when, bid))
        if when < self._sleep_until:
            self._wake.set()  # only when it is due before the scheduler would wake anyway

    async def run(self, tg: TaskGroup) -> None:
        """The scheduler loop: start a poll task for each due batch, forever."""
        while True:
            now = self._clock()
            self.on_progress(now)
            self._check_ready()
            due = self._pop_due(now)
            if due and self._cfg.watch.mode == "list":
                tg.start_soon(self._poll_listed, due, name="list cycle")
            else:
                for bid in due:
                    tg.start_soon(self._poll, bid, name=f"poll {bid}")
            delay = sleep_for(now, self._heap[0][0] if self._heap else None)
            self._sleep_until = now + delay
            self._wake = anyio.Event()
            with anyio.move_on_after(max(delay, 0.0)):
                await self._wake.wait()

    def _pop_due(self, now: float) -> list[str]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            when, bid = heapq.heappop(self._heap)
            if self._due.get(bid) == when and bid not in self._inflight:
                self._inflight.add(bid)
                due.append(bid)
        return due

    async def _poll_listed(self, due: list[str]) -> None:
        """List mode: read the due batches' queues page by page, then details for whatever is missing."""
        flavor, tracks = self._cfg.api.flavor, self._board.tracks
        groups, rest = group_by_queue(due, tracks, flavor)
        w = self._cfg.watch
        for queue, members in groups.items():
            filters = list_filters(flavor, queue, members, tracks)
            try:
                found = await fetch_listed(
                    self._api, self.request, members, w.list_page_size, w.max_list_pages, filters, self._poll_found
                )
            except Exception:  # noqa: BLE001 - pages we could not handle: their batches fall back to details
                found = set()
            rest += [b for b in members if b not in found]
        # a first cycle can leave thousands here: a fixed set of workers, not a task per batch
        pending = iter(rest)

        async def worker() -> None:
            for bid in pending:
                await self._poll(bid)

        async with anyio.create_task_group() as workers:
            for _ in range(min(self._cfg.watch.concurrency, len(rest))):
                workers.start_soon(worker)

    async def _poll_found(self, snaps: list[Snapshot]) -> None:
        for n, snap in enumerate(snaps, 1):
            await self._poll(snap.batch_id, snap)
            if n % LIST_YIELD_EVERY == 0:
                await anyio.lowlevel.checkpoint()  # a page of unchanged batches never awaits otherwise

    def _check_ready(self) -> None:
        if not self._board.ready and not self._first_cycle:
            self._board.ready = True
            self.on_ready()

    async def _poll(self, bid: str, listed: Snapshot | None = None) -> None:
        started = self._clock()
        old = self._board.tracks.get(bid) or Track(bid)
        try:
            track, events, reason = await self._poll_batch(old, listed)
        except Exception as exc:  # noqa: BLE001 - one answer we could not handle costs one failed poll, never the daemon
            err = DecodeError(f"the answer could not be handled ({type(exc).__name__})")
            track, events, reason = (*observe_failure(old, err, 1, self._clock()), err.reason)
        finally:
            self._inflight.discard(bid)
        now = self._clock()
        self._telemetry.poll_done(now - started, reason)
        if bid not in self._watched:
            return  # unwatched while in flight: its result no longer belongs anywhere
        before = self._board.tracks.get(bid)
        self._board.note_events(track, events, now)
        self._board.put(track)
        self._sink(track, events, before is None or _persistent_change(before, track))
        if reason is None:
            self._board.last_successful_poll = now
        self._first_cycle.discard(bid)
        self._schedule(bid, next_poll(track, now, self._timing))

    async def _poll_batch(self, track: Track, listed: Snapshot | None) -> tuple[Track, list[Event], str | None]:
        bid = track.batch_id
        try:
            snap = listed if listed is not None else await self.request(lambda: self._api.details(bid))
        except NotFoundError:
            return (*observe_missing(track, self._clock()), None)
        except ApiError as err:
            return (*observe_failure(track, err, err.attempts, self._clock()), err.reason)
        log = await self._diff_logs(track, snap)
        new, events = observe(track, snap, self._clock(), log, include_req_body=self._cfg.events.include_req_body)
        return new, events, None

    async def _diff_logs(self, track: Track, snap: Snapshot) -> LogResult:
        # URLs are built from the watched ID only: the answer's own id is the server's word
        result = diff_log(track.log, snap.log)
        finishing = states.is_terminal(snap.state) and (track.state != snap.state or track.presence != "present")
        # a hidden stdout changes nothing in the window, so only the log endpoint can show its new lines
        hidden = stdout_hidden(snap.log, result.track.sectioned)
        if (result.uncertain or finishing or hidden) and self._cfg.api.log_endpoint:
            tail = await self._fetch_log_tail(track.batch_id)
            if tail is not None and (any(marker(x) for x in tail[0]) or not result.track.sectioned):
                result = diff_log(track.log, snap.log, backfill=tail[0], from_start=tail[1])
        gaps = tuple((stream, None) for stream in result.uncertain)
        return LogResult(result.lines, gaps, result.track)

    async def _fetch_log_tail(self, bid: str) -> tuple[tuple[str, ...], bool] | None:
        """The log's last BACKFILL_MAX lines (all of it when shorter) in one request; None if it fails."""
        try:
            page = await self.request(lambda: self._api.log(bid, None, BACKFILL_MAX))
        except ApiError:
            return None
        return page.lines, page.start == 0

    async def request(self, call: Callable[[], Awaitable[T]]) -> T:
        """One API call with retries: full-jitter backoff, Retry-After, and a client-wide throttle."""
        api = self._cfg.api
        attempt = 0
        while True:
            attempt += 1
            await self._wait_throttle()
            try:
                async with self._limiter:
                    with anyio.fail_after(api.timeout_seconds + 1):
                        return await call()
            except TimeoutError:
                err: ApiError = TimeoutApiError("request timed out")
            except TransientApiError as exc:
                err = exc
                if isinstance(exc, ThrottledError):
                    self._throttled_until = self._board.throttled_until = throttle_until(
                        self._clock(),
                        self._throttled_until,
                        attempt,
                        api.backoff_base_seconds,
                        api.backoff_max_seconds,
                        exc.retry_after,
                    )
            except ApiError as exc:
                exc.attempts = attempt
                raise
            if attempt >= api.max_attempts:
                err.attempts = attempt
                raise err
            await anyio.sleep(
                retry_delay(attempt, api.backoff_base_seconds, api.backoff_max_seconds, self._rng, err.retry_after)
            )

    async def _wait_throttle(self) -> None:
        pause = self._throttled_until - self._clock()
        if pause > 0:
            await anyio.sleep(pause)
