"""Which batches one page of the table shows: the fleet filtered, sorted and cut to a page, and counted.

Pure: a function of the tracks, what ``Recent`` kept and the query. The whole fleet is walked once
for the counts and the filter and the matches sorted once; only the page's rows are rendered.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from watcher.core.watchstatus import watch_status
from watcher.web.status.query import SORTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from watcher.core.recent import Recent
    from watcher.core.tracker import Track
    from watcher.core.watchstatus import WatchStatus
    from watcher.web.status.query import Query

# how the watcher stands with a batch, in dli_batch_watch_status' words, worst first: the "watch" column and filter
WATCH_STATUSES: tuple[WatchStatus, ...] = ("failing", "pending", "not_found", "gone", "ok")
NO_STATE = "(none)"  # the state filter's name for batches never read
MAX_QUEUE_CHOICES = 200

SortKey = str | float | int
BY_ID = attrgetter("batch_id")

# this module runs over every watched batch per page: 10,000 calls of each function here, so they
# read the track's fields directly rather than through helpers and properties


def state_of(track: Track) -> str:
    """The state the table shows and filters on; ``NO_STATE`` for a batch never read."""
    snap = track.snapshot
    return NO_STATE if snap is None else snap.state


def attention(track: Track) -> int:
    """The default order (ties by ID): failing batches first, then the ones never read, then the rest."""
    if not track.up and track.failing_since is not None:
        return 0
    return 1 if track.snapshot is None else 2


def _negated(value: float | None) -> float | None:
    return None if value is None else -value


def sort_keys(recent: Recent) -> dict[str, Callable[[Track], SortKey | None]]:
    """Each sortable column's key; None sorts last in either direction. Ages sort youngest first."""

    def polled(track: Track) -> float | None:
        return _negated(recent.last_poll(track))

    def error(track: Track) -> str | None:
        problem = recent.error(track.batch_id)
        return None if problem is None else problem.reason

    keys: dict[str, Callable[[Track], SortKey | None]] = {
        "attention": attention,
        "id": lambda t: t.batch_id,
        "name": lambda t: t.snapshot.name.casefold() if t.snapshot and t.snapshot.name else None,
        "queue": lambda t: t.snapshot.queue if t.snapshot and t.snapshot.queue else None,
        "state": lambda t: t.state,
        "in_state": lambda t: _negated(t.state_since),
        "updated": lambda t: _negated(t.snapshot.update_time if t.snapshot and t.snapshot.update_time else None),
        "polled": polled,
        "error": error,
    }
    assert tuple(keys) == SORTS
    return keys


def matches(track: Track, status: str, query: Query) -> bool:
    """Whether the batch passes every filter of the query; the name filter also matches the batch ID."""
    snap = track.snapshot
    if query.state and state_of(track) != query.state:
        return False
    if query.watch and status != query.watch:
        return False
    if query.queue and (snap is None or snap.queue != query.queue):
        return False
    if not query.name:
        return True
    needle = query.name.casefold()
    return needle in track.batch_id.casefold() or bool(snap and snap.name and needle in snap.name.casefold())


@dataclass(frozen=True, slots=True)
class Selection:
    """One page of the table and the fleet's counts (over every batch, not only the matching ones)."""

    rows: tuple[Track, ...]
    total: int
    matched: int
    page: int
    pages: int
    start: int  # how many matches come before the page's first row
    by_state: tuple[tuple[str, int], ...]
    by_watch: tuple[tuple[str, int], ...]
    queues: tuple[str, ...]


def ordered(tracks: list[Track], key: Callable[[Track], SortKey | None], desc: bool) -> list[Track]:
    """The tracks by ``key``, ties by ID; those without a value last, by ID, in either direction."""
    by_id = sorted(tracks, key=BY_ID)
    values: list[Any] = [key(t) for t in by_id]
    # positions, not (key, track) pairs: 10,000 pairs kept alive per page would set off the garbage
    # collector's full passes over the whole board, which hold the GIL for tens of milliseconds
    present = [n for n, value in enumerate(values) if value is not None]
    # one column's keys are all of one type (the union is across columns), so they compare; the sort
    # is stable, reversed or not, so ties keep their order by ID
    present.sort(key=values.__getitem__, reverse=desc)
    missing = [n for n, value in enumerate(values) if value is None]
    return [by_id[n] for n in present] + [by_id[n] for n in missing]


def select(tracks: Iterable[Track], recent: Recent, query: Query) -> Selection:
    """The page of matching batches the query asks for, and the counts by state, watch status and queue."""
    fleet = list(tracks)
    statuses = [watch_status(t) for t in fleet]
    # Counter over a list counts in C
    by_state = Counter([state_of(t) for t in fleet])
    by_watch = Counter(statuses)
    queues = Counter([t.snapshot.queue for t in fleet if t.snapshot is not None and t.snapshot.queue])
    matched = fleet
    if query.filtered:
        matched = [t for t, status in zip(fleet, statuses, strict=True) if matches(t, status, query)]
    total = len(fleet)
    pages = max(1, math.ceil(len(matched) / query.per))
    page = min(query.page, pages)
    rows = ordered(matched, sort_keys(recent)[query.sort], query.desc)
    start = (page - 1) * query.per
    return Selection(
        tuple(rows[start : start + query.per]),
        total,
        len(matched),
        page,
        pages,
        start,
        tuple(sorted(by_state.items(), key=lambda kv: (-kv[1], kv[0]))),
        tuple((s, by_watch[s]) for s in WATCH_STATUSES if by_watch[s]),
        tuple(sorted(q for q, _ in queues.most_common(MAX_QUEUE_CHOICES))),
    )
