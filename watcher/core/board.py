"""The shared picture of every watched batch: written by the poll loop, read by metrics and health.

Tracks are immutable and replaced by reference; the dicts are copied whenever their membership
changes, so a scrape in another thread iterates a dict that never changes size under it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from watcher.core import states
from watcher.core.histogram import Histogram
from watcher.core.labels import LabelCap
from watcher.core.outcome import final_outcome
from watcher.core.runs import outcome_event, run_of
from watcher.core.throttle import Throttle

if TYPE_CHECKING:
    from watcher.core.events import Event
    from watcher.core.readiness import Rejection
    from watcher.core.runs import Run
    from watcher.core.tracker import Track

# the histograms the job families keep per (queue, outcome)
DURATION, QUEUE_WAIT = "duration", "queue_wait"
HistogramKey = tuple[str, str, str]  # (DURATION or QUEUE_WAIT, queue, outcome)


@dataclass(frozen=True, slots=True)
class JobSummary:
    """What the finished batches of one job name say: last outcome, times, runs by outcome."""

    job_name: str
    last_outcome: str | None = None
    last_finish: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    last_duration: float | None = None
    # (outcome, count) for every outcome counted so far, in states.OUTCOMES order
    runs: tuple[tuple[str, int], ...] = ()


def record_run(summary: JobSummary, run: Run) -> JobSummary:
    """Fold one counted run into its job's summary; an older finish never overrides the latest ones."""
    counts = dict(summary.runs)
    counts[run.outcome] = counts.get(run.outcome, 0) + 1
    runs = tuple((o, counts[o]) for o in states.OUTCOMES if o in counts)
    if summary.last_finish is not None and run.finished_at < summary.last_finish:
        return replace(summary, runs=runs)
    return replace(
        summary,
        last_outcome=run.outcome,
        last_finish=run.finished_at,
        last_success=run.finished_at if run.outcome == "succeeded" else summary.last_success,
        last_failure=run.finished_at if run.outcome == "failed" else summary.last_failure,
        last_duration=run.duration,
        runs=runs,
    )


class Board:
    """Current tracks, job summaries and histograms, transition counts, label bounds and loop progress."""

    def __init__(
        self,
        tracks: dict[str, Track] | None = None,
        jobs: dict[str, JobSummary] | None = None,
        labels: LabelCap | None = None,
    ) -> None:
        self.tracks: dict[str, Track] = dict(tracks or {})
        self.jobs: dict[str, JobSummary] = dict(jobs or {})
        self.histograms: dict[HistogramKey, Histogram] = {}
        self.labels = labels or LabelCap()
        self.transitions: Counter[tuple[str, str]] = Counter()
        self.last_progress = 0.0
        self.last_successful_poll: float | None = None
        self.ready = False
        # the client-wide pause the API asked for (429 / APIG.0308), the request policy's own; not ready meanwhile
        self.throttle = Throttle()
        # each batch's last answer in this run, when it was a rejection (readiness's rule); copied on
        # write, so /readyz reads it from the server's thread without a lock
        self.answers: dict[str, Rejection | None] = {}

    def throttled(self, now: float) -> bool:
        """Whether the client is paused by the API's throttling at ``now``."""
        return self.throttle.active(now)

    def restore(
        self, tracks: dict[str, Track], jobs: dict[str, JobSummary], histograms: dict[HistogramKey, Histogram]
    ) -> None:
        """Take what a state file kept, admitting its label values first so they keep their labels.

        A restored batch that needs no more polls never passes ``note_events`` again, so its values
        are admitted here or would show as the overflow value.
        """
        for name in jobs:
            self.labels.admit("job_name", name)
        for _, queue, _ in histograms:
            self.labels.admit("queue", queue)
        for track in tracks.values():
            self.admit(track)
        self.tracks, self.jobs, self.histograms = dict(tracks), dict(jobs), dict(histograms)

    def admit(self, track: Track) -> None:
        """Admit the batch's API-supplied label values, while each label has room."""
        snap = track.snapshot
        if snap is not None:
            for label, value in (
                ("job_name", snap.name),
                ("queue", snap.queue),
                ("owner", snap.owner),
                ("kind", snap.kind),
                ("sc_type", snap.sc_type),
            ):
                self.labels.admit(label, value)

    def put(self, track: Track) -> None:
        """Store a batch's new track; a new batch swaps in a copied dict."""
        if track.batch_id in self.tracks:
            self.tracks[track.batch_id] = track
        else:
            self.tracks = {**self.tracks, track.batch_id: track}

    def add(self, tracks: list[Track]) -> None:
        """Store many tracks with a single dict swap (a first watch of 10,000 batches copies once)."""
        self.tracks = {**self.tracks, **{t.batch_id: t for t in tracks}}

    def drop(self, batch_ids: set[str]) -> None:
        """Forget batches (no longer watched)."""
        if batch_ids & self.tracks.keys():
            self.tracks = {k: v for k, v in self.tracks.items() if k not in batch_ids}
        if batch_ids & self.answers.keys():
            self.answers = {k: v for k, v in self.answers.items() if k not in batch_ids}

    def answered(self, batch_id: str, rejection: Rejection | None) -> None:
        """Note a batch's last answer: a rejection, or None for anything else (a snapshot, a passing failure)."""
        if self.answers.get(batch_id, False) != rejection:
            # in place: a copy per new batch made a first cycle of N batches cost N² (4 minutes at 100,000);
            # a reader in another thread copies what it iterates (``list(answers.values())``)
            self.answers[batch_id] = rejection

    def note_events(self, track: Track, events: list[Event], now: float) -> None:  # noqa: ARG002 - the poller's call
        """Admit the batch's label values and count its state transitions."""
        snap = track.snapshot
        if snap is None:
            return
        self.admit(track)
        queue = self.labels.shown("queue", snap.queue)
        for event in events:
            if event.name == "batch.state_changed":
                self.transitions[(queue, str(event.fields["to_state"]))] += 1

    def count_outcome(
        self, track: Track, now: float, grace: float, *, revivable: bool = True
    ) -> tuple[Track, list[Event]]:
        """Count the batch's run once its outcome is final: the track as it must be kept (marked) and its batch.outcome.

        Once only: a marked track is counted already. ``revivable``: the flavor's ``revives_dead``. A batch
        the API does not know has no run (its snapshot, if any, never reached a final state).
        """
        outcome = final_outcome(track, now, grace, revivable=revivable) if track.outcome is None else None
        snap = track.snapshot
        if outcome is None or outcome == "not_found" or snap is None:
            return track, []
        event = outcome_event(track, snap, outcome, now)
        marked = replace(track, outcome=outcome, seq=track.seq + 1)
        self.put(marked)
        self.record(run_of(track, snap, outcome, now))
        return marked, [event]

    def record(self, run: Run) -> None:
        """Fold a counted run into its job summary (named jobs only) and the histograms by queue and outcome."""
        if run.job_name:
            name = self.labels.admit("job_name", run.job_name)
            self.jobs = {**self.jobs, name: record_run(self.jobs.get(name, JobSummary(name)), run)}
        queue = self.labels.admit("queue", run.queue)
        observed = {
            (family, queue, run.outcome): value
            for family, value in ((DURATION, run.duration), (QUEUE_WAIT, run.queue_wait))
            if value is not None
        }
        if observed:
            self.histograms = {
                **self.histograms,
                **{key: self.histograms.get(key, Histogram()).observe(v) for key, v in observed.items()},
            }
