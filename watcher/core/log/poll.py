"""The log diff's one entry point: ``before_read`` and ``after_read``, around a poll's ``/log`` read.

``before_read`` diffs the window and says whether to read; ``after_read`` takes what the read gave and
says what the poll adds. The daemon calls nothing else of ``core/log``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.core.log.bridge import join_answer
from watcher.core.log.diff import diff_log
from watcher.core.log.fetch import HIDDEN_READ_SECONDS, answered, unavailable, update_settled, wants_log_endpoint
from watcher.core.window import pack

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watcher.core.log.diff import LogDiff, LogTrack
    from watcher.core.window import Window

__all__ = ["HIDDEN_READ_SECONDS", "Answer", "Outcome", "Plan", "after_read", "before_read", "kept_window"]


@dataclass(frozen=True, slots=True)
class Plan:
    """A poll's window diffed against what was seen, and whether the log endpoint is to be read now."""

    prev: LogTrack
    window: Window
    diff: LogDiff
    terminal: bool
    now: float
    read: bool


@dataclass(frozen=True, slots=True)
class Answer:
    """What a ``/log`` read gave: its lines (None: none came), and whether the endpoint gave its answer.

    ``answered`` False is a failure asking again may mend (a timeout); an error that will not change is
    an answer without lines.
    """

    lines: tuple[str, ...] | None = None
    from_start: bool = False
    answered: bool = True


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the poll adds: new lines in order, the streams with a gap, the track to keep, a give-up.

    ``gave_up``: the endpoint was of no use once too often on this poll; it is read only when the batch finishes.
    """

    lines: tuple[tuple[str, str], ...]
    gaps: tuple[str, ...]
    track: LogTrack
    gave_up: bool


def before_read(
    prev: LogTrack, window: Window | Sequence[str], *, terminal: bool, now: float, every: float, enabled: bool = True
) -> Plan:
    """Diff ``window`` (read at wall-clock ``now``) against ``prev``; read ``/log`` only when the plan says so.

    ``every`` paces the reads made only because the output is hidden; ``enabled`` False never reads.
    """
    kept = window if isinstance(window, str) else pack(window)
    diff = diff_log(prev, kept)
    read = enabled and wants_log_endpoint(prev, diff, kept, terminal=terminal, now=now, every=every)
    return Plan(prev, kept, diff, terminal, now, read)


def kept_window(prev: LogTrack, window: Window | Sequence[str], *, terminal: bool) -> bool:
    """Whether ``before_read`` then ``after_read(plan, None)`` would add nothing, read nothing and keep ``prev`` itself.

    True for the track's own window (the very object: an unchanged list item's snapshot holds it) while
    it shows the job's output and the track is settled as the batch's state says: what most polls of a
    list cycle see, answered without building a plan.
    """
    return window is prev.window and prev.settled == terminal and not prev.hidden


def after_read(plan: Plan, answer: Answer | None) -> Outcome:
    """The poll's outcome once the read the plan asked for gave ``answer`` (None: no read was made)."""
    diff, track, read = plan.diff, plan.diff.track, False
    if answer is not None:
        read = answer.answered
        useful: bool | None = False if read else None
        if answer.lines is not None:
            diff, useful = join_answer(plan.prev, diff, plan.window, answer.lines, from_start=answer.from_start)
        track = answered(diff.track, now=plan.now, useful=useful)
    gave_up = unavailable(track) and not unavailable(plan.prev)
    return Outcome(diff.lines, diff.uncertain, update_settled(track, terminal=plan.terminal, read=read), gave_up)
