"""Discovery: every interval, list the batches matching the [discovery] rules and report the IDs to watch.

The list endpoint is read newest first, and a cycle stops after enough pages for the batches it
may keep. Finished batches drop out after the retention, so they leave the watch set and the metrics.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio

from watcher.core.selection import chosen, discovery_pages, keep_listed
from watcher.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from watcher.api.client import ListPage
    from watcher.api.policy import RequestPolicy
    from watcher.config.settings import Config
    from watcher.core.model import Snapshot
    from watcher.daemon.listpoll import ListApi


class Discovery:
    """Finds the batches to watch; ``configure`` takes new rules, which the next cycle uses."""

    def __init__(
        self,
        api: ListApi,
        policy: RequestPolicy,
        cfg: Config,
        *,
        on_found: Callable[[list[Snapshot]], None],
        on_failed: Callable[[ApiError], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api, self._policy, self._cfg = api, policy, cfg
        self._on_found, self._on_failed, self._clock = on_found, on_failed, clock

    def configure(self, cfg: Config) -> None:
        """Take new settings (on reload)."""
        self._cfg = cfg

    async def run(self) -> None:
        """A cycle, then the interval, forever; a failed cycle is reported and the last IDs kept."""
        while True:
            try:
                found = await self.look()
            except ApiError as exc:
                self._on_failed(exc)
            else:
                self._on_found(found)
            await anyio.sleep(self._cfg.discovery.interval_seconds)

    async def cycle(self) -> list[str]:
        """The IDs to watch now: matching, still relevant, newest first, at most ``max_batches``."""
        return [s.batch_id for s in await self.look()]

    async def look(self) -> list[Snapshot]:
        """The batches to watch now, as listed (their queue tells list mode where to read them first)."""
        cfg = self._cfg
        listed = await self._list(cfg)
        return chosen(listed, cfg.discovery, self._clock(), cfg.watch.retention_seconds)

    async def _list(self, cfg: Config) -> list[Snapshot]:
        """Matching listed batches of each configured queue (every queue when none is named)."""
        rules, flavor, size = cfg.discovery, cfg.api.flavor_spec, cfg.watch.list_page_size
        pages = discovery_pages(rules, size, cfg.watch.max_list_pages)
        found: list[Snapshot] = []
        for queue in rules.queues or ("",):
            filters = flavor.discovery_filters(queue, rules.created_after_ms)
            for n in range(pages):
                listed = await self._policy.call(self._page(n * size, size, filters))
                found += keep_listed(listed.sessions, rules, flavor)
                if len(found) >= rules.max_batches or not listed.sessions or (n + 1) * size >= listed.total:
                    break
        return found

    def _page(self, start: int, size: int, filters: dict[str, str]) -> Callable[[], Awaitable[ListPage]]:
        return lambda: self._api.list(start, size, **filters)
