"""Prometheus metrics: a collector that reads the Board at scrape time, and the watcher's self-metrics."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from watcher import __version__
from watcher.core import states
from watcher.core.events import NAMES, Event

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from watcher.core.board import Board, JobSummary

REASONS = ("timeout", "connect", "http", "throttled", "auth", "decode")


class BoardCollector(Collector):
    """The per-job families and transition counts, from the Board at scrape time.

    The per-batch families are rendered by ``watcher.exposition`` (far faster at scale).
    """

    def __init__(self, board: Board) -> None:
        self._board = board

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so registering does not collect."""
        yield from _job_families({})
        yield transitions_family({})

    def collect(self) -> Iterator[Metric]:
        """Fresh families from the current job summaries and counts."""
        yield from _job_families(self._board.jobs)
        yield transitions_family(self._board.transitions)


def _job_families(jobs: Mapping[str, JobSummary]) -> Iterator[GaugeMetricFamily]:
    success = GaugeMetricFamily(
        "dli_job_last_success_timestamp_seconds", "When a batch of this job name last succeeded.", labels=["job_name"]
    )
    outcome = GaugeMetricFamily(
        "dli_job_last_outcome", "1 for the outcome of the job's last finished batch.", labels=["job_name", "outcome"]
    )
    for job in list(jobs.values()):
        if job.last_success is not None:
            success.add_metric([job.job_name], job.last_success)
        for name in states.OUTCOMES:
            outcome.add_metric([job.job_name, name], 1.0 if job.last_outcome == name else 0.0)
    yield success
    yield outcome


def transitions_family(counts: Mapping[tuple[str, str], int]) -> CounterMetricFamily:
    """dli_batch_transitions_total from the (queue, to_state) counts."""
    # undocumented states share the "unknown" label, so their counts are summed before exposing
    by_label: Counter[tuple[str, str]] = Counter()
    for (queue, to_state), count in list(counts.items()):
        by_label[(queue, states.metric_state(to_state))] += count
    fam = CounterMetricFamily("dli_batch_transitions", "State transitions observed.", labels=["queue", "to_state"])
    for (queue, label), count in sorted(by_label.items()):
        fam.add_metric([queue, label], count)
    return fam


class SelfMetrics:
    """The watcher's own counters and gauges, on the registry it is given."""

    def __init__(self, registry: CollectorRegistry, board: Board) -> None:
        Gauge("dli_watcher_build_info", "The running version; always 1.", ["version"], registry=registry).labels(
            __version__
        ).set(1)
        watched = Gauge("dli_watcher_watched_batches", "Batches currently watched.", registry=registry)
        watched.set_function(lambda: len(board.tracks))
        self.polls = PromCounter("dli_watcher_polls", "Batch polls finished, successful or not.", registry=registry)
        self.failures = PromCounter(
            "dli_watcher_poll_failures", "Polls that failed, by reason.", ["reason"], registry=registry
        )
        for reason in REASONS:
            self.failures.labels(reason)
        self.duration = Histogram(
            "dli_watcher_poll_duration_seconds",
            "Time to poll one batch, retries included.",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        last = Gauge(
            "dli_watcher_last_successful_poll_timestamp_seconds",
            "When a batch poll last succeeded.",
            registry=registry,
        )
        last.set_function(lambda: board.last_successful_poll or 0.0)
        throttled = Gauge(
            "dli_watcher_throttled",
            "1 while the API has paused the whole client (429 / APIG.0308, Retry-After up to the backoff cap).",
            registry=registry,
        )
        throttled.set_function(lambda: 1.0 if board.throttled(time.time()) else 0.0)
        self.events = PromCounter("dli_watcher_events", "Events emitted, by name.", ["event"], registry=registry)
        for name in NAMES:
            self.events.labels(name)
        self.gaps = PromCounter(
            "dli_watcher_log_gaps",
            "Log gaps reported (lines that could not be recovered).",
            registry=registry,
        )

    def poll_done(self, seconds: float, reason: str | None) -> None:
        """Count one finished poll."""
        self.polls.inc()
        self.duration.observe(seconds)
        if reason is not None:
            self.failures.labels(reason).inc()

    def event(self, event: Event) -> None:
        """Count one emitted event."""
        self.events.labels(event.name).inc()
        if event.name == "batch.log_gap":
            self.gaps.inc()
