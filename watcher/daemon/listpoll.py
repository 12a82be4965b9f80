"""List polling: read many watched batches through the list endpoint, a page at a time.

One request returns up to ``list_page_size`` batches, so a fleet in one queue costs a few
requests per cycle instead of one per batch. Batches never polled are found by a sweep of the
look-back window (``watcher.core.listplan`` decides what to read); whatever no page returned
falls back to details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import anyio

from watcher.core.listplan import SweepRules, never_polled, pages_left, plan_cycle, worth_reading
from watcher.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Mapping

    from watcher.api.client import ListPage
    from watcher.api.policy import RequestPolicy
    from watcher.config.settings import Config
    from watcher.core.listed import Known
    from watcher.core.listplan import Hint
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track

# a page is ~100 decoded batches; a few in flight keep the request pipeline busy without holding dozens
PAGES_IN_FLIGHT = 4
YIELD_EVERY = 50


class ListApi(Protocol):
    """The list operation of BatchApi."""

    async def list(self, start: int, size: int, /, known: Known | None = None, **filters: str) -> ListPage: ...  # noqa: D102


def sweep_rules(cfg: Config) -> SweepRules:
    """The sweep's queues (``watch.queues``, else discovery's while it is on, else every queue) and look-back."""
    discovery = cfg.discovery
    queues = cfg.watch.queues or (discovery.queues if discovery.enabled else ())
    if cfg.watch.shard_by == "queue":
        mine = cfg.watch.shard.select_queues(queues)
        # no queue of this shard named: no sweep (an empty list would read every queue's batches)
        return SweepRules(mine, cfg.watch.list_lookback if mine else 0.0)
    return SweepRules(queues, cfg.watch.list_lookback)


class ListPoller:
    """One list-mode cycle over the due batches: pages per queue and a sweep, then details for what none returned."""

    def __init__(
        self,
        api: ListApi,
        policy: RequestPolicy,
        poll: Callable[[str, Snapshot | None], Awaitable[None]],
        clock: Callable[[], float],
        *,
        on_bug: Callable[[BaseException], None] = lambda _: None,
        known: Known | None = None,
        take_now: Callable[[str, Snapshot], bool] = lambda *_: False,
    ) -> None:
        self._api, self._policy, self._poll, self._clock = api, policy, poll, clock
        # takes an item that needs no request at once (True), without a coroutine: most of a steady cycle's
        self._take_now = take_now
        self._on_bug = on_bug
        # a batch's kept snapshot, so that an unchanged item is compared, not decoded
        self._known = known
        # where a listing (discovery's) saw batches not polled yet: their first cycle reads that queue
        self._hints: dict[str, Hint] = {}

    def note_hints(self, hints: Mapping[str, Hint], watched: Collection[str], tracks: Mapping[str, Track]) -> None:
        """Take new hints; keep only those of watched batches that were never polled."""
        merged = {**self._hints, **hints}
        self._hints = {b: h for b, h in merged.items() if b in watched and never_polled(tracks.get(b))}

    async def cycle(self, due: list[str], tracks: Mapping[str, Track], cfg: Config) -> None:
        """Poll every due batch once: from the pages of its queue (or of the sweep), else by its details."""
        w = cfg.watch
        plan = plan_cycle(due, tracks, self._hints, cfg.api.flavor_spec, sweep_rules(cfg), self._clock())
        found: set[str] = set()
        for read in plan.reads:
            wanted = {b for b in read.members if b not in found}
            if not wanted:
                continue
            # API errors are handled inside; anything else is a bug, reported, and its pages find nothing
            # (their batches fall back to details)
            try:
                await self._fetch(wanted, found, dict(read.filters), w.list_page_size, w.max_list_pages)
            except Exception as exc:  # noqa: BLE001 - a bug costs one cycle's pages, never the daemon
                self._on_bug(exc)
        listed = dict.fromkeys(b for read in plan.reads for b in read.members)
        await self._details([*plan.details, *(b for b in listed if b not in found)], w.concurrency)

    async def _details(self, batch_ids: list[str], concurrency: int) -> None:
        """Poll each batch by its details, with a fixed set of workers (not a task each: there can be thousands)."""
        pending = iter(batch_ids)

        async def worker() -> None:
            for bid in pending:
                await self._poll(bid, None)

        async with anyio.create_task_group() as workers:
            for _ in range(min(concurrency, len(batch_ids))):
                workers.start_soon(worker)

    async def _fetch(
        self, wanted: set[str], found: set[str], filters: dict[str, str], page_size: int, max_pages: int
    ) -> None:
        """Poll each page's wanted batches as the page arrives, adding them to ``found``.

        Pages are processed one by one rather than gathered, so memory stays at a few pages whatever
        the fleet's size. A failed page just finds nothing (those batches fall back to details). The
        total is the server's word: at most ``max_pages`` pages are read, by a few workers, and
        reading stops once the pages left would cost more than details for the batches not found,
        or a page comes back empty.
        """
        hits = 0

        async def take(page: ListPage) -> None:
            nonlocal hits
            # offsets can shift between pages, so a batch may show up twice: poll it once
            fresh = [s for s in page.sessions if s.batch_id in wanted and s.batch_id not in found]
            found.update(s.batch_id for s in fresh)
            hits += len(fresh)
            take_now = self._take_now
            for n, snap in enumerate(fresh, 1):
                if not take_now(snap.batch_id, snap):
                    await self._poll(snap.batch_id, snap)
                if n % YIELD_EVERY == 0:
                    await anyio.lowlevel.checkpoint()  # a page of unchanged batches never awaits otherwise

        def page(start: int) -> Callable[[], Awaitable[ListPage]]:
            return lambda: self._api.list(start, page_size, self._known, **filters)

        try:
            first = await self._policy.call(page(0))
        except ApiError:
            return
        await take(first)
        started, ended = 1, False

        def next_start() -> int | None:
            nonlocal started
            left = pages_left(first.total, page_size, max_pages, started)
            if ended or not worth_reading(left, len(wanted) - hits):
                return None
            started += 1
            return (started - 1) * page_size

        async def worker() -> None:
            nonlocal ended
            while (start := next_start()) is not None:
                try:
                    listed = await self._policy.call(page(start))
                except ApiError:
                    continue
                if not listed.sessions:
                    ended = True
                    return
                await take(listed)

        async with anyio.create_task_group() as tg:
            for _ in range(PAGES_IN_FLIGHT):
                tg.start_soon(worker)
