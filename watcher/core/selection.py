"""Which batches to read and which to keep: discovery's matching and choosing, list mode's grouping by queue."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Protocol

from watcher.core import states

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from watcher.core.flavor import Flavor
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track

# a discovery cycle reads newest first and stops after this many times the batches it may keep:
# deeper pages are older batches, and a server claiming a huge total must not get a request storm
SCAN_FACTOR = 10


class DiscoveryRules(Protocol):
    """What discovery matches on (the [discovery] settings)."""

    @property
    def queues(self) -> tuple[str, ...]: ...  # noqa: D102
    @property
    def job_name(self) -> str: ...  # noqa: D102
    @property
    def owner(self) -> str: ...  # noqa: D102
    @property
    def created_after_ms(self) -> int | None: ...  # noqa: D102
    @property
    def max_batches(self) -> int: ...  # noqa: D102


def matches(snap: Snapshot, rules: DiscoveryRules) -> bool:
    """Whether a listed batch fits the rules (queue, job-name pattern, owner, created after)."""
    if rules.queues and snap.queue not in rules.queues:
        return False
    if rules.job_name and not fnmatchcase(snap.name or "", rules.job_name):
        return False
    if rules.owner and snap.owner != rules.owner:
        return False
    after = rules.created_after_ms
    return after is None or (snap.create_time is not None and snap.create_time >= after)


def still_relevant(snap: Snapshot, now: float, retention: float) -> bool:
    """Active batches, and finished ones whose last update is within the retention."""
    if not states.is_terminal(snap.state) or snap.update_time is None:
        return True
    return now - snap.update_time / 1000 < retention


def choose(snaps: list[Snapshot], rules: DiscoveryRules, now: float, retention: float) -> list[str]:
    """The IDs to watch among what ``keep_listed`` let through: still relevant, newest first, at most max_batches."""
    keep = [s for s in snaps if still_relevant(s, now, retention)]
    keep.sort(key=lambda s: s.create_time or 0, reverse=True)
    return list(dict.fromkeys(s.batch_id for s in keep))[: rules.max_batches]


def discovery_pages(rules: DiscoveryRules, page_size: int, max_pages: int) -> int:
    """How many pages one discovery cycle may read per queue: enough for SCAN_FACTOR x max_batches, capped."""
    return min(max_pages, SCAN_FACTOR * -(-rules.max_batches // page_size))


def keep_listed(snaps: Collection[Snapshot], rules: DiscoveryRules, flavor: Flavor) -> list[Snapshot]:
    """Listed batches discovery may watch: matching, with an ID the flavor's rule accepts (it goes into URLs)."""
    return [s for s in snaps if matches(s, rules) and flavor.valid_id(s.batch_id)]


def group_by_queue(
    bids: Collection[str], tracks: Mapping[str, Track], flavor: Flavor
) -> tuple[dict[str, list[str]], list[str]]:
    """Batches seen before, by queue (one group where the flavor lists everything); the rest need details."""
    groups: dict[str, list[str]] = {}
    rest = []
    for bid in bids:
        track = tracks.get(bid)
        snap = track.snapshot if track is not None and track.presence == "present" else None
        if snap is None or (flavor.lists_by_queue and not snap.queue):
            rest.append(bid)
        else:
            groups.setdefault((snap.queue or "") if flavor.lists_by_queue else "", []).append(bid)
    return groups, rest


def oldest_created(members: Collection[str], tracks: Mapping[str, Track]) -> int | None:
    """The earliest creation time among the members, where list mode starts reading their queue."""
    created = [
        t.snapshot.create_time for b in members if (t := tracks.get(b)) and t.snapshot and t.snapshot.create_time
    ]
    return min(created) if created else None
