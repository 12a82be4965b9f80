"""List mode's plan for a cycle: which list reads should find which batches, and which batches need details.

Batches seen before are read per queue from their oldest creation time. Batches never polled have
no known queue, so they are looked for in one sweep of the look-back window (over the hinted queues,
or all of them). Whatever no page returns falls back to details, and a read stops early once its
remaining pages would cost more requests than the details of the batches it has not found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
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


def never_polled(track: Track | None) -> bool:
    """Whether a batch has had no answer yet (its queue is unknown unless a listing hinted it)."""
    return track is None or track.presence == "pending"


@dataclass(slots=True)
class _Sorted:
    """The due batches sorted out: by known queue (with the oldest creation time), never polled, details only."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    oldest: dict[str, int] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def place(self, bid: str, queue: str, created: int | None) -> None:
        """Put a batch in its queue's group."""
        members = self.groups.get(queue)
        if members is None:
            self.groups[queue] = [bid]
        else:
            members.append(bid)
        if created and created < self.oldest.get(queue, created + 1):
            self.oldest[queue] = created


def _sort_out(due: Collection[str], tracks: Mapping[str, Track], hints: Mapping[str, Hint], flavor: Flavor) -> _Sorted:
    """Each due batch to its queue's group: where its last answer put it, else where a hint did."""
    # inline, no Hint object a batch: this runs for every watched batch of every cycle
    out = _Sorted()
    by_queue = flavor.lists_by_queue
    for bid in due:
        track = tracks.get(bid)
        snap = track.snapshot if track is not None and track.presence == "present" else None
        if snap is not None:
            queue, created = snap.queue, snap.create_time
        else:
            hint = hints.get(bid) if never_polled(track) else None
            if hint is None:
                (out.unknown if never_polled(track) else out.details).append(bid)
                continue
            queue, created = hint.queue, hint.create_time
        if not by_queue:
            out.place(bid, "", created)  # Livy lists everything, in one group
        elif queue:
            out.place(bid, queue, created)
        else:
            out.details.append(bid)  # a DLI batch without a queue: no queue filter finds it
    return out


def sweeps(unknown: int, rules: SweepRules) -> bool:
    """Whether this many never-polled batches are looked for in a sweep rather than read by details."""
    return unknown >= MIN_SWEEP and rules.lookback_seconds > 0


def plan_cycle(
    due: Collection[str],
    tracks: Mapping[str, Track],
    hints: Mapping[str, Hint],
    flavor: Flavor,
    rules: SweepRules,
    now: float,
) -> CyclePlan:
    """The reads and details of one list-mode cycle over the ``due`` batches (``now``: wall seconds)."""
    out = _sort_out(due, tracks, hints, flavor)
    unknown = out.unknown if sweeps(len(out.unknown), rules) else []
    if not unknown:
        out.details += out.unknown
    elif not flavor.lists_by_queue:
        # Livy has no filter to narrow a listing: the one read of every batch finds them too
        out.groups.setdefault("", []).extend(unknown)
        unknown = []
    reads = [
        ListRead(_pairs(flavor.list_filters(q, out.oldest.get(q))), tuple(members))
        for q, members in sorted(out.groups.items())
    ]
    start = sweep_start_ms(now, rules.lookback_seconds)
    if unknown:
        reads += [ListRead(_pairs(flavor.sweep_filters(q, start)), tuple(unknown)) for q in rules.queues or ("",)]
    return CyclePlan(tuple(reads), tuple(out.details))


def _pairs(filters: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(filters.items()))
