"""List mode's plan for a cycle: which list reads should find which batches, and which batches need details.

Batches seen before are read per queue from their oldest creation time. Batches never polled have
no known queue, so they are looked for in one sweep of the look-back window (over the hinted queues,
or all of them). Whatever no page returns falls back to details, and a read stops early once its
remaining pages would cost more requests than the details of the batches it has not found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from watcher.core.flavor import Flavor
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track

# below this many never-polled batches a sweep is not tried: its first page is a gamble of one
# request, and a handful of IDs a reload adds is usually brand new, on the sweep's last page
MIN_SWEEP = 10


@dataclass(frozen=True, slots=True)
class Hint:
    """What a listing (discovery's) showed of a batch not polled yet: its queue and creation time."""

    queue: str | None
    create_time: int | None


@dataclass(frozen=True, slots=True)
class SweepRules:
    """Where never-polled batches are looked for: these queues (none: every queue), created within the look-back."""

    queues: tuple[str, ...] = ()
    # 0 turns the sweep off: never-polled batches are read by details
    lookback_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ListRead:
    """One run of list pages: its filters, and the due batches it should find."""

    filters: tuple[tuple[str, str], ...]
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CyclePlan:
    """The list reads of one cycle, in order, and the batches that go to details whatever the pages say."""

    reads: tuple[ListRead, ...]
    details: tuple[str, ...]


def hint_of(snap: Snapshot) -> Hint:
    """The hint a listed batch leaves for its first poll."""
    return Hint(snap.queue, snap.create_time)


def sweep_start_ms(now: float, lookback_seconds: float) -> int:
    """The creation time (epoch ms) a sweep reads from: the look-back before ``now``, never before the epoch."""
    return max(0, math.floor((now - lookback_seconds) * 1000))


def pages_left(total: int, page_size: int, max_pages: int, started: int) -> int:
    """Pages of a read not started yet: as many as ``total`` claims, at most ``max_pages`` in all."""
    return max(0, min(-(-total // page_size), max_pages) - started)


def worth_reading(left: int, missing: int) -> bool:
    """Whether to read another page: some are left, and they cost no more than details for the batches missing."""
    return 0 < left <= missing


def _where(track: Track | None, hint: Hint | None) -> Hint | None:
    """A batch's queue and creation time as far as known: from its last answer, else from a hint; None if unseen."""
    if track is not None and track.presence == "present" and track.snapshot is not None:
        return hint_of(track.snapshot)
    if (track is None or track.presence == "pending") and hint is not None:
        return hint
    return None


def never_polled(track: Track | None) -> bool:
    """Whether a batch has had no answer yet (its queue is unknown unless a listing hinted it)."""
    return track is None or track.presence == "pending"


def _earliest(times: list[int]) -> int | None:
    return min(times) if times else None


def plan_cycle(
    due: Collection[str],
    tracks: Mapping[str, Track],
    hints: Mapping[str, Hint],
    flavor: Flavor,
    rules: SweepRules,
    now: float,
) -> CyclePlan:
    """The reads and details of one list-mode cycle over the ``due`` batches (``now``: wall seconds)."""
    groups: dict[str, list[str]] = {}
    created: dict[str, list[int]] = {}
    unknown: list[str] = []
    details: list[str] = []
    for bid in due:
        track = tracks.get(bid)
        where = _where(track, hints.get(bid))
        if where is None:
            (unknown if never_polled(track) else details).append(bid)
        elif flavor.lists_by_queue and not where.queue:
            details.append(bid)  # no queue filter finds it in steady state
        else:
            queue = (where.queue or "") if flavor.lists_by_queue else ""
            groups.setdefault(queue, []).append(bid)
            if where.create_time:
                created.setdefault(queue, []).append(where.create_time)
    sweep = len(unknown) >= MIN_SWEEP and rules.lookback_seconds > 0
    if sweep and not flavor.lists_by_queue:
        # Livy lists every batch in one order, with no filter to narrow it: one read finds them all
        groups.setdefault("", []).extend(unknown)
    elif not sweep:
        details += unknown
    reads = [
        ListRead(_pairs(flavor.list_filters(q, _earliest(created.get(q, [])))), tuple(groups[q]))
        for q in sorted(groups)
    ]
    if sweep and flavor.lists_by_queue:
        start = sweep_start_ms(now, rules.lookback_seconds)
        reads += [ListRead(_pairs(flavor.sweep_filters(q, start)), tuple(unknown)) for q in rules.queues or ("",)]
    return CyclePlan(tuple(reads), tuple(details))


def _pairs(filters: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(filters.items()))
