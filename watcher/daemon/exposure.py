"""What /metrics exposes, from the config: the registry behind the family filter, and the per-batch view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from watcher.core.states import FLAVOR_STATES
from watcher.metrics.exposition import BatchView
from watcher.metrics.families import FamilyFilter, Filtered

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from watcher.config.settings import Config, MetricsConfig
    from watcher.core.board import Board


def metrics_registry(cfg: MetricsConfig, *collectors: Collector) -> CollectorRegistry:
    """The registry /metrics renders: ours and the client library's process metrics, through the family filter."""
    allowed = FamilyFilter(cfg.metric_allowlist, cfg.metric_denylist)
    registry = CollectorRegistry()
    # the library's collectors register themselves where told: a scratch registry, so only ours holds them
    scratch = CollectorRegistry()
    standard = (ProcessCollector(registry=scratch), PlatformCollector(registry=scratch), GCCollector(registry=scratch))
    for collector in (*collectors, *standard):
        registry.register(Filtered(collector, allowed))
    return registry


def batch_view(cfg: Config, board: Board) -> BatchView:
    """How the per-batch families are rendered, from the config: mode, the flavor's states, the family filter."""
    m = cfg.metrics
    allowed = FamilyFilter(m.metric_allowlist, m.metric_denylist)
    return BatchView(m.per_batch, FLAVOR_STATES[cfg.api.flavor], allowed, board.labels)
