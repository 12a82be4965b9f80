"""List polling: read many watched batches through the list endpoint, a page at a time.

One request returns up to ``list_page_size`` batches, so a fleet in one queue costs a few
requests per cycle instead of one per batch. Batches a page did not return fall back to details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import anyio

from watcher.core.selection import group_by_queue, oldest_created
from watcher.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Mapping

    from watcher.api.client import ListPage
    from watcher.api.policy import RequestPolicy
    from watcher.config.settings import Config
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track

# a page is ~100 decoded batches; a few in flight keep the request pipeline busy without holding dozens
PAGES_IN_FLIGHT = 4
YIELD_EVERY = 50


class ListApi(Protocol):
    """The list operation of BatchApi."""

    async def list(self, start: int, size: int, /, **filters: str) -> ListPage: ...  # noqa: D102


class ListPoller:
    """One list-mode cycle over the due batches: pages per queue, then details for what no page returned."""

    def __init__(
        self, api: ListApi, policy: RequestPolicy, poll: Callable[[str, Snapshot | None], Awaitable[None]]
    ) -> None:
        self._api, self._policy, self._poll = api, policy, poll

    async def cycle(self, due: list[str], tracks: Mapping[str, Track], cfg: Config) -> None:
        """Poll every due batch once: through its queue's pages when it was seen before, else its details."""
        flavor, w = cfg.api.flavor_spec, cfg.watch
        groups, rest = group_by_queue(due, tracks, flavor)
        for queue, members in groups.items():
            filters = flavor.list_filters(queue, oldest_created(members, tracks))
            try:
                found = await self._fetch(members, w.list_page_size, w.max_list_pages, filters)
            except Exception:  # noqa: BLE001 - pages we could not handle: their batches fall back to details
                found = set()
            rest += [b for b in members if b not in found]
        # a first cycle can leave thousands here: a fixed set of workers, not a task per batch
        pending = iter(rest)

        async def worker() -> None:
            for bid in pending:
                await self._poll(bid, None)

        async with anyio.create_task_group() as workers:
            for _ in range(min(w.concurrency, len(rest))):
                workers.start_soon(worker)

    async def _fetch(
        self, wanted: Collection[str], page_size: int, max_pages: int, filters: dict[str, str]
    ) -> set[str]:
        """Poll each page's wanted batches as the page arrives; returns the IDs found.

        Pages are processed one by one rather than gathered, so memory stays at a few pages whatever
        the fleet's size. A failed page just finds nothing (those batches fall back to details). The
        total is the server's word: at most ``max_pages`` pages are read, by a few workers, and
        reading stops once every wanted batch is found or a page comes back empty.
        """
        wanted = set(wanted)
        found: set[str] = set()

        async def take(page: ListPage) -> None:
            # offsets can shift between pages, so a batch may show up twice: poll it once
            fresh = [s for s in page.sessions if s.batch_id in wanted and s.batch_id not in found]
            found.update(s.batch_id for s in fresh)
            for n, snap in enumerate(fresh, 1):
                await self._poll(snap.batch_id, snap)
                if n % YIELD_EVERY == 0:
                    await anyio.lowlevel.checkpoint()  # a page of unchanged batches never awaits otherwise

        def page(start: int) -> Callable[[], Awaitable[ListPage]]:
            return lambda: self._api.list(start, page_size, **filters)

        try:
            first = await self._policy.call(page(0))
        except ApiError:
            return found
        await take(first)
        starts = iter(range(page_size, min(first.total, page_size * max_pages), page_size))

        async def worker() -> None:
            for start in starts:
                if len(found) >= len(wanted):
                    return
                try:
                    listed = await self._policy.call(page(start))
                except ApiError:
                    continue
                if not listed.sessions:
                    return
                await take(listed)

        async with anyio.create_task_group() as tg:
            for _ in range(PAGES_IN_FLIGHT):
                tg.start_soon(worker)
        return found
