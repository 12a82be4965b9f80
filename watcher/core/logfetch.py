"""When a poll reads the log endpoint: only when it can tell something the window cannot.

Each read is one more request per poll, so a finished batch whose window stays the same (a dead
job showing only its YARN diagnostics, for the whole terminal grace) must not cost one every poll.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from watcher.core.logdiff import unmarked_stream
from watcher.core.loglayout import WINDOW_SIZE, output_hidden, split_window

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watcher.core.logdiff import LogDiff, LogTrack


def hides_output(track: LogTrack, window: Sequence[str]) -> bool:
    """Whether ``window``, read with the layout ``track`` has, shows nothing of the job's own output."""
    layout, complete = track.layout, len(window) < WINDOW_SIZE
    unmarked = unmarked_stream(layout, window, track.streams)
    return output_hidden(split_window(window, layout, complete, unmarked), layout, complete)


def wants_log_endpoint(prev: LogTrack, diff: LogDiff, window: Sequence[str], *, terminal: bool) -> bool:
    """Whether to read the log endpoint after diffing ``window`` against ``prev``.

    Yes when the diff is uncertain; once after the batch finishes (the final lines), until a read
    answers; and when the output is hidden behind later sections, if the window changed or the
    batch still runs (its output can grow unseen). A finished batch's unchanged window: no.
    """
    if diff.uncertain or (terminal and not prev.settled):
        return True
    return hides_output(diff.track, window) and (tuple(window) != prev.window or not terminal)


def settle(track: LogTrack, *, terminal: bool, read: bool) -> LogTrack:
    """The track after this poll: settled while finished once a read answered, reset when it runs again."""
    settled = terminal and (track.settled or read)
    return track if settled == track.settled else replace(track, settled=settled)
