"""When a followed batch has reached its final outcome, and the exit code a one-shot command gives for outcomes.

The exit codes are a public contract for scripts (README "One-off use", ``wait --help``):
0 all succeeded, 3 failed, 4 killed, 5 not found or gone, 6 timed out; several batches give the most
severe outcome present, in that order of severity (3 first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from watcher.core import states

if TYPE_CHECKING:
    from collections.abc import Iterable

    from watcher.core.tracker import Track

Outcome = Literal["succeeded", "failed", "killed", "missing", "timed_out"]

EXIT_CODES: Final[dict[Outcome, int]] = {"succeeded": 0, "failed": 3, "killed": 4, "missing": 5, "timed_out": 6}
# most severe first: a failed batch among several decides the exit code before a killed one does
SEVERITY: Final[tuple[Outcome, ...]] = ("failed", "killed", "missing", "timed_out")


def final_outcome(track: Track, now: float, grace: float, *, revivable: bool) -> Outcome | None:
    """The batch's outcome if it is final at ``now``, else None (still running, or dead within the grace).

    ``revivable``: the API can bring a dead batch back (DLI's auto-recovery), so ``dead`` is final only
    once it has stayed dead for ``grace`` seconds; Livy has no revival.
    """
    if track.presence in ("not_found", "gone"):
        return "missing"
    snap = track.snapshot
    if track.presence != "present" or snap is None or not states.is_terminal(snap.state):
        return None
    result = states.outcome(snap.state)
    if result == "failed" and revivable and snap.state == "dead":
        since = track.terminal_at if track.terminal_at is not None else now
        if now - since < grace:
            return None
    return "succeeded" if result == "succeeded" else "killed" if result == "killed" else "failed"


def exit_code(outcomes: Iterable[Outcome]) -> int:
    """The exit code for a set of outcomes: the most severe one's, 0 when every batch succeeded."""
    present = set(outcomes)
    for outcome in SEVERITY:
        if outcome in present:
            return EXIT_CODES[outcome]
    return 0
