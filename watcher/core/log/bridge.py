"""Joining the log endpoint's lines to a poll's diff; lines without markers are aligned by content.

A log endpoint answer with section markers is diffed like a long window. One without markers (DLI
documents its ``/log`` with none) is a single stream's text: it is matched against each stream that
needs it, between the last lines we saw of that stream and the lines the window shows of it now.
Lines are recovered only where exactly one reading fits; otherwise the window's own diff stands and
its gap is reported.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from watcher.core.log.diff import (
    NO_LINES,
    TAIL_KEEP,
    LogDiff,
    StreamTrack,
    alignments,
    diff_log,
    exact_end,
    unmarked_stream,
)
from watcher.core.log.layout import MARKED, WINDOW_SIZE, marker, output_hidden, output_stream, split_window, stream_rank
from watcher.core.window import lines_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watcher.core.log.diff import LogTrack
    from watcher.core.window import Window


def _starts(prev: StreamTrack, lines: Sequence[str], from_start: bool) -> list[int]:
    """Where the stream's next unseen line can sit in ``lines``."""
    if not prev.tail:
        return [0] if from_start and prev.seen == 0 else []
    if from_start and exact_end(prev, lines):
        return [prev.seen]
    return alignments(prev.tail, lines)


def _ends(shown: Sequence[str], lines: Sequence[str]) -> list[int]:
    """Where the lines the window shows end in ``lines``; the end of ``lines`` when it shows none."""
    if not shown:
        return [len(lines)]
    size = len(shown)
    return [end for end in range(size, len(lines) + 1) if tuple(lines[end - size : end]) == tuple(shown)]


def bridge(prev: StreamTrack, shown: Sequence[str], lines: Sequence[str], from_start: bool) -> tuple[str, ...] | None:
    """One stream's new lines read from marker-less ``lines``: after the last line we saw, through those shown.

    None unless exactly one reading fits, or when neither end is anchored by content (a stream we
    never saw and the window does not show could be any text).
    """
    if not prev.tail and not shown:
        return None
    readings = {tuple(lines[p:f]) for p in _starts(prev, lines, from_start) for f in _ends(shown, lines) if p <= f}
    return readings.pop() if len(readings) == 1 else None


def _bridged(
    track: LogTrack, diff: LogDiff, given: Window | Sequence[str], lines: Sequence[str], from_start: bool
) -> LogDiff | None:
    """The window's diff with the one stream marker-less ``lines`` continue filled in; None unless exactly one does."""
    window = lines_of(given)
    layout, complete = diff.track.layout, len(window) < WINDOW_SIZE
    sections = split_window(window, layout, complete, unmarked_stream(layout, window, track.streams))
    shown = {s.stream: s.lines for s in sections}
    wanted = list(diff.uncertain)
    if output_hidden(sections, layout, complete):
        wanted.append(output_stream(layout))
    found = {}
    for stream in wanted:
        prev = track.streams.get(stream, NO_LINES)
        recovered = bridge(prev, shown.get(stream, ()), lines, from_start)
        if recovered is not None:
            found[stream] = recovered
    if len(found) != 1:
        return None  # none fits, or the text fits several streams: it is not clear whose it is
    [(stream, recovered)] = found.items()
    kept = [(s, line) for s, line in diff.lines if s != stream]
    merged = sorted([*kept, *((stream, line) for line in recovered)], key=lambda item: stream_rank(item[0]))
    streams = dict(diff.track.streams)
    if stream not in shown:  # what we saw of a hidden stream is the endpoint's text
        streams[stream] = StreamTrack(tuple(lines[-TAIL_KEEP:]), len(lines) if from_start else -1)
    uncertain = tuple(s for s in diff.uncertain if s != stream)
    return LogDiff(tuple(merged), uncertain, replace(diff.track, streams=streams))


def join_answer(
    track: LogTrack, diff: LogDiff, window: Window | Sequence[str], lines: Sequence[str], *, from_start: bool
) -> tuple[LogDiff, bool]:
    """A poll's diff once the log endpoint answered ``lines`` (read after the window), from ``track``.

    ``from_start`` says ``lines`` begin at the log's first line. The flag says the answer was of use:
    it has markers, the log has none, or its text continues exactly one stream that needed it.
    """
    if any(marker(line) for line in lines) or diff.track.layout not in MARKED:
        return diff_log(track, window, backfill=lines, from_start=from_start), True
    joined = _bridged(track, diff, window, lines, from_start)
    return (joined or diff), joined is not None


def join_backfill(
    track: LogTrack, diff: LogDiff, window: Window | Sequence[str], lines: Sequence[str], *, from_start: bool
) -> LogDiff:
    """``join_answer``'s diff alone."""
    return join_answer(track, diff, window, lines, from_start=from_start)[0]
