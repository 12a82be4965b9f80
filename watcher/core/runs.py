"""A batch's final outcome, duration and queue wait, decided once: the run the job families count and ``batch.outcome``.

The track is marked with the outcome in the same step that makes the event, and the state file keeps
both in one transaction (the outbox): a run is counted and announced once, restarts included.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from watcher.core.events import Event, rfc3339
from watcher.core.outcome import terminal_outcome
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


def final_outcome(track: Track, now: float, grace: float, *, revivable: bool) -> str | None:
    """The outcome once it can no longer change; None while the batch runs, is counted already, or may revive.

    ``revivable`` (the flavor's ``revives_dead``): DLI's auto-recovery can revive a ``dead`` batch
    (dead, recovering, success), so there ``dead`` is final only after the terminal grace (which ends
    before the watcher stops polling it), or once the batch is gone. Success, killed and error never revive.
    """
    if track.outcome is not None or track.terminal_at is None:
        return None
    return terminal_outcome(track, now, grace, revivable=revivable)


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


def settle(track: Track, now: float, grace: float, *, revivable: bool) -> tuple[Track, Run | None, list[Event]]:
    """The track marked with its final outcome, the run to count and its ``batch.outcome``; else no run, no event."""
    outcome = final_outcome(track, now, grace, revivable=revivable)
    snap = track.snapshot
    if outcome is None or snap is None:
        return track, None, []
    finished = snap.update_time / 1000 if snap.update_time is not None else track.terminal_at or now
    run = Run(snap.name, snap.queue, outcome, finished, duration_seconds(snap), queue_wait(track))
    event = outcome_event(track, snap, outcome, now)
    return replace(track, outcome=outcome, seq=track.seq + 1), run, [event]
