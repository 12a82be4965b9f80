"""When a followed batch has reached its final outcome, and the exit code a one-shot command gives for outcomes.

The exit codes are a public contract for scripts (README "One-off use", ``wait --help``):
0 all succeeded, 3 failed, 4 killed, 5 not found or gone, 6 timed out, 7 the API gave no usable answer
for --unreachable-timeout; several batches give the most severe outcome present, in the order 3, 4, 5, 7, 6.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from watcher.core import states

if TYPE_CHECKING:
    from collections.abc import Iterable

    from watcher.core.tracker import Track

Outcome = Literal["succeeded", "failed", "killed", "not_found", "unreachable", "timed_out"]

EXIT_CODES: Final[dict[Outcome, int]] = {
    "succeeded": 0,
    "failed": 3,
    "killed": 4,
    "not_found": 5,
    "timed_out": 6,
    "unreachable": 7,
}
# most severe first: a failed batch among several decides the exit code before a killed one does; an API
# that stopped answering says less about a batch than its end, more than a deadline the caller chose
SEVERITY: Final[tuple[Outcome, ...]] = ("failed", "killed", "not_found", "unreachable", "timed_out")


def grace_start(track: Track, now: float) -> float:
    """When a dead batch's terminal grace began.

    For a batch first seen already dead, the dead state's ``update_time`` (never later than first
    sight: the API's clock may run ahead); otherwise when the watcher saw it die; first sight when the
    API gives no time.
    """
    seen = track.terminal_at if track.terminal_at is not None else now
    snap = track.snapshot
    first_seen_dead = track.first_seen is not None and track.first_seen == track.terminal_at
    if first_seen_dead and snap is not None and snap.update_time is not None:
        return min(snap.update_time / 1000, seen)
    return seen


def held(track: Track, now: float, grace: float, *, revivable: bool) -> bool:
    """Whether a dead batch is still within its grace: the flavor may revive it, so its outcome waits."""
    snap = track.snapshot
    if not revivable or snap is None or snap.state != "dead" or track.presence != "present":
        return False
    return now - grace_start(track, now) < grace


def terminal_outcome(track: Track, now: float, grace: float, *, revivable: bool) -> str | None:
    """The outcome of the batch's terminal state once it can no longer change (succeeded, failed, killed), else None.

    ``revivable``: the API can bring a dead batch back (DLI's auto-recovery: dead, recovering, success),
    so ``dead`` is final only once the grace from ``grace_start`` is over, or once the batch is gone.
    Success, killed and error never revive. The one decision behind `wait`'s exit code, the runs the
    job families count and ``batch.outcome``.
    """
    snap = track.snapshot
    if snap is None or track.presence not in ("present", "gone") or not states.is_terminal(snap.state):
        return None
    if held(track, now, grace, revivable=revivable):
        return None
    return states.outcome(snap.state)


def final_outcome(track: Track, now: float, grace: float, *, revivable: bool) -> Outcome | None:
    """A followed batch's outcome if it is final at ``now``: its terminal state's, or ``not_found``; else None."""
    result = terminal_outcome(track, now, grace, revivable=revivable)
    if result is None:
        return "not_found" if track.presence in ("not_found", "gone") else None
    return "succeeded" if result == "succeeded" else "killed" if result == "killed" else "failed"


def exit_code(outcomes: Iterable[Outcome]) -> int:
    """The exit code for a set of outcomes: the most severe one's, 0 when every batch succeeded."""
    present = set(outcomes)
    for outcome in SEVERITY:
        if outcome in present:
            return EXIT_CODES[outcome]
    return 0
