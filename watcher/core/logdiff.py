"""Pure diffing of the last-10-lines log window, section by section, by content overlap.

The window is the tail of ``stdout: / lines / stderr: / lines / YARN Diagnostics: / lines``.
Line numbers are not stable (buffers evict, diagnostics get replaced), so each section is aligned
on content: the new lines of a section follow the longest run that agrees with what we saw last.
When the alignment is ambiguous or absent, the section is *uncertain*: the caller backfills from
the log endpoint, or reports a gap. Lines are never emitted twice: an ambiguous alignment picks
the reading with the fewest new lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

WINDOW_SIZE = 10
TAIL_KEEP = 32
STREAMS = ("stdout", "stderr", "diagnostics")
MARKERS = {"stdout:": "stdout", "stderr:": "stderr", "YARN Diagnostics:": "diagnostics"}
# Diagnostics are replaced wholesale by YARN, so content that does not continue the old is new, not a gap.
REPLACEABLE = frozenset({"diagnostics"})


@dataclass(frozen=True, slots=True)
class StreamTrack:
    """What we know of one stream: its last lines and how many it has had since its start (-1: unknown)."""

    tail: tuple[str, ...] = ()
    seen: int = 0


@dataclass(frozen=True, slots=True)
class LogTrack:
    """Per-batch log diff state: one StreamTrack per stream and the last raw window."""

    streams: dict[str, StreamTrack] = field(default_factory=dict)
    window: tuple[str, ...] = ()
    sectioned: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    """The lines of one stream visible in a window; ``starts`` when its beginning is visible too."""

    stream: str
    lines: tuple[str, ...]
    starts: bool


@dataclass(frozen=True, slots=True)
class LogDiff:
    """The outcome of diffing one window: new lines in order, uncertain streams, the next track."""

    lines: tuple[tuple[str, str], ...]
    uncertain: tuple[str, ...]
    track: LogTrack


def marker(line: str) -> str | None:
    """The stream a marker line opens (Livy prefixes some with a newline), else None."""
    return MARKERS.get(line.strip())


def split_window(window: Sequence[str], sectioned: bool, complete: bool) -> list[Section]:
    """Split a window into sections; lines before the first marker belong to the stream before it."""
    positions = [i for i, line in enumerate(window) if marker(line)]
    if not positions:
        stream = "diagnostics" if sectioned else "log"
        return [Section(stream, tuple(window), complete)] if window else []
    sections = []
    first = marker(window[positions[0]])
    head = tuple(window[: positions[0]])
    if head:
        before = STREAMS[STREAMS.index(first) - 1] if first != "stdout" else "log"
        sections.append(Section(before, head, starts=complete))
    for n, pos in enumerate(positions):
        end = positions[n + 1] if n + 1 < len(positions) else len(window)
        sections.append(Section(marker(window[pos]) or "log", tuple(window[pos + 1 : end]), True))
    return sections


def stdout_hidden(window: Sequence[str], sectioned: bool) -> bool:
    """Whether a sectioned window shows nothing of stdout: it starts inside a later section."""
    if not window or not sectioned:
        return False
    sections = split_window(window, sectioned, complete=len(window) < WINDOW_SIZE)
    return not any(s.stream in ("stdout", "log") for s in sections)


def _ends_at(tail: Sequence[str], new: Sequence[str], end: int) -> bool:
    overlap = min(end, len(tail))
    return tuple(new[end - overlap : end]) == tuple(tail[len(tail) - overlap :])


def alignments(tail: Sequence[str], new: Sequence[str]) -> list[int]:
    """End positions ``e`` in ``new`` where ``tail`` ends consistently, largest first.

    ``new[:e]`` and ``tail`` agree on every line they share when ``tail``'s last line sits at
    ``new[e-1]``; the lines after ``e`` are then the new ones.
    """
    return [end for end in range(len(new), 0, -1) if tail and _ends_at(tail, new, end)]


def diff_section(prev: StreamTrack, section: Section) -> tuple[tuple[str, ...], bool, StreamTrack]:
    """New lines of one section, whether they are uncertain, and the stream's next track.

    The track keeps only what was observed (never our reading of it), so a wrong guess on
    an ambiguous window can lose lines but never make a later window repeat them.
    """
    new, n = section.lines, prev.seen
    if not new:
        return (), False, prev
    observed = StreamTrack(new[-TAIL_KEEP:], len(new) if section.starts else -1)
    if section.starts and n >= 0 and len(new) >= n and _ends_at(prev.tail, new, n):
        # start in view and an exact count: the new lines are exactly those past it, repeats or not
        return new[n:], False, observed
    # with an exact count, our last line cannot sit further into the window than lines we have seen
    ends = [e for e in alignments(prev.tail, new) if n < 0 or e <= n]
    if ends:
        return new[ends[0] :], len(ends) > 1, observed
    # no alignment: every visible line comes after the last one we saw
    fresh_start = not prev.tail or (section.starts and section.stream in REPLACEABLE)
    return new, (not section.starts) if fresh_start else True, observed


def diff_log(
    track: LogTrack, window: Sequence[str], *, backfill: Sequence[str] | None = None, from_start: bool = True
) -> LogDiff:
    """Diff a details window, or with ``backfill`` the log endpoint's lines fetched after that window.

    ``from_start`` says the backfill begins at the log's first line, so its first section is whole.
    """
    window = tuple(window)
    if backfill is None and window == track.window:
        return LogDiff((), (), track)
    source = window if backfill is None else tuple(backfill)
    sectioned = track.sectioned or any(marker(line) for line in source)
    complete = from_start if backfill is not None else len(window) < WINDOW_SIZE
    streams = dict(track.streams)
    lines: list[tuple[str, str]] = []
    uncertain: list[str] = []
    for section in split_window(source, sectioned, complete):
        fresh, unsure, streams[section.stream] = diff_section(streams.get(section.stream, StreamTrack()), section)
        lines.extend((section.stream, line) for line in fresh)
        if unsure:
            uncertain.append(section.stream)
    return LogDiff(tuple(lines), tuple(uncertain), replace(track, streams=streams, window=window, sectioned=sectioned))
