"""The shared picture of every watched batch: written by the poll loop, read by metrics and health.

Tracks are immutable and replaced by reference; the dict is copied whenever its membership
changes, so a scrape in another thread iterates a dict that never changes size under it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watcher.core.events import Event
    from watcher.core.tracker import Track


@dataclass(frozen=True, slots=True)
class JobSummary:
    """What the last finished batches of one job name say."""

    job_name: str
    last_outcome: str | None = None
    last_finish: float | None = None
    last_success: float | None = None


def record_finish(summary: JobSummary, outcome: str, finished_at: float) -> JobSummary:
    """Fold one finished batch into its job's summary; an older finish never overrides a newer one."""
    if summary.last_finish is not None and finished_at < summary.last_finish:
        return summary
    success = finished_at if outcome == "succeeded" else summary.last_success
    return replace(summary, last_outcome=outcome, last_finish=finished_at, last_success=success)


class Board:
    """Current tracks, job summaries, transition counts and loop progress."""

    def __init__(self, tracks: dict[str, Track] | None = None, jobs: dict[str, JobSummary] | None = None) -> None:
        self.tracks: dict[str, Track] = dict(tracks or {})
        self.jobs: dict[str, JobSummary] = dict(jobs or {})
        self.transitions: Counter[tuple[str, str]] = Counter()
        self.last_progress = 0.0
        self.last_successful_poll: float | None = None
        self.ready = False
        # until when the API asked the whole client to pause (429 / APIG.0308); not ready meanwhile
        self.throttled_until = 0.0

    def throttled(self, now: float) -> bool:
        """Whether the client is paused by the API's throttling at ``now``."""
        return now < self.throttled_until

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

    def note_events(self, track: Track, events: list[Event], now: float) -> None:
        """Update transition counts and job summaries from a batch's new events."""
        queue = (track.snapshot.queue if track.snapshot else None) or ""
        for event in events:
            if event.name == "batch.state_changed":
                self.transitions[(queue, str(event.fields["to_state"]))] += 1
            elif event.name == "batch.finished" and track.snapshot and track.snapshot.name:
                name = track.snapshot.name
                at = track.snapshot.update_time / 1000 if track.snapshot.update_time else now
                self.jobs = {
                    **self.jobs,
                    name: record_finish(self.jobs.get(name, JobSummary(name)), str(event.fields["outcome"]), at),
                }
