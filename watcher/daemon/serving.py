"""What the web server reads from the running watcher: the probes, the /metrics body and the status pages."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher import __version__
from watcher.core.flavor import BY_NAME
from watcher.core.schedule import retained
from watcher.daemon.conditions import healthy
from watcher.daemon.exposure import batch_view
from watcher.metrics.aggregates import aggregate_text
from watcher.metrics.exposition import BatchText
from watcher.web.endpoints import Endpoints
from watcher.web.status.index import About
from watcher.web.status.oncall import PageSettings
from watcher.web.status.pages import StatusPages, StatusSource

if TYPE_CHECKING:
    from collections.abc import Callable

    from prometheus_client import CollectorRegistry

    from watcher.core.board import Board
    from watcher.core.recent import Recent
    from watcher.daemon.conditions import Conditions
    from watcher.daemon.live import LiveConfig
    from watcher.daemon.poller import Poller


@dataclass(frozen=True, slots=True)
class Watched:
    """The running watcher as the endpoints see it (called from the server's threads: reads only)."""

    live: LiveConfig
    board: Board
    poller: Poller
    conditions: Conditions
    recent: Recent
    born: float  # monotonic, when the run began: the status page's uptime

    def healthy(self) -> bool:
        """/healthz: polls are being started."""
        return healthy(self.board, self.poller, self.live.cfg.watch.interval_seconds)

    def about(self) -> About:
        """The watcher as the status page shows it."""
        watch = self.live.cfg.watch
        uptime = time.monotonic() - self.born
        return About(__version__, uptime, str(watch.shard), watch.mode, self.conditions.not_ready(), self.healthy())

    def page_settings(self) -> PageSettings:
        """What the status pages follow of the config (read per page, so a reload applies)."""
        cfg = self.live.cfg
        links = tuple((link.name, link.url) for link in cfg.status.links)
        # the flavor's revival rule: the page's outcome is batch.outcome's decision
        revivable = BY_NAME[cfg.api.flavor].revives_dead
        return PageSettings(cfg.watch.terminal_grace_seconds, revivable, cfg.api.project_id, links)

    def batches(self, text: BatchText) -> str:
        """The per-batch part of /metrics: the batches the schedule still keeps, and the aggregates."""
        now = time.time()
        # which batches still belong in the metrics is a scheduling decision; the exposition only renders
        kept = [t for t in list(self.board.tracks.values()) if retained(t, now, self.poller.timing)]
        return text.render(kept, now) + aggregate_text(text.counts, text.view.allowed)


def endpoints(
    watched: Watched,
    registry: CollectorRegistry,
    lifecycle: Callable[[], Callable[[], str | None] | None],
    mask: Callable[[str], str],
) -> Endpoints:
    """The endpoints over the running watcher; POST /-/reload through ``lifecycle``."""
    source = StatusSource(
        watched.about, lambda: watched.board.tracks, watched.recent, settings=watched.page_settings, mask=mask
    )
    text = BatchText(batch_view(watched.live.cfg, watched.board))
    conditions = watched.conditions
    return Endpoints(
        registry,
        lambda: watched.batches(text),
        watched.healthy,
        conditions.not_ready,
        StatusPages(source),
        lifecycle=lifecycle,
        counts=conditions.readyz_details,
        rendered=conditions.metrics_rendered,
    )
