"""The composition root: builds the client, board, store, metrics, poller and discovery; runs them in one task group.

It owns the daemon's lifecycle (start, reload, signals, shutdown) and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

from watcher import __version__
from watcher.api.http import held_secrets, open_api
from watcher.api.policy import RequestPolicy
from watcher.config.reloadable import restart_required
from watcher.core.board import Board
from watcher.core.flavor import BY_NAME
from watcher.core.labels import LabelCap
from watcher.core.plural import plural
from watcher.core.recent import Recent
from watcher.core.schedule import retained
from watcher.core.secrets import SecretMask
from watcher.daemon.abandon import run_abandonable
from watcher.daemon.bugs import BugReporter
from watcher.daemon.codec import encode_track
from watcher.daemon.conditions import Conditions
from watcher.daemon.counted import CountedApi
from watcher.daemon.discovery import Discovery, DiscoverySwitch
from watcher.daemon.exposure import batch_view, metrics_registry
from watcher.daemon.journal import Journal
from watcher.daemon.live import LiveConfig
from watcher.daemon.notify import Notifier
from watcher.daemon.outlet import Outlet
from watcher.daemon.poller import Clocks, Poller, PollerHooks
from watcher.daemon.ready import FirstCycle
from watcher.daemon.results import Results
from watcher.daemon.shutdown import Ending, drained_at_exit
from watcher.daemon.store import Store
from watcher.daemon.watchlist import Watchlist
from watcher.errors import ConfigError
from watcher.metrics.aggregates import aggregate_text
from watcher.metrics.collectors import BoardCollector, SelfMetrics
from watcher.metrics.exposition import BatchText
from watcher.output.messages import message
from watcher.output.pump import OutputPump, stream_writer
from watcher.output.writer import EventWriter
from watcher.web.access import PageAccess
from watcher.web.endpoints import Endpoints
from watcher.web.server import MetricsServer
from watcher.web.status.index import About
from watcher.web.status.oncall import PageSettings
from watcher.web.status.pages import StatusPages, StatusSource
from watcher.web.webconfig import load_web_config, weakening

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from watcher.api.client import BatchApi
    from watcher.config.settings import Config
    from watcher.core.events import Event
    from watcher.daemon.recorder import Recorder

MAX_LISTED_IDS = 100  # IDs named in watcher.reloaded's added and removed; the counts give the rest


@dataclass(frozen=True, slots=True)
class Running:
    """The parts a reload reconfigures, as the running daemon built them."""

    tg: TaskGroup
    api: BatchApi
    policy: RequestPolicy
    poller: Poller
    discovery: DiscoverySwitch
    watchlist: Watchlist


def page_access(cfg: Config) -> PageAccess:
    """The ``[status]`` rules as the server reads them."""
    return PageAccess(cfg.status.pages, frozenset(cfg.status.allowed_hosts))


def listed_changes(added: list[str], removed: list[str]) -> dict[str, Any]:
    """``watcher.reloaded``'s ID lists: at most ``MAX_LISTED_IDS`` each (100,000 IDs made a 7.8 MB line), and counts."""
    return {
        "added": added[:MAX_LISTED_IDS],
        "removed": removed[:MAX_LISTED_IDS],
        "added_count": len(added),
        "removed_count": len(removed),
        "truncated": len(added) > MAX_LISTED_IDS or len(removed) > MAX_LISTED_IDS,
    }


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
        recorder: Recorder | None = None,
    ) -> None:
        self._live, self._reload = LiveConfig(cfg), reload
        self._recorder = recorder  # every API exchange and clock reading, for a replay
        if recorder is not None:
            stopped = {"path": recorder.path, "max_bytes": recorder.max_bytes}
            recorder.on_stopped = lambda why: self._say("watcher.recording_stopped", {**stopped, **why}, "warning")
        self.board = Board(labels=LabelCap(cfg.metrics.max_label_values))
        self.stats = SelfMetrics(self.board)
        self.registry = metrics_registry(cfg.metrics, self.stats, BoardCollector(self.board))
        self.recent = Recent(describe=message)  # each watched batch's last events, for the status page
        writer = writer or EventWriter.for_format(cfg.events.format, cfg.events.level, env=env, time=cfg.events.time)
        # lines leave from a thread of their own: a reader that stops reading never blocks the loop
        self.pump = OutputPump(stream_writer(writer.stream), cfg.events.buffer_lines, cfg.events.buffer_bytes)
        # every secret the process holds, in every shape, from the start (an outbox replayed before the API
        # client exists holds server text too); the API client's, with the live IAM token, once it exists
        mask = SecretMask(held_secrets(cfg, env))
        self.outlet = Outlet(writer, self.pump, self.board, self.stats, self.recent, mask, on_event)
        self._say = self.outlet.say
        self.conditions = Conditions(self.board, self.stats, self.pump, self._say)
        self.notifier = Notifier(env)
        self._env = env  # proxies and default CAs come from it too
        self.store: Store | None = None
        self.server: MetricsServer | None = None
        self._discovered: list[str] = []
        self._started = anyio.Event()  # from then on a crash is said too
        self._born = time.monotonic()  # run() resets it: watcher.ready says how long the start took
        # POST /-/reload reaches the loop through the portal, once the watcher has started
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._running: Running | None = None
        self._reloading = anyio.Lock()

    @property
    def cfg(self) -> Config:
        """The config in force (a reload replaces it)."""
        return self._live.cfg

    async def open_store(self) -> dict[int, Event]:
        """Load the state file (in a worker thread); a damaged one is reported and moved aside."""
        if not self.cfg.state.path:
            return {}
        state = self.cfg.state
        waiting = partial(
            anyio.from_thread.run_sync,
            self._say,
            "watcher.state_locked",
            {"path": state.path, "wait_seconds": state.lock_wait_seconds},
            "warning",
        )
        opening = partial(Store.open, state.path, on_wait=waiting, wait_seconds=state.lock_wait_seconds)
        store, problem = await anyio.to_thread.run_sync(opening)
        self.store = store
        if problem is not None:
            self._say("watcher.state_reset", level="warning", fields={"reason": problem.reason, "kept": problem.kept})
        loaded = await anyio.to_thread.run_sync(store.load)
        if loaded.bad:
            self._say("watcher.state_reset", level="warning", fields={"reason": "undecodable rows", "rows": loaded.bad})
        if loaded.skipped_outbox:
            # reported once; the rows stay until the next acknowledged write deletes them with the rest
            skipped = {"path": state.path, "table": "outbox", "rows": loaded.skipped_outbox}
            self._say("watcher.state_row_skipped", level="warning", fields=skipped)
        self.board.restore(loaded.tracks, loaded.jobs, loaded.histograms)
        if self.cfg.discovery.enabled:
            # keep what earlier runs discovered until this run's first discovery decides
            static = set(self.cfg.watch.batch_ids)
            self._discovered = [b for b in loaded.tracks if b not in static]
        return loaded.outbox

    def _healthy(self) -> bool:
        return self.conditions.healthy(self.cfg.watch.interval_seconds)

    def _on_progress(self, now: float) -> None:
        self.conditions.progress(now)
        self.notifier.progress(now, self._status)

    def _state_error(self, reason: str | None) -> None:
        self.conditions.state_error(self.store.path if self.store is not None else self.cfg.state.path, reason)

    def _render_batches(self, text: BatchText, poller: Poller) -> str:
        now = time.time()
        # which batches still belong in the metrics is a scheduling decision; the exposition only renders
        kept = [t for t in list(self.board.tracks.values()) if retained(t, now, poller.timing)]
        return text.render(kept, now) + aggregate_text(text.counts, text.view.allowed)

    def _status(self) -> str:
        ok = sum(1 for t in self.board.tracks.values() if t.up)
        return f"watching {plural(len(self.board.tracks), 'batch')}, {ok} up"

    def _lifecycle(self) -> Callable[[], str | None] | None:
        """POST /-/reload's reload (called from the server's worker thread), or None while it is off."""
        if not self.cfg.metrics.enable_lifecycle or self._portal is None or self._running is None:
            return None
        return partial(self._portal.call, self._reload_one, self._running)

    async def _reload_one(self, running: Running) -> str | None:
        """One reload at a time, whether a SIGHUP or POST /-/reload asked for it."""
        async with self._reloading:
            return await self.reload(running)

    async def reload(self, running: Running) -> str | None:
        """SIGHUP: re-read the config and the batch IDs; apply every key that can be, name the others.

        A bad new config is reported and the old one kept; the one-line error is returned (None: reloaded).
        """
        try:
            # config, ID, secret and certificate files are read off the loop, in a thread a SIGTERM can walk
            # away from (a FIFO or a hung mount would otherwise hold the stop up for good)
            new = await run_abandonable(self._reload, "dli-watcher reload")
            web = await run_abandonable(partial(load_web_config, new.metrics.web_config_file), "dli-watcher reload")
        except ConfigError as exc:
            self._say("watcher.reload_failed", level="error", fields={"key": exc.key, "error_message": exc.problem})
            self.stats.reload_ok = False
            return str(exc)
        restart = restart_required(self._live.started, new)
        if self.server is not None and weakening(self.server.web, web) is not None:
            # /metrics keeps the protection it has: lowering it takes a restart, a deliberate act
            web = self.server.web
            restart = list(dict.fromkeys([*restart, "metrics.web_config_file"]))
        # the connection pool was sized at start: more slots than connections would only queue for them
        running.policy.configure(new.api, min(new.watch.concurrency, self._live.started.watch.concurrency))
        running.api.configure(new.api)
        running.poller.configure(new)
        self.outlet.writer.set_level(new.events.level)
        self.pump.limit = new.events.buffer_lines
        self.pump.byte_limit = new.events.buffer_bytes
        if self.server is not None:
            self.server.configure(web, page_access(new))
        self._live.replace(new)
        running.discovery.apply(running.tg, new)
        added, removed = running.watchlist.rewatch()
        self._say(
            "watcher.reloaded",
            {
                "version": __version__,
                "batches": len(running.watchlist.owned()),
                **listed_changes(added, removed),
                "restart_required": restart,
            },
        )
        self._deprecations(new)
        self.stats.reload_ok, self.stats.reload_success_at = True, time.time()
        self.stats.restart_pending = bool(restart)
        return None

    def _deprecations(self, cfg: Config) -> None:
        """One warning per key the config gave by an old name."""
        for old in cfg.deprecated:
            self._say("watcher.deprecated_key", {"key": old.key, "alias": old.alias, "message": old.message}, "warning")

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
        self._born = time.monotonic()
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            await self._run(signals, until, on_listen, reload_pending)

    async def _run(
        self,
        signals: AsyncIterator[int],
        until: Callable[[], Awaitable[None]] | None,
        on_listen: Callable[[str, int], None] | None,
        reload_pending: Callable[[], bool],
    ) -> None:
        # the address first: a busy port (exit 2) must not get as far as the state file or the API
        server = await self._bind()
        try:
            await self._run_bound(server, signals, until, on_listen, reload_pending)
        finally:
            await anyio.to_thread.run_sync(server.stop)

    def _about(self) -> About:
        """The watcher as the status page shows it (called from the render thread: reads only)."""
        watch = self.cfg.watch
        uptime = time.monotonic() - self._born
        return About(__version__, uptime, str(watch.shard), watch.mode, self.conditions.not_ready(), self._healthy())

    def _page_settings(self) -> PageSettings:
        """What the status pages follow of the config (read per page, so a reload applies)."""
        cfg = self.cfg
        links = tuple((link.name, link.url) for link in cfg.status.links)
        # the flavor's revival rule: the page's outcome is batch.outcome's decision
        revivable = BY_NAME[cfg.api.flavor].revives_dead
        return PageSettings(cfg.watch.terminal_grace_seconds, revivable, cfg.api.project_id, links)

    async def _bind(self) -> MetricsServer:
        source = StatusSource(
            self._about, lambda: self.board.tracks, self.recent, settings=self._page_settings, mask=self.outlet.masked
        )
        pages = StatusPages(source)
        endpoints = Endpoints(
            self.registry,
            self._metrics_batches,
            self._healthy,
            self.conditions.not_ready,
            pages,
            lifecycle=self._lifecycle,
            counts=self.conditions.readyz_details,
            rendered=self.conditions.metrics_rendered,
        )
        self.conditions.per_batch = self.cfg.metrics.per_batch
        metrics = self.cfg.metrics
        # in worker threads: certificates are files, and when the port is busy finding out who holds it
        # takes a request or two
        web = await anyio.to_thread.run_sync(load_web_config, metrics.web_config_file)
        serve = partial(MetricsServer, metrics.host, metrics.port, endpoints, web, page_access(self.cfg))
        self.server = await anyio.to_thread.run_sync(serve)
        return self.server

    def _metrics_batches(self) -> str:
        return self._batch_text()

    async def _run_bound(
        self,
        server: MetricsServer,
        signals: AsyncIterator[int],
        until: Callable[[], Awaitable[None]] | None,
        on_listen: Callable[[str, int], None] | None,
        reload_pending: Callable[[], bool],
    ) -> None:
        outbox = await self.open_store()
        self.journal = Journal(
            self.store, self.board, self.outlet.write, output=self.pump, on_state_error=self._state_error
        )
        self.conditions.journal = self.journal
        await self.journal.replay(outbox)
        wall = self._recorder.wall if self._recorder is not None else time.time
        results = Results(self._live, self.board, self.journal, self.recent, self._say, wall)
        results.settle_restored()
        policy = RequestPolicy(
            self.cfg.api, self.cfg.watch.concurrency, on_retry=self.stats.retried, on_throttle=self._throttled
        )
        async with open_api(self.cfg, self._env, self._recorder) as raw_api:
            self.outlet.use_mask(raw_api.mask)
            clocks = Clocks()
            if self._recorder is not None:
                tracks = [encode_track(t) for t in self.board.tracks.values()]
                self._recorder.start(raw_api.mask, {"tracks": tracks})
                clocks = Clocks(wall=self._recorder.wall)
            api = CountedApi(raw_api, self.stats.requested)
            ready = FirstCycle(
                self._live, self.board, self.stats, self.conditions, self.notifier, self._say, self._born
            )
            self.conditions.poller = poller = Poller(
                api,
                policy,
                self.cfg,
                self.board,
                results,
                self.stats,
                hooks=PollerHooks(self._on_progress, ready, self.conditions.hold_poll, BugReporter(self._say)),
                clocks=clocks,
            )
            self._batch_text = partial(self._render_batches, BatchText(batch_view(self.cfg, self.board)), poller)
            watchlist = Watchlist(self._live, poller, self.journal, self.recent, self._say, self._discovered)
            discovery = DiscoverySwitch(
                lambda cfg: Discovery(
                    api,
                    policy,
                    cfg,
                    on_found=watchlist.found,
                    on_failed=watchlist.failed,
                ),
                on_stopped=watchlist.stopped,
            )
            if self.cfg.discovery.enabled:
                poller.await_first("discovery")  # the first cycle includes what its first run finds
            # a buffer of one: SIGHUPs during a reload make one more reload afterwards, not one each
            asks, hups = anyio.create_memory_object_stream[None](1)
            ending = Ending(
                self.board, self.outlet, self.journal, self.store, self.notifier, self._recorder, self._started
            )
            async with drained_at_exit(ending):
                try:
                    async with (
                        anyio.from_thread.BlockingPortal() as portal,
                        anyio.create_task_group() as tg,
                        asks,
                        hups,
                    ):
                        await self._start(tg, server, poller, watchlist, on_listen)
                        discovery.apply(tg, self.cfg)
                        if until is not None:
                            tg.start_soon(self._stop_after, until, tg)
                        if reload_pending():
                            asks.send_nowait(None)
                        self._running = Running(tg, raw_api, policy, poller, discovery, watchlist)
                        self._portal = portal
                        tg.start_soon(self._reloader, hups, self._running)
                        await self._signals(tg, signals, asks)
                finally:
                    self._portal = None

    def _throttled(self, until: float) -> None:
        self.board.throttled_until = until

    async def _start(
        self,
        tg: TaskGroup,
        server: MetricsServer,
        poller: Poller,
        watchlist: Watchlist,
        on_listen: Callable[[str, int], None] | None,
    ) -> None:
        host, port = await tg.start(server.run)
        if on_listen is not None:
            on_listen(host, port)
        added, _ = watchlist.rewatch()
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
        self._deprecations(self.cfg)
        if not added and not self.cfg.discovery.enabled:  # an empty batch IDs file is a normal first state
            fields = {"batch_ids_file": self.cfg.watch.batch_ids_file or None, "shard": str(self.cfg.watch.shard)}
            self._say("watcher.nothing_to_watch", fields, level="warning")
        self._started.set()
        tg.start_soon(poller.run, tg)
        tg.start_soon(self.journal.run)
        tg.start_soon(self.pump.run)

    async def _stop_after(self, until: Callable[[], Awaitable[None]], tg: TaskGroup) -> None:
        await until()
        tg.cancel_scope.cancel()

    async def _signals(self, tg: TaskGroup, signals: AsyncIterator[int], asks: MemoryObjectSendStream[None]) -> None:
        """SIGHUP asks the reloader; SIGTERM/SIGINT stop, even while a reload is stuck."""
        async for signum in signals:
            if signum == signal.SIGHUP:
                with contextlib.suppress(anyio.WouldBlock):
                    asks.send_nowait(None)
            else:
                tg.cancel_scope.cancel()
                return

    async def _reloader(self, hups: MemoryObjectReceiveStream[None], running: Running) -> None:
        """Reloads one at a time, in a task of its own so that the signal loop is never blocked by one."""
        async for _ in hups:
            await self._reload_one(running)
