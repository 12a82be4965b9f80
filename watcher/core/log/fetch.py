"""When a poll reads the log endpoint: only when it can tell something the window cannot.

Each read is one more request per poll, so a finished batch whose window stays the same (a dead
job showing only its YARN diagnostics, for the whole terminal grace) must not cost one every poll.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from watcher.core.log.diff import window_hides_output
from watcher.core.window import pack

# answers in a row that were of no use (not found, or text that continues nothing) before the endpoint is
# read only when the batch finishes
UNAVAILABLE_AFTER = 3
# while the output is hidden, the endpoint is read at most once per this long, or the interval if longer
HIDDEN_READ_SECONDS = 60.0

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watcher.core.log.diff import LogDiff, LogTrack
    from watcher.core.window import Window


def hides_output(track: LogTrack, window: Window | Sequence[str]) -> bool:
    """Whether ``window``, read with the layout ``track`` has, shows nothing of the job's own output."""
    if window is track.window or pack(window) == track.window:
        return track.hidden  # worked out when the track was made (detail mode's fresh, equal window too)
    return window_hides_output(track.layout, window, track.streams)


def wants_log_endpoint(
    prev: LogTrack,
    diff: LogDiff,
    window: Window | Sequence[str],
    *,
    terminal: bool,
    now: float | None = None,
    every: float = 0.0,
) -> bool:
    """Whether to read the log endpoint after diffing ``window`` against ``prev``.

    Once after the batch finishes (the final lines), until a read answers. While it runs, not at all
    once the endpoint has been of no use UNAVAILABLE_AFTER times in a row; else when the diff is
    uncertain, and when the output is hidden behind later sections, if the window changed or the
    batch still runs (its output can grow unseen), at most once per ``every`` seconds (from ``now``,
    wall clock; without it, every time). A finished batch's unchanged window: no.
    """
    if terminal and not prev.settled:
        return True
    if unavailable(prev):
        return False
    if diff.uncertain:
        return True
    if not hides_output(diff.track, window) or (pack(window) == prev.window and terminal):
        return False
    last = prev.read_at
    # a wall clock that stepped back counts as due: the pacing must never stop the reads for good
    return now is None or last is None or not last <= now < last + every


def unavailable(track: LogTrack) -> bool:
    """Whether the log endpoint has been of no use too often in a row to be read before the batch finishes."""
    return track.misses >= UNAVAILABLE_AFTER


def answered(track: LogTrack, *, now: float, useful: bool | None) -> LogTrack:
    """The track after a read at ``now``: ``useful`` says whether the answer was of use, None: no answer came."""
    misses = track.misses if useful is None else 0 if useful else track.misses + 1
    return replace(track, read_at=now, misses=misses)


def update_settled(track: LogTrack, *, terminal: bool, read: bool) -> LogTrack:
    """The track after this poll: settled while finished once a read answered, reset when it runs again."""
    settled = terminal and (track.settled or read)
    return track if settled == track.settled else replace(track, settled=settled)
