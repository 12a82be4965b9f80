"""A batch's final outcome, duration and queue wait, decided once: the run the job families count."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from watcher.core.outcome import terminal_outcome
from watcher.core.tracker import duration_seconds

if TYPE_CHECKING:
    from watcher.core.tracker import Track


@dataclass(frozen=True, slots=True)
class Run:
    """One finished batch as the job families count it."""

    job_name: str | None
    queue: str | None
    outcome: str
    finished_at: float
    duration: float | None
    queue_wait: float | None


def final_outcome(track: Track, now: float, grace: float) -> str | None:
    """The outcome once it can no longer change; None while the batch runs, is counted already, or may revive.

    DLI's auto-recovery can revive a ``dead`` batch (dead, recovering, success), so ``dead`` is final
    only after the terminal grace, when the watcher stops polling it, or once the batch is gone.
    Success, killed and error never revive.
    """
    if track.outcome is not None or track.terminal_at is None:
        return None
    return terminal_outcome(track, now, grace, revivable=True)


def queue_wait(track: Track) -> float | None:
    """Seconds from creation to the first "running", only for a batch seen waiting first (never a made-up 0)."""
    snap = track.snapshot
    if track.started_at is None or snap is None or snap.create_time is None:
        return None
    # the API's clock and the watcher's may disagree by a little; a wait is never negative
    return round(max(0.0, track.started_at - snap.create_time / 1000), 3)


def settle(track: Track, now: float, grace: float) -> tuple[Track, Run | None]:
    """The track marked with its final outcome and the run to count, or the track unchanged and None."""
    outcome = final_outcome(track, now, grace)
    snap = track.snapshot
    if outcome is None or snap is None:
        return track, None
    finished = snap.update_time / 1000 if snap.update_time is not None else track.terminal_at or now
    run = Run(snap.name, snap.queue, outcome, finished, duration_seconds(snap), queue_wait(track))
    return replace(track, outcome=outcome), run
