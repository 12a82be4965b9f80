"""A finished batch's run (outcome, duration, queue wait) as the job families count it, and its ``batch.outcome``.

When the outcome is final is ``core.outcome.final_outcome``'s decision; ``Board.count_outcome`` marks the
track, counts the run and makes the event in one step, and the state file keeps both in one transaction
(the outbox): a run is counted and announced once, restarts included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.core.events import Event, rfc3339
from watcher.core.tracker import context, duration_seconds

if TYPE_CHECKING:
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track
    from watcher.core.vocabulary import Level


@dataclass(frozen=True, slots=True)
class Run:
    """One finished batch as the job families count it."""

    job_name: str | None
    queue: str | None
    outcome: str
    finished_at: float
    duration: float | None
    queue_wait: float | None


def queue_wait(track: Track) -> float | None:
    """Seconds from creation to the first "running", only for a batch seen waiting first (never a made-up 0)."""
    snap = track.snapshot
    if track.started_at is None or snap is None or snap.create_time is None:
        return None
    # the API's clock and the watcher's may disagree by a little; a wait is never negative
    return round(max(0.0, track.started_at - snap.create_time / 1000), 3)


def outcome_event(track: Track, snap: Snapshot, outcome: str, now: float) -> Event:
    """``batch.outcome``: the run's final word, numbered after the track's last event."""
    level: Level = "info" if outcome == "succeeded" else "warning"
    fields = {
        **context(snap),
        "outcome": outcome,
        "state": snap.state,
        "duration_seconds": duration_seconds(snap),
        # a success that needed DLI's auto-recovery (the batch was seen dead or recovering first)
        "recovered": outcome == "succeeded" and track.revived,
    }
    return Event("batch.outcome", level, track.batch_id, track.seq + 1, fields, rfc3339(now))


def run_of(track: Track, snap: Snapshot, outcome: str, now: float) -> Run:
    """The run a final outcome counts: finished at the API's last update (else when the watcher saw it end)."""
    finished = snap.update_time / 1000 if snap.update_time is not None else track.terminal_at or now
    return Run(snap.name, snap.queue, outcome, finished, duration_seconds(snap), queue_wait(track))
