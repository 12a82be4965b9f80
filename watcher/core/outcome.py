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
# a terminal state's outcome (states.outcome) as an Outcome: the ones a finished run is counted with
RUN_OUTCOMES: Final[dict[str, Outcome]] = {"succeeded": "succeeded", "failed": "failed", "killed": "killed"}


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


def undecided(track: Track) -> bool:
    """A present batch in a state that is not terminal: no final outcome, whatever the time (``final_outcome``)."""
    snap = track.snapshot
    return track.presence == "present" and snap is not None and not states.is_terminal(snap.state)


def final_outcome(track: Track, now: float, grace: float, *, revivable: bool) -> Outcome | None:
    """The batch's outcome once it can no longer change: succeeded, failed, killed or not_found; None before.

    The one decision behind `wait`'s exit code, the runs the job families count with their
    ``batch.outcome``, and the status page's final outcomes. ``revivable``: the API can bring a dead
    batch back (DLI's auto-recovery: dead, recovering, success), so ``dead`` is final only once the
    grace from ``grace_start`` is over, or once the batch is gone. Success, killed and error never
    revive. A batch the API does not know (never found, or gone before it finished) is ``not_found``.
    """
    if undecided(track):
        return None
    snap = track.snapshot
    if snap is None or track.presence not in ("present", "gone") or not states.is_terminal(snap.state):
        return "not_found" if track.presence in ("not_found", "gone") else None
    # a terminal state the watcher has not seen arrive (a track from an old state file) waits for a poll
    if track.terminal_at is None or held(track, now, grace, revivable=revivable):
        return None
    return RUN_OUTCOMES[states.outcome(snap.state)]


def exit_code(outcomes: Iterable[Outcome]) -> int:
    """The exit code for a set of outcomes: the most severe one's, 0 when every batch succeeded."""
    present = set(outcomes)
    for outcome in SEVERITY:
        if outcome in present:
            return EXIT_CODES[outcome]
    return 0
