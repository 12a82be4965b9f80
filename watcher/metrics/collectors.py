"""Prometheus metrics: a collector that reads the Board at scrape time, and the watcher's self-metrics."""

from __future__ import annotations

import platform
import re
import time
from bisect import bisect_left
from collections import Counter
from itertools import accumulate
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from watcher import __version__
from watcher.core import states
from watcher.core.board import DURATION, QUEUE_WAIT
from watcher.core.vocabulary import ENDPOINTS, EVENT_NAMES
from watcher.errors import REASONS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from watcher.core.board import Board, HistogramKey, JobSummary
    from watcher.core.events import Event
    from watcher.core.histogram import Histogram
    from watcher.core.vocabulary import Endpoint
    from watcher.errors import ApiError, FailureReason


class BoardCollector(Collector):
    """The job families and transition counts, from the Board at scrape time.

    The per-batch families are rendered by ``watcher.exposition`` (far faster at scale).
    """

    def __init__(self, board: Board) -> None:
        self._board = board

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so registering does not collect."""
        yield from _job_families({})
        yield from _histograms({})
        yield transitions_family({})

    def collect(self) -> Iterator[Metric]:
        """Fresh families from the current job summaries, histograms and counts."""
        yield from _job_families(self._board.jobs)
        yield from _histograms(self._board.histograms)
        yield transitions_family(self._board.transitions)


def _job_families(jobs: Mapping[str, JobSummary]) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "dli_job_runs",
        "Batches of this job name counted once, with their final outcome.",
        labels=["job_name", "outcome"],
    )
    outcome = GaugeMetricFamily(
        "dli_job_last_outcome", "1 for the outcome of the job's last finished batch.", labels=["job_name", "outcome"]
    )
    stamps = {
        "last_finish": GaugeMetricFamily(
            "dli_job_last_finish_timestamp_seconds", "When a batch of this job name last finished.", labels=["job_name"]
        ),
        "last_success": GaugeMetricFamily(
            "dli_job_last_success_timestamp_seconds",
            "When a batch of this job name last succeeded.",
            labels=["job_name"],
        ),
        "last_failure": GaugeMetricFamily(
            "dli_job_last_failure_timestamp_seconds", "When a batch of this job name last failed.", labels=["job_name"]
        ),
        "last_duration": GaugeMetricFamily(
            "dli_job_last_duration_seconds", "How long the job's last finished batch took.", labels=["job_name"]
        ),
    }
    for job in list(jobs.values()):
        counted = dict(job.runs)
        for name in states.OUTCOMES:
            if job.runs:
                runs.add_metric([job.job_name, name], counted.get(name, 0))
            if job.last_outcome is not None:
                outcome.add_metric([job.job_name, name], 1.0 if job.last_outcome == name else 0.0)
        for attr, family in stamps.items():
            value = getattr(job, attr)
            if value is not None:
                family.add_metric([job.job_name], value)
    yield runs
    yield outcome
    yield from stamps.values()


def _histograms(hists: Mapping[HistogramKey, Histogram]) -> Iterator[Metric]:
    docs = {
        DURATION: ("dli_job_duration_seconds", "How long finished batches took (create to finish), by final outcome."),
        QUEUE_WAIT: ("dli_job_queue_wait_seconds", "Create to first running, for batches seen waiting, by outcome."),
    }
    families = {key: HistogramMetricFamily(name, doc, labels=["queue", "outcome"]) for key, (name, doc) in docs.items()}
    for (kind, queue, outcome), hist in sorted(hists.items()):
        if kind in families:
            families[kind].add_metric([queue, outcome], hist.cumulative(), hist.total)
    yield from families.values()


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


POLL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BUCKET_LABELS = (*(str(b) for b in POLL_BUCKETS), "+Inf")


class SelfMetrics(Collector):
    """The watcher's own counters and gauges, kept as plain numbers and exposed at scrape time.

    Plain numbers rather than client-library metric objects: nothing process-wide (such as
    ``disable_created_metrics``) has to be set for the exposition to leave out ``_created``
    series. Every label value is filled in up front, so a scrape in another thread never sees a
    dict change size.
    """

    def __init__(self, board: Board, clock: Callable[[], float] = time.monotonic) -> None:
        self._board, self._clock = board, clock
        self.polls = 0
        self.failures: dict[str, int] = dict.fromkeys(REASONS, 0)
        self.retries: dict[str, int] = dict.fromkeys(REASONS, 0)
        self.events: dict[str, int] = dict.fromkeys(EVENT_NAMES, 0)
        self.gaps = 0
        self.held_polls = 0
        self.commit_failures = 0
        # refreshed by the daemon on each scheduler pass (at least once a second)
        self.output_backlog = 0
        self.state_writable = True
        self.requests: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        # Prometheus' own reload gauges: the config read at start counts as the first successful load
        self.reload_ok = True
        self.reload_success_at = time.time()
        self.restart_pending = False
        self._buckets = [0] * (len(POLL_BUCKETS) + 1)  # the last one is +Inf
        self._seconds = 0.0

    def poll_done(self, seconds: float, reason: FailureReason | None) -> None:
        """Count one finished poll."""
        self.polls += 1
        self._buckets[bisect_left(POLL_BUCKETS, seconds)] += 1
        self._seconds += seconds
        if reason is not None:
            self.failures[reason] += 1

    def retried(self, err: ApiError) -> None:
        """Count one request that failed and will be tried again."""
        self.retries[err.reason] += 1

    def requested(self, endpoint: Endpoint) -> None:
        """Count one API request (each attempt of a retried call is one)."""
        self.requests[endpoint] += 1

    def event(self, event: Event) -> None:
        """Count one emitted event."""
        self.events[event.name] += 1
        if event.name == "batch.log_gap":
            self.gaps += 1

    def describe(self) -> Iterator[Metric]:
        """The same families as collect: cheap, and registering must not fail."""
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        """Every self-metric family, from the numbers as they are now."""
        board = self._board
        yield build_info()
        yield GaugeMetricFamily("dli_watcher_watched_batches", "Batches currently watched.", value=len(board.tracks))
        yield CounterMetricFamily("dli_watcher_polls", "Batch polls finished, successful or not.", value=self.polls)
        yield _by_label("dli_watcher_poll_failures", "Polls that failed, by reason.", "reason", self.failures)
        yield _by_label(
            "dli_watcher_request_retries",
            "API requests that failed and were retried, by reason.",
            "reason",
            self.retries,
        )
        cumulative = list(accumulate(self._buckets))
        yield HistogramMetricFamily(
            "dli_watcher_poll_duration_seconds",
            "Time to poll one batch, retries included.",
            buckets=list(zip(BUCKET_LABELS, cumulative, strict=True)),
            sum_value=self._seconds,
        )
        yield GaugeMetricFamily(
            "dli_watcher_last_successful_poll_timestamp_seconds",
            "When a batch poll last succeeded.",
            value=board.last_successful_poll or 0.0,
        )
        yield GaugeMetricFamily(
            "dli_watcher_throttled",
            "1 while the API has paused the whole client (429 / APIG.0308, Retry-After up to the backoff cap).",
            value=1.0 if board.throttled(self._clock()) else 0.0,
        )
        yield _by_label(
            "dli_watcher_api_requests", "API requests made (each retry is one), by endpoint.", "endpoint", self.requests
        )
        yield _by_label("dli_watcher_events", "Events emitted, by name.", "event", self.events)
        yield CounterMetricFamily(
            "dli_watcher_log_gaps", "Log gaps reported (lines that could not be recovered).", value=self.gaps
        )
        yield CounterMetricFamily(
            "dli_watcher_polls_held",
            "Polls whose answer was set aside because events could not be committed or written.",
            value=self.held_polls,
        )
        yield CounterMetricFamily(
            "dli_watcher_state_commit_failures",
            "State file commits that failed (and will be retried).",
            value=self.commit_failures,
        )
        yield GaugeMetricFamily(
            "dli_watcher_state_writable",
            "0 while commits to the state file fail (a full disk, a lock); 1 otherwise or without a state file.",
            value=1.0 if self.state_writable else 0.0,
        )
        yield from self._reload_families()
        yield GaugeMetricFamily(
            "dli_watcher_output_backlog_lines",
            "Event lines queued for stdout and not yet written (grows while the reader is not reading).",
            value=self.output_backlog,
        )

    def _reload_families(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "dli_watcher_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            value=1.0 if self.reload_ok else 0.0,
        )
        yield GaugeMetricFamily(
            "dli_watcher_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload (the start counts as one).",
            value=self.reload_success_at,
        )
        yield GaugeMetricFamily(
            "dli_watcher_config_restart_required",
            "1 while a changed config key waits for a restart (named in watcher.reloaded's restart_required).",
            value=1.0 if self.restart_pending else 0.0,
        )


def build_info() -> GaugeMetricFamily:
    """dli_watcher_build_info: the version, the git revision it was built from (when known) and the Python."""
    build = GaugeMetricFamily(
        "dli_watcher_build_info", "The running build; always 1.", labels=["version", "revision", "python_version"]
    )
    build.add_metric([__version__, revision(__version__), platform.python_version()], 1)
    return build


def revision(version: str) -> str:
    """The git commit in a setuptools-scm version (``0.2.0.dev5+g1a2b3c4``); empty for a tagged release.

    A local part without a commit (``0.0.0+unknown``: an image or a tree built without git) is "unknown",
    so an unknown build never reads as a release.
    """
    found = re.search(r"\+g([0-9a-f]+)", version)
    if found:
        return found.group(1)
    return "unknown" if "+" in version else ""


def _by_label(name: str, doc: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for value, count in list(counts.items()):
        family.add_metric([value], count)
    return family
