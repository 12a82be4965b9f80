"""Which batches one page of the table shows: the fleet filtered, sorted and cut to a page, and counted.

Pure: a function of the tracks, what ``Recent`` kept and the query. The whole fleet is walked once
for the counts and the filter and the matches sorted once; only the page's rows are rendered.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from watcher.core import states
from watcher.metrics.status.query import SORTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from watcher.core.recent import Recent
    from watcher.core.tracker import Track
    from watcher.metrics.status.query import Query

# how the watcher stands with a batch, worst first: the table's "watch" column and filter
WATCH_STATUSES = ("failing", "pending", "not_found", "gone", "finished", "watching")
NO_STATE = "(none)"  # the state filter's name for batches never read
MAX_QUEUE_CHOICES = 200

SortKey = str | float | tuple[int, str]


def watch_status(track: Track) -> str:
    """Failing (its last poll failed), pending, not_found, gone, finished (terminal), or watching."""
    if not track.up and track.failing_since is not None:
        return "failing"
    if track.presence != "present":
        return track.presence
    if track.state is not None and states.is_terminal(track.state):
        return "finished"
    return "watching"


def state_of(track: Track) -> str:
    """The state the table shows and filters on; ``NO_STATE`` for a batch never read."""
    return track.state if track.state is not None else NO_STATE


def attention(track: Track) -> tuple[int, str]:
    """The default order: failing batches first, then the ones never read, then the rest, each by ID."""
    rank = 0 if watch_status(track) == "failing" else 1 if track.snapshot is None else 2
    return rank, track.batch_id


def _negated(value: float | None) -> float | None:
    return None if value is None else -value


def sort_keys(recent: Recent) -> dict[str, Callable[[Track], SortKey | None]]:
    """Each sortable column's key; None sorts last in either direction. Ages sort youngest first."""

    def polled(track: Track) -> float | None:
        last = recent.last_poll(track.batch_id)
        return _negated(last if last is not None else track.last_success)

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
    """The tracks by ``key``; those without a value last, by ID, in either direction."""
    keyed: list[tuple[Any, Track]] = []
    missing: list[Track] = []
    for track in tracks:
        value = key(track)
        if value is None:
            missing.append(track)
        else:
            keyed.append((value, track))
    # one column's keys are all of one type (the union is across columns), so they compare
    keyed.sort(key=itemgetter(0), reverse=desc)
    missing.sort(key=attrgetter("batch_id"))
    return [t for _, t in keyed] + missing


def select(tracks: Iterable[Track], recent: Recent, query: Query) -> Selection:
    """The page of matching batches the query asks for, and the counts by state, watch status and queue."""
    by_state: Counter[str] = Counter()
    by_watch: Counter[str] = Counter()
    queues: Counter[str] = Counter()
    matched: list[Track] = []
    total = 0
    for track in tracks:
        status = watch_status(track)
        total += 1
        by_state[state_of(track)] += 1
        by_watch[status] += 1
        if track.snapshot is not None and track.snapshot.queue:
            queues[track.snapshot.queue] += 1
        if matches(track, status, query):
            matched.append(track)
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
