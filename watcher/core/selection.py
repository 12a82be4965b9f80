"""Which listed batches discovery keeps: matching, still relevant, newest first, within its caps."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Protocol

from watcher.core import states

if TYPE_CHECKING:
    from collections.abc import Collection

    from watcher.core.flavor import Flavor
    from watcher.core.model import Snapshot

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


def chosen(snaps: list[Snapshot], rules: DiscoveryRules, now: float, retention: float) -> list[Snapshot]:
    """What to watch of what ``keep_listed`` let through: still relevant, newest first, at most max_batches."""
    keep = [s for s in snaps if still_relevant(s, now, retention)]
    keep.sort(key=lambda s: s.create_time or 0, reverse=True)
    first: dict[str, Snapshot] = {}
    for snap in keep:
        first.setdefault(snap.batch_id, snap)  # a batch listed twice (offsets shifted) counts once
    return list(first.values())[: rules.max_batches]


def discovery_pages(rules: DiscoveryRules, page_size: int, max_pages: int) -> int:
    """How many pages one discovery cycle may read per queue: enough for SCAN_FACTOR x max_batches, capped."""
    return min(max_pages, SCAN_FACTOR * -(-rules.max_batches // page_size))


def keep_listed(snaps: Collection[Snapshot], rules: DiscoveryRules, flavor: Flavor) -> list[Snapshot]:
    """Listed batches discovery may watch: matching, with an ID the flavor's rule accepts (it goes into URLs)."""
    return [s for s in snaps if matches(s, rules) and flavor.valid_id(s.batch_id)]
