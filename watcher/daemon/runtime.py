"""The composition root: one async context manager builds every part of a run in order and tears it down in reverse.

``build_runtime`` yields a frozen ``Runtime``: the parts, each given what it needs at construction.
``Runtime.start`` serves and polls; ``Runtime.reload`` applies a new config to it.
"""

from __future__ import annotations

import os
import time
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import anyio

from watcher import __version__
from watcher.api.http import open_api
from watcher.api.policy import RequestPolicy
from watcher.core.plural import plural
from watcher.daemon.bugs import BugReporter
from watcher.daemon.codec import encode_track
from watcher.daemon.conditions import Conditions, StateWrites
from watcher.daemon.counted import CountedApi
from watcher.daemon.discovery import Discovery, DiscoverySwitch
from watcher.daemon.journal import Journal
from watcher.daemon.poller import Clocks, Poller, PollerHooks
from watcher.daemon.ready import FirstCycle
from watcher.daemon.reload import page_access, reload, say_deprecations
from watcher.daemon.results import Results
from watcher.daemon.serving import Watched, endpoints
from watcher.daemon.shutdown import Ending, drained_at_exit
from watcher.daemon.signals import ReloadRequests
from watcher.daemon.store import Store
from watcher.daemon.watchlist import Watchlist
from watcher.web.server import MetricsServer, bind
from watcher.web.webconfig import load_web_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

    from anyio.abc import TaskGroup
    from prometheus_client import CollectorRegistry

    from watcher.api.client import BatchApi
    from watcher.config.settings import Config
    from watcher.core.board import Board
    from watcher.core.events import Event
    from watcher.core.recent import Recent
    from watcher.daemon.live import LiveConfig
    from watcher.daemon.notify import Notifier
    from watcher.daemon.outlet import Outlet
    from watcher.daemon.recorder import Recorder
    from watcher.metrics.collectors import SelfMetrics


@dataclass(frozen=True, slots=True)
class Basis:
    """What exists before a run: the config, the board and its metrics, the way out for events, the recording."""

    live: LiveConfig
    read_config: Callable[[], Config]  # a reload's new config (raises ConfigError)
    env: Mapping[str, str]  # proxies and default CAs come from it too
    board: Board
    stats: SelfMetrics
    registry: CollectorRegistry
    recent: Recent
    outlet: Outlet
    notifier: Notifier
    recorder: Recorder | None  # every API exchange and clock reading, for a replay
    # the process's own step once the first cycle is done (the ``run`` command's: what the start left in memory)
    after_start: Callable[[], None] = lambda: None


@dataclass(frozen=True, slots=True)
class Runtime:
    """One run's parts, as ``build_runtime`` built them."""

    basis: Basis
    store: Store | None
    journal: Journal
    conditions: Conditions
    policy: RequestPolicy
    api: BatchApi
    poller: Poller
    watchlist: Watchlist
    discovery: DiscoverySwitch
    server: MetricsServer
    reloads: ReloadRequests
    tg: TaskGroup
    started: anyio.Event  # set once watcher.started is said: from then on a crash is said too

    async def reload(self) -> str | None:
        """Re-read the config and apply it (``watcher.reloaded``); a bad one's error line (None: reloaded)."""
        return await reload(self)

    async def start(self, on_listen: Callable[[str, int], None] | None = None) -> None:
        """Serve, say ``watcher.started``, then poll, commit, write and discover in the task group."""
        tg, cfg, say = self.tg, self.basis.live.cfg, self.basis.outlet.say
        host, port = await tg.start(self.server.run)
        if on_listen is not None:
            on_listen(host, port)
        added, _ = self.watchlist.rewatch()
        shard = str(cfg.watch.shard)
        fields = {"version": __version__, "batches": len(added), "listen": f"{host}:{port}", "shard": shard}
        say("watcher.started", {**fields, "pid": os.getpid()})
        say_deprecations(say, cfg)
        if not added and not cfg.discovery.enabled:  # an empty batch IDs file is a normal first state
            fields = {"batch_ids_file": cfg.watch.batch_ids_file or None, "shard": shard}
            say("watcher.nothing_to_watch", fields, level="warning")
        self.started.set()
        tg.start_soon(self.poller.run, tg)
        tg.start_soon(self.journal.run)
        tg.start_soon(self.basis.outlet.pump.run)
        self.discovery.apply(tg, cfg)


async def open_store(basis: Basis) -> tuple[Store | None, dict[int, Event], list[str]]:
    """Open and load the state file (in worker threads): the store, its outbox, what earlier runs discovered."""
    cfg, say = basis.live.cfg, basis.outlet.say
    state = cfg.state
    if not state.path:
        return None, {}, []
    waiting = partial(
        anyio.from_thread.run_sync,
        say,
        "watcher.state_locked",
        {"path": state.path, "wait_seconds": state.lock_wait_seconds},
        "warning",
    )
    opening = partial(Store.open, state.path, on_wait=waiting, wait_seconds=state.lock_wait_seconds)
    store, problem = await anyio.to_thread.run_sync(opening)
    if problem is not None:
        say("watcher.state_reset", level="warning", fields={"reason": problem.reason, "kept": problem.kept})
    loaded = await anyio.to_thread.run_sync(store.load)
    if loaded.bad:
        say("watcher.state_reset", level="warning", fields={"reason": "undecodable rows", "rows": loaded.bad})
    if loaded.skipped_outbox:
        # reported once; the rows stay until the next acknowledged write deletes them with the rest
        skipped = {"path": state.path, "table": "outbox", "rows": loaded.skipped_outbox}
        say("watcher.state_row_skipped", level="warning", fields=skipped)
    basis.board.restore(loaded.tracks, loaded.jobs, loaded.histograms)
    discovered: list[str] = []
    if cfg.discovery.enabled:
        # keep what earlier runs discovered until this run's first discovery decides
        static = set(cfg.watch.batch_ids)
        discovered = [b for b in loaded.tracks if b not in static]
    return store, loaded.outbox, discovered


@dataclass(frozen=True, slots=True)
class Kept:
    """The state file's side of a run: the store, the journal over it, what it holds back, where results go."""

    store: Store | None
    journal: Journal
    conditions: Conditions
    results: Results
    discovered: list[str]  # what earlier runs discovered, watched until this run's first discovery decides


async def open_journal(basis: Basis) -> Kept:
    """Open the state file, replay its outbox, and settle what became final while the watcher was away."""
    cfg, board, stats, outlet, recorder = basis.live.cfg, basis.board, basis.stats, basis.outlet, basis.recorder
    store, outbox, discovered = await open_store(basis)
    state_path = store.path if store is not None else cfg.state.path
    on_state_error = StateWrites(stats, outlet.say, state_path)
    journal = Journal(store, board, outlet.write, output=outlet.pump, on_state_error=on_state_error)
    conditions = Conditions(
        board, stats, outlet.pump, outlet.say, held=lambda: journal.held, per_batch=cfg.metrics.per_batch
    )
    await journal.replay(outbox)
    wall = recorder.wall if recorder is not None else time.time
    results = Results(basis.live, board, journal, basis.recent, outlet.say, wall)
    results.settle_restored()
    return Kept(store, journal, conditions, results, discovered)


def start_recording(basis: Basis, raw_api: BatchApi) -> Clocks:
    """Start the recording (if any) from the state the run starts with; the clocks the poller reads."""
    recorder, outlet = basis.recorder, basis.outlet
    if recorder is None:
        return Clocks()
    stopped = {"path": recorder.path, "max_bytes": recorder.max_bytes}
    tracks = [encode_track(t) for t in basis.board.tracks.values()]
    recorder.start(
        raw_api.mask,
        {"tracks": tracks},
        on_stopped=lambda why: outlet.say("watcher.recording_stopped", {**stopped, **why}, "warning"),
    )
    return Clocks(wall=recorder.wall)


def polling(
    basis: Basis, kept: Kept, policy: RequestPolicy, raw_api: BatchApi, born: float
) -> tuple[Poller, Watchlist, DiscoverySwitch]:
    """The poller (told of progress, readiness, held polls and bugs), the watch list over it, and discovery."""
    cfg, board, stats, outlet, notifier = basis.live.cfg, basis.board, basis.stats, basis.outlet, basis.notifier
    conditions = kept.conditions
    clocks = start_recording(basis, raw_api)
    api = CountedApi(raw_api, stats.requested)

    def on_progress(now: float) -> None:
        conditions.progress(now)
        notifier.progress(now, partial(status, board))

    ready = FirstCycle(basis.live, board, stats, conditions, notifier, outlet.say, born, basis.after_start)
    hooks = PollerHooks(on_progress, ready, conditions.hold_poll, BugReporter(outlet.say))
    poller = Poller(api, policy, cfg, board, kept.results, stats, hooks=hooks, clocks=clocks)
    watchlist = Watchlist(basis.live, poller, kept.journal, basis.recent, outlet.say, kept.discovered)
    discovery = DiscoverySwitch(
        lambda new: Discovery(api, policy, new, on_found=watchlist.found, on_failed=watchlist.failed),
        on_stopped=watchlist.stopped,
    )
    if cfg.discovery.enabled:
        poller.await_first("discovery")  # the first cycle includes what its first run finds
    return poller, watchlist, discovery


@asynccontextmanager
async def build_runtime(basis: Basis, born: float) -> AsyncIterator[Runtime]:
    """Build a run's parts in order (the listen address first) and close them in reverse; the frozen runtime.

    ``born`` is when the run began (monotonic): watcher.ready says how long the start took.
    """
    cfg, board, outlet = basis.live.cfg, basis.board, basis.outlet
    async with AsyncExitStack() as stack:
        # the address first: a busy port (exit 2) must not get as far as the state file or the API; in worker
        # threads: certificates are files, and when the port is busy finding out who holds it takes a request or two
        web = await anyio.to_thread.run_sync(load_web_config, cfg.metrics.web_config_file)
        sock = await anyio.to_thread.run_sync(bind, cfg.metrics.host, cfg.metrics.port)
        stack.callback(sock.close)
        kept = await open_journal(basis)
        policy = RequestPolicy(cfg.api, cfg.watch.concurrency, on_retry=basis.stats.retried, throttle=board.throttle)
        raw_api = await stack.enter_async_context(open_api(cfg, basis.env, basis.recorder))
        outlet.use_mask(raw_api.mask)
        poller, watchlist, discovery = polling(basis, kept, policy, raw_api, born)
        started = anyio.Event()
        ending = Ending(board, outlet, kept.journal, kept.store, basis.notifier, basis.recorder, started)
        await stack.enter_async_context(drained_at_exit(ending))
        portal = await stack.enter_async_context(anyio.from_thread.BlockingPortal())
        reloads = ReloadRequests(basis.live, portal)
        stack.callback(reloads.close)
        watched = Watched(basis.live, board, poller, kept.conditions, basis.recent, born)
        served = endpoints(watched, basis.registry, reloads.lifecycle, outlet.masked)
        server = MetricsServer(cfg.metrics.host, cfg.metrics.port, served, web, page_access(cfg), sock=sock)
        stack.push_async_callback(anyio.to_thread.run_sync, server.stop)
        tg = await stack.enter_async_context(anyio.create_task_group())
        yield Runtime(
            basis,
            store=kept.store,
            journal=kept.journal,
            conditions=kept.conditions,
            policy=policy,
            api=raw_api,
            poller=poller,
            watchlist=watchlist,
            discovery=discovery,
            server=server,
            reloads=reloads,
            tg=tg,
            started=started,
        )


def status(board: Board) -> str:
    """The unit's STATUS= line."""
    ok = sum(1 for t in board.tracks.values() if t.up)
    return f"watching {plural(len(board.tracks), 'batch')}, {ok} up"
