"""The composition root: builds the client, board, store, metrics, poller and discovery; runs them in one task group.

It owns the daemon's lifecycle (start, reload, signals, shutdown) and nothing else.
"""

from __future__ import annotations

import os
import signal
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
from prometheus_client import CollectorRegistry

from watcher import __version__
from watcher.api.http import open_api
from watcher.api.policy import RequestPolicy
from watcher.core.board import Board
from watcher.core.events import Event
from watcher.core.schedule import retained
from watcher.daemon.discovery import Discovery
from watcher.daemon.journal import Journal
from watcher.daemon.notify import Notifier
from watcher.daemon.poller import Poller, PollerHooks
from watcher.daemon.store import Store
from watcher.errors import ConfigError
from watcher.metrics.collectors import BoardCollector, SelfMetrics
from watcher.metrics.exposition import BatchText
from watcher.metrics.server import make_app, serve
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping

    from anyio.abc import TaskGroup

    from watcher.config.settings import Config
    from watcher.core.vocabulary import EventName, Level
    from watcher.errors import ApiError

STOP_GRACE_SECONDS = 5.0


def owned(cfg: Config, discovered: Iterable[str] = ()) -> list[str]:
    """The configured and discovered batch IDs that belong to this process's shard."""
    return cfg.watch.shard.select(dict.fromkeys([*cfg.watch.batch_ids, *discovered]))


class Daemon:
    """One running watcher: its board, store, poller and the events they produce."""

    def __init__(
        self,
        cfg: Config,
        reload: Callable[[], Config],
        env: Mapping[str, str],
        on_event: Callable[[Event], None] | None = None,
        *,
        writer: EventWriter | None = None,
    ) -> None:
        self.cfg, self._reload = cfg, reload
        self.board = Board()
        self.stats = SelfMetrics(self.board)
        self.registry = CollectorRegistry()
        self.registry.register(self.stats)
        self.registry.register(BoardCollector(self.board))
        self._on_event = on_event
        self._writer = writer or EventWriter.for_format(cfg.events.format, cfg.events.level)
        self.notifier = Notifier(env)
        self._env = env  # proxies and default CAs come from it too
        self.store: Store | None = None
        self._discovered: list[str] = []

    def _say(self, name: EventName, fields: dict[str, Any], level: Level = "info") -> None:
        """Write one of the watcher's own events (no batch, no seq)."""
        self._write([Event(name, level, fields=fields)])

    def _write(self, events: list[Event]) -> None:
        """Write events to the stream, and count each (the self-metrics, the embedding caller)."""
        self._writer.write(events)
        for event in events:
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
        now = time.time()
        # which batches still belong in the metrics is a scheduling decision; the exposition only renders
        return text.render([t for t in list(self.board.tracks.values()) if retained(t, now, poller.timing)], now)

    def _status(self) -> str:
        ok = sum(1 for t in self.board.tracks.values() if t.up)
        return f"watching {len(self.board.tracks)} batches, {ok} up"

    async def reload(self, poller: Poller, policy: RequestPolicy, discovery: Discovery | None) -> None:
        """SIGHUP: re-read the config and the batch IDs; keep the old config if the new one is bad."""
        try:
            # config, ID and secret files are read in a worker thread, never on the loop
            new = await anyio.to_thread.run_sync(self._reload)
        except ConfigError as exc:
            self._say("watcher.reload_failed", level="error", fields={"key": exc.key, "message": exc.problem})
            return
        policy.configure(new.api, new.watch.concurrency)
        poller.configure(new)
        if discovery is not None:
            discovery.configure(new)
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
        reload_pending: Callable[[], bool] = lambda: False,
    ) -> None:
        """Run until SIGTERM/SIGINT (or ``until`` returns); SIGHUP reloads.

        The signal handlers come first: a signal during start-up waits in the receiver (a SIGHUP would
        otherwise kill the process) and is acted on once the watcher has started, as is a reload the
        caller noted before (``reload_pending``).
        """
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            await self._run(signals, until, on_listen, reload_pending)

    async def _run(
        self,
        signals: AsyncIterator[int],
        until: Callable[[], Awaitable[None]] | None,
        on_listen: Callable[[str, int], None] | None,
        reload_pending: Callable[[], bool],
    ) -> None:
        outbox = await self.open_store()
        self.journal = Journal(self.store, self.board, self._write)
        await self.journal.replay(outbox)
        policy = RequestPolicy(
            self.cfg.api, self.cfg.watch.concurrency, on_retry=self.stats.retried, on_throttle=self._throttled
        )
        async with open_api(self.cfg, self._env) as api:
            poller = Poller(
                api,
                policy,
                self.cfg,
                self.board,
                self.journal.submit,
                self.stats,
                hooks=PollerHooks(self._on_progress, self._on_ready),
            )
            self._batch_text = partial(self._render_batches, BatchText(), poller)
            discovery = (
                Discovery(
                    api,
                    policy,
                    self.cfg,
                    on_found=partial(self._discovered_now, poller),
                    on_failed=self._discovery_failed,
                )
                if self.cfg.discovery.enabled
                else None
            )
            try:
                async with anyio.create_task_group() as tg:
                    await self._start(tg, poller, on_listen)
                    if discovery is not None:
                        tg.start_soon(discovery.run)
                    if until is not None:
                        tg.start_soon(self._stop_after, until, tg)
                    if reload_pending():
                        await self.reload(poller, policy, discovery)
                    await self._signals(tg, signals, poller, policy, discovery)
            finally:
                await self._shutdown()

    def _on_ready(self) -> None:
        self.notifier.send("READY=1", "STATUS=first poll cycle done")

    def _throttled(self, until: float) -> None:
        self.board.throttled_until = until

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
                "shard": str(self.cfg.watch.shard),
                "pid": os.getpid(),
            },
        )
        if not added and not self.cfg.discovery.enabled:  # an empty batch IDs file is a normal first state
            fields = {"batch_ids_file": self.cfg.watch.batch_ids_file or None, "shard": str(self.cfg.watch.shard)}
            self._say("watcher.nothing_to_watch", fields, level="warning")
        tg.start_soon(poller.run, tg)
        tg.start_soon(self.journal.run)

    def _rewatch(self, poller: Poller) -> tuple[list[str], list[str]]:
        added, removed = poller.watch(owned(self.cfg, self._discovered))
        self.journal.forget(removed)
        return added, removed

    def _discovered_now(self, poller: Poller, found: list[str]) -> None:
        """Watch exactly the batches discovery found (plus the listed IDs)."""
        self._discovered = found
        self._rewatch(poller)

    def _discovery_failed(self, exc: ApiError) -> None:
        fields = {"reason": exc.reason, "status_code": exc.status_code, "message": exc.message}
        self._say("watcher.discovery_failed", level="warning", fields=fields)

    async def _stop_after(self, until: Callable[[], Awaitable[None]], tg: TaskGroup) -> None:
        await until()
        tg.cancel_scope.cancel()

    async def _signals(
        self,
        tg: TaskGroup,
        signals: AsyncIterator[int],
        poller: Poller,
        policy: RequestPolicy,
        discovery: Discovery | None,
    ) -> None:
        async for signum in signals:
            if signum == signal.SIGHUP:
                await self.reload(poller, policy, discovery)
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
