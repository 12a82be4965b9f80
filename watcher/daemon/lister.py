"""List polling: read many watched batches through the list endpoint, a page at a time.

One request returns up to ``list_page_size`` batches, so a fleet in one queue costs a few
requests per cycle instead of one per batch. Batches a page did not return fall back to details.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

import anyio

from watcher.errors import ApiError

if TYPE_CHECKING:
    from watcher.api.client import ListPage
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track

T = TypeVar("T")
# a page is ~100 decoded batches; a few in flight keep the request pipeline busy without holding dozens
PAGES_IN_FLIGHT = 4
Request = Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]


class ListApi(Protocol):
    """The list operation of BatchApi."""

    async def list(self, start: int, size: int, /, **filters: str) -> ListPage: ...  # noqa: D102


def group_by_queue(
    bids: Collection[str], tracks: Mapping[str, Track], flavor: str
) -> tuple[dict[str, list[str]], list[str]]:
    """Batches seen before, by queue (Livy: one group, it lists everything); the rest need details."""
    groups: dict[str, list[str]] = {}
    rest = []
    for bid in bids:
        track = tracks.get(bid)
        snap = track.snapshot if track is not None and track.presence == "present" else None
        if snap is None or (flavor == "dli" and not snap.queue):
            rest.append(bid)
        else:
            groups.setdefault(snap.queue or "" if flavor == "dli" else "", []).append(bid)
    return groups, rest


def list_filters(flavor: str, queue: str, members: Collection[str], tracks: Mapping[str, Track]) -> dict[str, str]:
    """DLI: this queue, oldest first, created no earlier than the oldest member (stable page offsets)."""
    if flavor != "dli":
        return {}
    created = [
        t.snapshot.create_time for b in members if (t := tracks.get(b)) and t.snapshot and t.snapshot.create_time
    ]
    filters = {"queue_name": queue, "order": "CREATE_TIME_ASC"}
    if created:
        filters["start"] = str(min(created))
    return filters


async def fetch_listed(
    api: ListApi,
    request: Request[ListPage],
    wanted: Collection[str],
    page_size: int,
    max_pages: int,
    filters: dict[str, str],
    on_found: Callable[[list[Snapshot]], Awaitable[None]],
) -> set[str]:
    """Hand each page's wanted batches to ``on_found`` as the page arrives; returns the IDs found.

    Pages are processed one by one rather than gathered, so memory stays at a few pages whatever
    the fleet's size. A failed page just finds nothing (those batches fall back to details). The
    total is the server's word: at most ``max_pages`` pages are read, by a few workers, and
    reading stops once every wanted batch is found or a page comes back empty.
    """
    wanted = set(wanted)
    found: set[str] = set()

    async def take(page: ListPage) -> None:
        # offsets can shift between pages, so a batch may show up twice: hand it over once
        fresh = [s for s in page.sessions if s.batch_id in wanted and s.batch_id not in found]
        found.update(s.batch_id for s in fresh)
        await on_found(fresh)

    try:
        first = await request(lambda: api.list(0, page_size, **filters))
    except ApiError:
        return found
    await take(first)
    starts = iter(range(page_size, min(first.total, page_size * max_pages), page_size))

    async def worker() -> None:
        for start in starts:
            if len(found) >= len(wanted):
                return
            try:
                page = await request(lambda s=start: api.list(s, page_size, **filters))  # type: ignore[misc]
            except ApiError:
                continue
            if not page.sessions:
                return
            await take(page)

    async with anyio.create_task_group() as tg:
        for _ in range(PAGES_IN_FLIGHT):
            tg.start_soon(worker)
    return found
