"""Pure diffing of the last-10-lines log window, section by section, by content overlap.

The window is the tail of a log laid out as ``watcher.core.log.layout`` describes. Line numbers are
not stable (buffers evict, diagnostics get replaced), so each section is aligned on content: the new
lines of a section follow the longest run that agrees with what we saw last. When the alignment is
ambiguous or absent, the section is *uncertain*: the caller backfills from the log endpoint, or
reports a gap. Lines are never emitted twice: an ambiguous alignment picks the reading with the
fewest new lines, and a stream first seen once the log shows sections starts from what the
unsectioned ``log`` track already holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from watcher.core.log.layout import MARKED, WINDOW_SIZE, layout_of, output_hidden, split_window
from watcher.core.log.streams import Streams
from watcher.core.window import Window, lines_of, pack, size, unpack

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from watcher.core.log.layout import Layout, Section

TAIL_KEEP = 32
# Diagnostics are replaced wholesale (YARN's report, or Kubernetes' pod report), so content that does not
# continue the old is new, not a gap.
REPLACEABLE = frozenset({"diagnostics"})


@dataclass(frozen=True, slots=True, eq=False)
class StreamTrack:
    """What we know of one stream: its last lines and how many it has had since its start (-1: unknown).

    The lines are kept as text (``watcher.core.window``): their own, or lines ``start`` to ``stop`` of
    the window they were read from, so a stream the window shows costs no copy of its text.
    """

    text: Window = ""  # lines given as a tuple are joined
    seen: int = 0
    start: int = 0
    stop: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            object.__setattr__(self, "text", pack(self.text))

    @property
    def tail(self) -> tuple[str, ...]:
        """The stream's last lines seen."""
        lines = unpack(self.text)
        return lines if self.start == 0 and self.stop is None else lines[self.start : self.stop]

    def __eq__(self, other: object) -> bool:
        # the same lines are the same track, whether kept on their own or as part of a window
        if not isinstance(other, StreamTrack):
            return NotImplemented
        return self.seen == other.seen and self.tail == other.tail

    __hash__ = None  # type: ignore[assignment]


# the one StreamTrack of a stream with no lines yet (immutable, so every batch's empty stream can be it)
NO_LINES = StreamTrack()


@dataclass(frozen=True, slots=True)
class LogTrack:
    """Per-batch log diff state: one StreamTrack per stream, the last raw window and the layout seen.

    ``settled`` says the log endpoint has been read since the batch last finished, so a finished
    batch whose window does not change needs no more reads. ``read_at`` is when the log endpoint was
    last asked (wall clock, None: never), ``misses`` how many answers in a row were of no use.
    """

    streams: Mapping[str, StreamTrack] = field(default_factory=Streams)
    # kept joined, the very object the batch's snapshot holds when the two are the same window
    window: Window = ""
    layout: Layout = "plain"
    settled: bool = False
    read_at: float | None = None
    misses: int = 0
    # whether ``window`` shows nothing of the job's output (``fetch.hides_output``): derived, not kept
    # state, worked out once per track because every poll of an unchanged window asks it again
    hidden: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.window, str):
            object.__setattr__(self, "window", pack(self.window))
        if not isinstance(self.streams, Streams):
            object.__setattr__(self, "streams", Streams(self.streams))
        object.__setattr__(self, "hidden", window_hides_output(self.layout, self.window, self.streams))


@dataclass(frozen=True, slots=True)
class LogDiff:
    """The outcome of diffing one window: new lines in order, uncertain streams, the next track."""

    lines: tuple[tuple[str, str], ...]
    uncertain: tuple[str, ...]
    track: LogTrack


def _ends_at(tail: Sequence[str], new: Sequence[str], end: int) -> bool:
    overlap = min(end, len(tail))
    return tuple(new[end - overlap : end]) == tuple(tail[len(tail) - overlap :])


def alignments(tail: Sequence[str], new: Sequence[str]) -> list[int]:
    """End positions ``e`` in ``new`` where ``tail`` ends consistently, largest first.

    ``new[:e]`` and ``tail`` agree on every line they share when ``tail``'s last line sits at
    ``new[e-1]``; the lines after ``e`` are then the new ones.
    """
    return [end for end in range(len(new), 0, -1) if tail and _ends_at(tail, new, end)]


def exact_end(prev: StreamTrack, new: Sequence[str]) -> bool:
    """Whether ``new``, read from the stream's start, has our exact count of lines ending with our tail."""
    n = prev.seen
    return n >= 0 and len(new) >= n and _ends_at(prev.tail, new, n)


def _may_not_overlap(section: Section, end: int) -> bool:
    """Whether the window's only agreement with our tail, its first line, could be a repeat of that line.

    With the section's start out of view, a window whose first line equals the last one we saw reads
    two ways: that line again and the rest new, or a second copy (a blank line, a repeated stack frame)
    that scrolled the first away, with lines perhaps lost between. Only a section that shows new
    lines counts: one showing nothing past our line is the window we saw, whatever came in between.
    """
    return end == 1 < len(section.lines) and not section.starts


def diff_section(prev: StreamTrack, section: Section) -> tuple[tuple[str, ...], bool, StreamTrack]:
    """New lines of one section, whether they are uncertain, and the stream's next track.

    The track keeps only what was observed (never our reading of it), so a wrong guess on
    an ambiguous window can lose lines but never make a later window repeat them.
    """
    new, n = section.lines, prev.seen
    if not new:
        return (), False, prev
    tail = prev.tail
    observed = StreamTrack(new[-TAIL_KEEP:], len(new) if section.starts else -1)
    if section.starts and exact_end(prev, new):
        # start in view and an exact count: the new lines are exactly those past it, repeats or not
        return new[n:], False, observed
    # with an exact count, our last line cannot sit further into the window than lines we have seen
    ends = [e for e in alignments(tail, new) if n < 0 or e <= n]
    if ends:
        return new[ends[0] :], len(ends) > 1 or _may_not_overlap(section, ends[0]), observed
    # no alignment: every visible line comes after the last one we saw
    fresh_start = not tail or (section.starts and section.stream in REPLACEABLE)
    return new, (not section.starts) if fresh_start else True, observed


def first_track(streams: Mapping[str, StreamTrack], section: Section, layout: Layout) -> StreamTrack:
    """The prior of a stream seen for the first time.

    Once a log shows sections, lines reported before in the unsectioned ``log`` stream may now show
    up in one of them: a section that continues that track starts from it, so they are not repeated.
    """
    log = streams.get("log")
    if layout in MARKED and log is not None and alignments(log.tail, section.lines):
        return replace(log, seen=-1)
    return NO_LINES


def unmarked_stream(layout: Layout, window: Sequence[str], streams: Mapping[str, StreamTrack]) -> str:
    """The stream of a window without any marker.

    Sectioned: the inside of the last section, diagnostics; local: stderr, there is nothing after it.
    Livy <= 0.3 shows its header only while YARN has diagnostics, so there a window without one is
    diagnostics only if it continues them.
    """
    if layout == "sectioned":
        return "diagnostics"
    if layout == "local":
        return "stderr"
    diagnostics = streams.get("diagnostics")
    if layout == "legacy" and diagnostics is not None and alignments(diagnostics.tail, window):
        return "diagnostics"
    return "log"


def window_hides_output(layout: Layout, window: Window | Sequence[str], streams: Mapping[str, StreamTrack]) -> bool:
    """Whether ``window``, read with ``layout`` (and the streams seen), shows nothing of the job's own output."""
    complete = (size(window) if isinstance(window, str) else len(window)) < WINDOW_SIZE
    if layout == "plain" or complete:
        return False  # output_hidden's own first answer, without splitting the window
    window = lines_of(window)
    sections = split_window(window, layout, complete, unmarked_stream(layout, window, streams))
    return output_hidden(sections, layout, complete)


def diff_log(
    track: LogTrack,
    window: Window | Sequence[str],
    *,
    backfill: Sequence[str] | None = None,
    from_start: bool = True,
) -> LogDiff:
    """Diff a details window (kept or as lines), or with ``backfill`` the log endpoint's lines fetched after it.

    ``from_start`` says the backfill begins at the log's first line, so its first section is whole.
    """
    if backfill is None and window is track.window:
        return LogDiff((), (), track)  # the kept snapshot's own window: nothing new, without a comparison
    kept = pack(window)
    if backfill is None and kept == track.window:
        return LogDiff((), (), track)
    shown = unpack(kept)
    source = shown if backfill is None else tuple(backfill)
    layout = layout_of(track.layout, source)
    complete = from_start if backfill is not None else len(shown) < WINDOW_SIZE
    streams = dict(track.streams)
    lines: list[tuple[str, str]] = []
    uncertain: list[str] = []
    for section in split_window(source, layout, complete, unmarked_stream(layout, source, streams)):
        prev = streams.get(section.stream) or first_track(streams, section, layout)
        fresh, unsure, streams[section.stream] = diff_section(prev, section)
        lines.extend((section.stream, line) for line in fresh)
        if unsure:
            uncertain.append(section.stream)
    next_track = replace(track, streams=share_window(streams, kept), window=kept, layout=layout)
    return LogDiff(tuple(lines), tuple(uncertain), next_track)


def share_window(streams: Mapping[str, StreamTrack], window: Window) -> dict[str, StreamTrack]:
    """The streams, each tail that is a run of the window's lines kept as that run of the window's own text.

    A tail kept as part of an older window is kept on its own when this window does not show it, so a
    track never holds more than its window and its tails.
    """
    shown = unpack(window)
    out = {}
    for name, stream in streams.items():
        if not stream.text and stream.seen == 0:
            out[name] = NO_LINES  # a section seen empty, as most windows show stderr and diagnostics: one object
            continue
        if stream.text is window or not stream.text:
            out[name] = stream
            continue
        tail = stream.tail
        at = _run_at(shown, tail)
        if at >= 0:
            out[name] = StreamTrack(window, stream.seen, at, at + len(tail))
        elif stream.start or stream.stop is not None:
            out[name] = StreamTrack(tail, stream.seen)
        else:
            out[name] = stream
    return out


def _run_at(lines: tuple[str, ...], run: tuple[str, ...]) -> int:
    """Where ``run`` first sits in ``lines`` as consecutive lines; -1 when it does not."""
    size = len(run)
    for at in range(len(lines) - size + 1):
        if lines[at : at + size] == run:
            return at
    return -1
