"""The daemon: what exists before a run (board, metrics, the way out for events) and ``run``, its one lifecycle.

``run`` builds the run's parts with ``runtime.build_runtime``, starts them, and follows the signals until
SIGTERM/SIGINT (or ``until``); SIGHUP and POST /-/reload reload.
"""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

import anyio

from watcher.api.http import held_secrets
from watcher.core.board import Board
from watcher.core.labels import LabelCap
from watcher.core.recent import Recent
from watcher.core.secrets import SecretMask
from watcher.daemon.exposure import metrics_registry
from watcher.daemon.live import LiveConfig
from watcher.daemon.notify import Notifier
from watcher.daemon.outlet import Outlet
from watcher.daemon.runtime import Basis, build_runtime
from watcher.daemon.signals import follow_signals, stop_after
from watcher.metrics.collectors import BoardCollector, SelfMetrics
from watcher.output.messages import message
from watcher.output.pump import OutputPump, stream_writer
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from watcher.config.settings import Config
    from watcher.core.events import Event
    from watcher.daemon.recorder import Recorder
    from watcher.daemon.runtime import Runtime
    from watcher.daemon.store import Store


class Daemon:
    """One watcher: its board and metrics from the start, its run's parts while it runs."""

    def __init__(
        self,
        cfg: Config,
        reload: Callable[[], Config],
        env: Mapping[str, str],
        on_event: Callable[[Event], None] | None = None,
        *,
        writer: EventWriter | None = None,
        recorder: Recorder | None = None,
        after_start: Callable[[], None] = lambda: None,
    ) -> None:
        board = Board(labels=LabelCap(cfg.metrics.max_label_values))
        stats = SelfMetrics(board)
        writer = writer or EventWriter.for_format(cfg.events.format, cfg.events.level, env=env, time=cfg.events.time)
        # lines leave from a thread of their own: a reader that stops reading never blocks the loop
        pump = OutputPump(stream_writer(writer.stream), cfg.events.buffer_lines, cfg.events.buffer_bytes)
        recent = Recent(describe=message)  # each watched batch's last events, for the status page
        # every secret the process holds, in every shape, from the start (an outbox replayed before the API
        # client exists holds server text too); the API client's, with the live IAM token, once it exists
        mask = SecretMask(held_secrets(cfg, env))
        self.basis = Basis(
            live=LiveConfig(cfg),
            read_config=reload,
            env=env,
            board=board,
            stats=stats,
            registry=metrics_registry(cfg.metrics, stats, BoardCollector(board)),
            recent=recent,
            outlet=Outlet(writer, pump, board, stats, recent, mask, on_event),
            notifier=Notifier(env),
            recorder=recorder,
            after_start=after_start,
        )
        self._runtime: Runtime | None = None  # the running run's parts, for an embedding caller to look at

    @property
    def board(self) -> Board:
        """What the watcher knows of each batch and job."""
        return self.basis.board

    @property
    def stats(self) -> SelfMetrics:
        """The watcher's self-metrics."""
        return self.basis.stats

    @property
    def recent(self) -> Recent:
        """Each watched batch's last events and polls (the status page's)."""
        return self.basis.recent

    @property
    def store(self) -> Store | None:
        """The state file while the watcher runs with one."""
        return self._runtime.store if self._runtime is not None else None

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
        born = time.monotonic()  # watcher.ready says how long the start took
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async with build_runtime(self.basis, born) as runtime:
                self._runtime = runtime
                try:
                    await runtime.start(on_listen)
                    stop = runtime.tg.cancel_scope
                    if until is not None:
                        runtime.tg.start_soon(stop_after, until, stop)
                    if reload_pending():
                        runtime.reloads.hup()
                    runtime.reloads.serve(runtime.tg, runtime.reload)
                    await follow_signals(signals, runtime.reloads, stop)
                finally:
                    self._runtime = None
