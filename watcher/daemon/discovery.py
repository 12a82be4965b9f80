"""Discovery: every interval, list the batches matching the [discovery] rules and report the IDs to watch.

The list endpoint is read newest first, and a cycle stops after enough pages for the batches it
may keep. Finished batches drop out after the retention, so they leave the watch set and the metrics.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import anyio

from watcher.core.selection import DiscoveryRules, chosen, discovery_pages, keep_listed
from watcher.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from anyio.abc import TaskGroup

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
        self._wake = anyio.Event()

    def configure(self, cfg: Config) -> None:
        """Take new settings (on reload); new rules start a cycle at once rather than after the interval."""
        rules_changed = cfg.discovery != self._cfg.discovery
        self._cfg = cfg
        if rules_changed:
            self._wake.set()

    async def run(self) -> None:
        """A cycle, then the interval (or new rules), forever; a failed cycle is reported and the last IDs kept."""
        while True:
            self._wake = anyio.Event()
            try:
                found = await to_watch(self._api, self._policy, self._cfg, self._clock())
            except ApiError as exc:
                self._on_failed(exc)
            else:
                self._on_found(found)
            with anyio.move_on_after(self._cfg.discovery.interval_seconds):
                await self._wake.wait()


async def to_watch(api: ListApi, policy: RequestPolicy, cfg: Config, now: float) -> list[Snapshot]:
    """The batches discovery watches at ``now``: matching, still relevant, newest first, at most ``max_batches``.

    Listed (their queue tells list mode where to read them first); ``check`` calls it as a cycle would.
    """
    listed = await _listed(api, policy, cfg)
    return chosen(listed, cfg.discovery, now, cfg.watch.retention_seconds)


async def _listed(api: ListApi, policy: RequestPolicy, cfg: Config) -> list[Snapshot]:
    if cfg.watch.shard_by != "queue":
        return await list_matching(api, policy, cfg, cfg.discovery)
    shard, rules = cfg.watch.shard, cfg.discovery
    if rules.queues:
        # only this shard's queues are read: the other shards' pages are never requested
        rules = dataclasses.replace(rules, queues=shard.select_queues(rules.queues))
        if not rules.queues:
            return []
    # with no queues named, every queue is read and kept only where this shard owns the batch's queue
    return await list_matching(api, policy, cfg, rules, lambda s: shard.owns_queue(s.queue))


async def list_matching(
    api: ListApi,
    policy: RequestPolicy,
    cfg: Config,
    rules: DiscoveryRules,
    also: Callable[[Snapshot], bool] = lambda _: True,
) -> list[Snapshot]:
    """Listed batches matching ``rules`` (and ``also``), newest first per queue (every queue when none is named).

    Used by discovery and by ``ls``; reads at most ``discovery_pages`` pages per queue, whatever total the
    server claims.
    """
    flavor, size = cfg.api.flavor_spec, cfg.watch.list_page_size
    pages = discovery_pages(rules, size, cfg.watch.max_list_pages)
    found: list[Snapshot] = []
    for queue in rules.queues or ("",):
        filters = flavor.discovery_filters(queue, rules.created_after_ms)
        for n in range(pages):
            listed = await policy.call(_page(api, n * size, size, filters))
            found += [s for s in keep_listed(listed.sessions, rules, flavor) if also(s)]
            if len(found) >= rules.max_batches or not listed.sessions or (n + 1) * size >= listed.total:
                break
    return found


def _page(api: ListApi, start: int, size: int, filters: dict[str, str]) -> Callable[[], Awaitable[ListPage]]:
    return lambda: api.list(start, size, None, **filters)


class DiscoverySwitch:
    """Discovery turned on or off while running: its loop runs in a cancel scope of its own in the task group."""

    def __init__(self, make: Callable[[Config], Discovery], on_stopped: Callable[[], None]) -> None:
        self._make, self._on_stopped = make, on_stopped
        self._running: tuple[Discovery, anyio.CancelScope] | None = None

    def apply(self, tg: TaskGroup, cfg: Config) -> None:
        """Start, reconfigure or stop discovery as ``cfg`` says; stopping drops what it found (``on_stopped``)."""
        if cfg.discovery.enabled and self._running is None:
            discovery, scope = self._make(cfg), anyio.CancelScope()
            self._running = (discovery, scope)
            tg.start_soon(self._run, discovery, scope, name="discovery")
        elif cfg.discovery.enabled and self._running is not None:
            self._running[0].configure(cfg)
        elif self._running is not None:
            self._running[1].cancel()
            self._running = None
            self._on_stopped()

    @staticmethod
    async def _run(discovery: Discovery, scope: anyio.CancelScope) -> None:
        with scope:
            await discovery.run()
