"""The composition root: builds the client, board, store, metrics and poller, and runs them in one task group."""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from prometheus_client import CollectorRegistry, disable_created_metrics

from watcher import __version__
from watcher.api.auth import build_auth, scrubber
from watcher.api.client import BatchApi
from watcher.api.transport import ApiClient, build_transport
from watcher.core.board import Board
from watcher.core.events import Event
from watcher.core.shard import parse_shard
from watcher.daemon.discovery import choose, discover
from watcher.daemon.journal import Journal
from watcher.daemon.notify import Notifier
from watcher.daemon.poller import Poller
from watcher.daemon.store import Store
from watcher.errors import ApiError, ConfigError
from watcher.metrics.collectors import BoardCollector, SelfMetrics
from watcher.metrics.exposition import BatchText
from watcher.metrics.server import make_app, serve
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping

    from anyio.abc import TaskGroup

    from watcher.config.settings import Config

STOP_GRACE_SECONDS = 5.0


@asynccontextmanager
async def http_client(cfg: Config) -> AsyncIterator[httpx.AsyncClient]:
    """The API client with the configured auth; IAM token requests use a plain client of their own."""
    limits = httpx.Limits(max_connections=cfg.watch.concurrency, max_keepalive_connections=cfg.watch.concurrency)
    headers = {"User-Agent": f"dli-watcher/{__version__}"}
    transport = build_transport(cfg.api.transport, limits=limits, verify=cfg.api.verify_tls)
    async with (
        httpx.AsyncClient(timeout=cfg.api.timeout_seconds, verify=cfg.api.verify_tls, headers=headers) as iam,
        ApiClient(
            auth=build_auth(cfg.api, cfg.auth, iam),
            timeout=cfg.api.timeout_seconds,
            transport=transport,
            headers=headers,
        ) as client,
    ):
        yield client


def owned(cfg: Config, discovered: Iterable[str] = ()) -> list[str]:
    """The configured and discovered batch IDs that belong to this process's shard."""
    return parse_shard(cfg.watch.shard, {}).select(dict.fromkeys([*cfg.watch.batch_ids, *discovered]))


class Daemon:
    """One running watcher: its board, store, poller and the events they produce."""

    def __init__(
        self,
        cfg: Config,
        reload: Callable[[], Config],
        env: Mapping[str, str],
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.cfg, self._reload = cfg, reload
        self.board = Board()
        self.registry = CollectorRegistry()
        self.stats = SelfMetrics(self.registry, self.board)
        self._on_event = on_event
        self.writer = EventWriter(on_event=self._count)
        self.notifier = Notifier(env)
        self.store: Store | None = None
        self._discovered: list[str] = []

    def _say(self, name: str, fields: dict[str, Any], level: str = "info") -> None:
        """Write one of the watcher's own events (no batch, no seq)."""
        self.writer.write([Event(name, level, fields=fields)])

    def _count(self, event: Event) -> None:
        self.stats.event(event)
        if self._on_event is not None:
            self._on_event(event)

    async def open_store(self) -> dict[int, Event]:
        """Load the state file (in a worker thread); a damaged one is reported and moved aside."""
        if not self.cfg.state.path:
            return {}
        store, problem = await anyio.to_thread.run_sync(Store.open, self.cfg.state.path)
        self.store = store
        if problem is not None:
            self._say("watcher.state_reset", level="warning", fields={"reason": problem.reason, "kept": problem.kept})
        loaded = await anyio.to_thread.run_sync(store.load)
        if loaded.bad:
            self._say("watcher.state_reset", level="warning", fields={"reason": "undecodable rows", "rows": loaded.bad})
        self.board.tracks, self.board.jobs = loaded.tracks, loaded.jobs
        if self.cfg.discovery.enabled:
            # keep what earlier runs discovered until this run's first discovery decides
            static = set(self.cfg.watch.batch_ids)
            self._discovered = [b for b in loaded.tracks if b not in static]
        return loaded.outbox

    def _healthy(self) -> bool:
        # the scheduler stamps progress at least every second; three intervals of silence is a hang
        stale = max(30.0, 3 * self.cfg.watch.interval_seconds)
        return time.time() - self.board.last_progress < stale

    def _not_ready(self) -> str | None:
        if not self.board.ready:
            return "first poll cycle not done"
        if self.board.throttled(time.time()):
            # readiness, not liveness: a restart would not make DLI throttle any less
            return "throttled by the API"
        return None

    def _on_progress(self, now: float) -> None:
        self.board.last_progress = now
        self.notifier.progress(now, self._status)

    def _render_batches(self, text: BatchText, poller: Poller) -> str:
        return text.render(list(self.board.tracks.values()), time.time(), poller.timing)

    def _status(self) -> str:
        ok = sum(1 for t in self.board.tracks.values() if t.up)
        return f"watching {len(self.board.tracks)} batches, {ok} up"

    async def reload(self, poller: Poller) -> None:
        """SIGHUP: re-read the config and the batch IDs; keep the old config if the new one is bad."""
        try:
            # config, ID and secret files are read in a worker thread, never on the loop
            new = await anyio.to_thread.run_sync(self._reload)
        except ConfigError as exc:
            self._say("watcher.reload_failed", level="error", fields={"key": exc.key, "message": exc.problem})
            return
        poller.configure(new)
        self.cfg = new
        added, removed = self._rewatch(poller)
        self._say(
            "watcher.reloaded",
            {
                "version": __version__,
                "batches": len(owned(new, self._discovered)),
                "added": added,
                "removed": removed,
            },
        )

    async def run(
        self,
        *,
        until: Callable[[], Awaitable[None]] | None = None,
        on_listen: Callable[[str, int], None] | None = None,
    ) -> None:
        """Run until SIGTERM/SIGINT (or ``until`` returns); SIGHUP reloads."""
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client
        # a scrape renders in a worker thread; a short switch interval lets the loop get the GIL back quickly
        sys.setswitchinterval(0.001)
        outbox = await self.open_store()
        self.journal = Journal(self.store, self.board, self.writer.write)
        await self.journal.replay(outbox)
        async with http_client(self.cfg) as http:
            api = BatchApi(http, self.cfg.api, scrubber(self.cfg.auth, http.auth))
            poller = Poller(api, self.cfg, self.board, self.journal.submit, self.stats)
            self.registry.register(BoardCollector(self.board))
            self._batch_text = partial(self._render_batches, BatchText(), poller)
            poller.on_progress = self._on_progress
            poller.on_ready = lambda: self.notifier.send("READY=1", "STATUS=first poll cycle done")
            try:
                async with anyio.create_task_group() as tg:
                    await self._start(tg, poller, on_listen)
                    if self.cfg.discovery.enabled:
                        tg.start_soon(self._discover, poller, api)
                    if until is not None:
                        tg.start_soon(self._stop_after, until, tg)
                    await self._signals(tg, poller)
            finally:
                await self._shutdown()

    async def _start(self, tg: TaskGroup, poller: Poller, on_listen: Callable[[str, int], None] | None) -> None:
        app = make_app(self.registry, self._batch_text, self._healthy, self._not_ready)
        host, port = await tg.start(serve, self.cfg.metrics.host, self.cfg.metrics.port, app)
        if on_listen is not None:
            on_listen(host, port)
        added, _ = self._rewatch(poller)
        self._say(
            "watcher.started",
            {
                "version": __version__,
                "batches": len(added),
                "listen": f"{host}:{port}",
                "shard": self.cfg.watch.shard or "0/1",
                "pid": os.getpid(),
            },
        )
        tg.start_soon(poller.run, tg)
        tg.start_soon(self.journal.run)

    def _rewatch(self, poller: Poller) -> tuple[list[str], list[str]]:
        added, removed = poller.watch(owned(self.cfg, self._discovered))
        self.journal.forget(removed)
        return added, removed

    async def _discover(self, poller: Poller, api: BatchApi) -> None:
        """Every discovery interval: list the matching batches and watch exactly those (plus the listed IDs)."""
        rules = self.cfg.discovery
        while True:
            try:
                w, flavor = self.cfg.watch, self.cfg.api.flavor
                found = await discover(api, poller.request, rules, flavor, w.list_page_size, w.max_list_pages)
            except ApiError as exc:
                fields = {"reason": exc.reason, "status_code": exc.status_code, "message": exc.message}
                self._say("watcher.discovery_failed", level="warning", fields=fields)
            else:
                self._discovered = choose(found, rules, time.time(), self.cfg.watch.retention_seconds)
                self._rewatch(poller)
            await anyio.sleep(rules.interval_seconds)

    async def _stop_after(self, until: Callable[[], Awaitable[None]], tg: TaskGroup) -> None:
        await until()
        tg.cancel_scope.cancel()

    async def _signals(self, tg: TaskGroup, poller: Poller) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    await self.reload(poller)
                else:
                    tg.cancel_scope.cancel()
                    return

    async def _shutdown(self) -> None:
        with anyio.move_on_after(STOP_GRACE_SECONDS, shield=True):
            await self.journal.commit()
            if self.store is not None:
                await anyio.to_thread.run_sync(self.store.close)
        self._say("watcher.stopped", {"version": __version__, "batches": len(self.board.tracks)})
        self.notifier.send("STOPPING=1")
        self.notifier.close()
