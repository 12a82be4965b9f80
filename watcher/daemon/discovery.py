"""Discovery: watch every batch matching a queue, a job-name pattern, an owner and a creation time.

The list endpoint is read newest first and paging stops once ``max_batches`` matches are found.
Finished batches drop out after the retention, so they leave the watch set and the metrics.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from watcher.config.batchids import valid_batch_id
from watcher.config.settings import created_after_ms
from watcher.core import states

# a discovery cycle reads newest first and stops after this many times the batches it may keep:
# deeper pages are older batches, and a server claiming a huge total must not get a request storm
SCAN_FACTOR = 10

if TYPE_CHECKING:
    from watcher.api.client import ListPage
    from watcher.config.settings import DiscoveryConfig
    from watcher.core.model import Snapshot
    from watcher.daemon.lister import ListApi, Request


def matches(snap: Snapshot, rules: DiscoveryConfig, after_ms: int | None) -> bool:
    """Whether a listed batch fits the rules (queue, job-name pattern, owner, created after)."""
    if rules.queues and snap.queue not in rules.queues:
        return False
    if rules.job_name and not fnmatchcase(snap.name or "", rules.job_name):
        return False
    if rules.owner and snap.owner != rules.owner:
        return False
    return after_ms is None or (snap.create_time is not None and snap.create_time >= after_ms)


def still_relevant(snap: Snapshot, now: float, retention: float) -> bool:
    """Active batches, and finished ones whose last update is within the retention."""
    if not states.is_terminal(snap.state) or snap.update_time is None:
        return True
    return now - snap.update_time / 1000 < retention


def choose(snaps: list[Snapshot], rules: DiscoveryConfig, now: float, retention: float) -> list[str]:
    """The IDs to watch: matching, still relevant, newest first, at most ``max_batches``."""
    after = created_after_ms(rules.created_after)
    keep = [s for s in snaps if matches(s, rules, after) and still_relevant(s, now, retention)]
    keep.sort(key=lambda s: s.create_time or 0, reverse=True)
    return list(dict.fromkeys(s.batch_id for s in keep))[: rules.max_batches]


async def discover(
    api: ListApi, request: Request[ListPage], rules: DiscoveryConfig, flavor: str, page_size: int, max_pages: int
) -> list[Snapshot]:
    """Matching listed batches of the configured queues (all of them when none are named), newest first.

    Each queue is read for at most ``max_pages`` pages and at most ten times ``max_batches``
    batches, whatever total the server claims, and only matching batches with well-formed IDs are
    kept: a listed ID goes into URLs later.
    """
    max_pages = min(max_pages, SCAN_FACTOR * -(-rules.max_batches // page_size))
    after = created_after_ms(rules.created_after)
    found: list[Snapshot] = []
    for queue in rules.queues or ("",):
        filters = {"order": "CREATE_TIME_DESC"} if flavor == "dli" else {}
        if queue and flavor == "dli":
            filters["queue_name"] = queue
        if after is not None and flavor == "dli":
            filters["start"] = str(after)
        for page in range(max_pages):
            start = page * page_size
            listed = await request(lambda s=start, f=filters: api.list(s, page_size, **f))  # type: ignore[misc]
            found += [s for s in listed.sessions if matches(s, rules, after) and valid_batch_id(s.batch_id, flavor)]
            if len(found) >= rules.max_batches or not listed.sessions or start + page_size >= listed.total:
                break
    return found
