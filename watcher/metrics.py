"""Prometheus metrics: a collector that reads the Board at scrape time, and the watcher's self-metrics."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from watcher import __version__, states
from watcher.events import NAMES, Event
from watcher.schedule import Timing, retained

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from watcher.board import Board, JobSummary
    from watcher.tracker import Track

REASONS = ("timeout", "connect", "http", "throttled", "auth", "decode")
INFO_LABELS = ("batch_id", "job_name", "queue", "owner", "kind", "sc_type")


def _families() -> dict[str, GaugeMetricFamily]:
    def gauge(name: str, doc: str, labels: tuple[str, ...] = ("batch_id",)) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=list(labels))

    return {
        "info": gauge("dli_batch_info", "Batch metadata that does not change; always 1.", INFO_LABELS),
        "state": gauge("dli_batch_state", "1 for the batch's current state, 0 for the others.", ("batch_id", "state")),
        "created": gauge("dli_batch_created_timestamp_seconds", "When the batch was created (create_time)."),
        "updated": gauge("dli_batch_updated_timestamp_seconds", "The batch's update_time."),
        "age": gauge("dli_batch_update_age_seconds", "Seconds since the batch's update_time, at scrape time."),
        "since": gauge("dli_batch_state_since_timestamp_seconds", "When the current state was first observed."),
        "up": gauge("dli_batch_up", "1 if the last poll of this batch succeeded."),
    }


class BatchCollector(Collector):
    """Builds every per-batch and per-job family from the Board's current snapshot at scrape time."""

    def __init__(self, board: Board, timing: Callable[[], Timing], clock: Callable[[], float] = time.time) -> None:
        self._board, self._timing, self._clock = board, timing, clock

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so registering does not collect."""
        yield from _families().values()
        yield from _job_families({})
        yield transitions_family({})

    def collect(self) -> Iterator[Metric]:
        """One pass over the tracks; a batch that left the board leaves every family with it."""
        now, timing = self._clock(), self._timing()
        fams = _families()
        for track in list(self._board.tracks.values()):
            if track.snapshot is not None and retained(track, now, timing):
                _add_batch(fams, track, now)
        yield from fams.values()
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


def _add_batch(fams: dict[str, GaugeMetricFamily], track: Track, now: float) -> None:
    snap = track.snapshot
    assert snap is not None
    bid = track.batch_id
    info = [bid, snap.name or "", snap.queue or "", snap.owner or "", snap.kind or "", snap.sc_type or ""]
    fams["info"].add_metric(info, 1.0)
    current = states.metric_state(snap.state)
    for state in states.METRIC_STATES:
        fams["state"].add_metric([bid, state], 1.0 if state == current else 0.0)
    if snap.create_time is not None:
        fams["created"].add_metric([bid], snap.create_time / 1000)
    if snap.update_time is not None:
        fams["updated"].add_metric([bid], snap.update_time / 1000)
        fams["age"].add_metric([bid], max(0.0, now - snap.update_time / 1000))
    if track.state_since is not None:
        fams["since"].add_metric([bid], track.state_since)
    fams["up"].add_metric([bid], 1.0 if track.up else 0.0)


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
