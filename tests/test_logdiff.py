"""The log-window diff: examples for each layout, and Hypothesis properties against a true log."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.logdiff import WINDOW_SIZE, LogTrack, diff_log, split_window, stdout_hidden

DLI = ("stdout: ", "stderr: ", "YARN Diagnostics: ")
LIVY = ("stdout: ", "\nstderr: ", "\nYARN Diagnostics: ")


def render(stdout: list[str], stderr: list[str], diag: list[str], markers: tuple[str, ...]) -> list[str]:
    return [markers[0], *stdout, markers[1], *stderr, markers[2], *diag]


class TestSplit:
    def test_full_window_has_every_section_from_its_start(self):
        """A short log is all visible, so every section starts in view."""
        sections = split_window(render(["a"], [], ["d"], LIVY), sectioned=False, complete=True)
        assert [(s.stream, s.lines, s.starts) for s in sections] == [
            ("stdout", ("a",), True),
            ("stderr", (), True),
            ("diagnostics", ("d",), True),
        ]

    def test_window_starting_mid_stdout_infers_the_stream_from_the_first_marker(self):
        """Lines before the stderr marker are the tail of stdout."""
        window = render([str(i) for i in range(20)], [], [], DLI)[-WINDOW_SIZE:]
        first = split_window(window, sectioned=True, complete=False)[0]
        assert (first.stream, first.starts, first.lines[-1]) == ("stdout", False, "19")

    def test_window_starting_mid_stderr(self):
        """Lines before the diagnostics marker are the tail of stderr."""
        window = render(["o"], [f"e{i}" for i in range(12)], ["d"], LIVY)[-WINDOW_SIZE:]
        first = split_window(window, sectioned=True, complete=False)[0]
        assert (first.stream, first.lines[0]) == ("stderr", "e4")

    def test_unmarked_window_is_one_log_stream(self):
        """Without markers the window is a single 'log' stream."""
        assert split_window(["x", "y"], sectioned=False, complete=True)[0].stream == "log"

    def test_unmarked_window_after_markers_is_diagnostics(self):
        """Once a batch showed markers, a window without any is inside the last section."""
        assert split_window(["x"] * 10, sectioned=True, complete=False)[0].stream == "diagnostics"


def feed(windows: list[list[str]]) -> tuple[list[tuple[str, str]], list[str]]:
    track, lines, gaps = LogTrack(), list[tuple[str, str]](), list[str]()
    for window in windows:
        result = diff_log(track, window)
        track = result.track
        lines.extend(result.lines)
        gaps.extend(result.uncertain)
    return lines, gaps


class TestExamples:
    def test_lines_before_trailing_markers_are_emitted_once(self):
        """New stdout lines appear before the markers and are each emitted once."""
        w1 = render(["a", "b"], [], [], DLI)
        w2 = render(["a", "b", "c"], [], [], DLI)
        lines, gaps = feed([w1, w2, w2])
        assert lines == [("stdout", "a"), ("stdout", "b"), ("stdout", "c")]
        assert gaps == []

    def test_burst_larger_than_window_is_a_gap(self):
        """A burst that scrolls past the window without overlap marks stdout uncertain."""
        w1 = render(["a"], [], [], DLI)
        w2 = render([f"l{i}" for i in range(40)], [], [], DLI)[-WINDOW_SIZE:]
        lines, gaps = feed([w1, w2])
        assert gaps == ["stdout"]
        assert lines[-1] == ("stdout", "l39")

    def test_repeated_lines_with_visible_start_are_exact(self):
        """Identical lines are counted exactly while the section's start is in view."""
        lines, gaps = feed([render(["x"], [], [], LIVY), render(["x", "x", "x"], [], [], LIVY)])
        assert lines == [("stdout", "x")] * 3
        assert gaps == []

    def test_ambiguous_repeats_never_duplicate_and_are_flagged(self):
        """When repeats make the alignment ambiguous, the fewest lines are emitted and a gap is flagged."""
        w1 = render(["a", "b", "a", "b", "a", "b", "a"], [], [], DLI)
        w2 = render(["a", "b", "a", "b", "a", "b", "a", "b", "a"], [], [], DLI)[-WINDOW_SIZE:]
        lines, gaps = feed([w1, w2])
        # "b a b a b a b a" reads as 2, 4 or 6 new lines after our 7: the fewest-lines reading wins
        assert lines[7:] == [("stdout", "b"), ("stdout", "a")]
        assert gaps == ["stdout"]

    def test_replaced_diagnostics_are_new_lines_not_a_gap(self):
        """YARN diagnostics are replaced wholesale; new content is emitted without a gap."""
        lines, gaps = feed([render([], [], ["old"], DLI), render([], [], ["new one"], DLI)])
        assert lines == [("diagnostics", "old"), ("diagnostics", "new one")]
        assert gaps == []

    def test_backfill_from_full_log_resolves_a_burst(self):
        """A full log from the log endpoint recovers every line a burst scrolled away."""
        w1 = render(["a"], [], [], DLI)
        full = render(["a", *[f"l{i}" for i in range(40)]], [], [], DLI)
        first = diff_log(LogTrack(), w1)
        window = diff_log(first.track, full[-WINDOW_SIZE:])
        assert window.uncertain == ("stdout",)
        backfill = diff_log(first.track, full[-WINDOW_SIZE:], backfill=full)
        assert backfill.uncertain == ()
        assert [line for _, line in backfill.lines] == [f"l{i}" for i in range(40)]


@dataclass
class World:
    """A true log for the properties: append-only stdout/stderr, replaceable diagnostics."""

    markers: tuple[str, ...]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    diag: list[str] = field(default_factory=list)

    def full(self) -> list[str]:
        return render(self.stdout, self.stderr, self.diag, self.markers)


line_text = st.sampled_from(["a", "b", "c"]) | st.text(alphabet="xyz0123456789", min_size=1, max_size=6)
step: st.SearchStrategy[tuple[str, list[str]]] = st.one_of(
    st.tuples(st.just("stdout"), st.lists(line_text, max_size=25)),
    st.tuples(st.just("stderr"), st.lists(line_text, max_size=3)),
    st.tuples(st.just("diag"), st.lists(line_text, max_size=3)),
    st.tuples(st.just("poll"), st.just([])),
)


def run_story(markers, steps, backfill):
    """Play steps against a World and the diff; returns (true streams, emitted lines, gap streams)."""
    world, track = World(markers), LogTrack()
    emitted: dict[str, list[str]] = {"stdout": [], "stderr": [], "diagnostics": []}
    gaps: set[str] = set()
    for kind, lines in [*steps, ("final", [])]:
        if kind in ("stdout", "stderr"):
            getattr(world, kind).extend(lines)
            continue
        if kind == "diag":
            world.diag = list(lines)
            continue
        window = world.full()[-WINDOW_SIZE:]
        result = diff_log(track, window)
        if result.uncertain and backfill:
            result = diff_log(track, window, backfill=world.full())
        track = result.track
        for stream, line in result.lines:
            emitted[stream].append(line)
        gaps.update(result.uncertain)
    return {"stdout": world.stdout, "stderr": world.stderr}, emitted, gaps


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(any(x == y for y in it) for x in part)


def small_stderr(steps):
    """Cap stderr and diagnostics so stdout's tail stays in the window (a hidden section shows nothing)."""
    steps = [(k, v[:2] if k in ("stderr", "diag") else v) for k, v in steps]
    if sum(len(v) for k, v in steps if k == "stderr") > 3:
        steps = [(k, v) for k, v in steps if k != "stderr"]
    return steps


unique_step = st.one_of(
    st.tuples(st.just("stdout"), st.integers(0, 25)),
    st.tuples(st.just("stderr"), st.integers(0, 2)),
    st.tuples(st.just("diag"), st.integers(0, 2)),
    st.tuples(st.just("poll"), st.just(0)),
)


def distinct_story(steps):
    """Turn (kind, count) steps into lines that never repeat, keeping stdout's tail in view."""
    counter = iter(range(10**6))
    story = [(k, [f"{k} {next(counter)}" for _ in range(n)]) for k, n in steps]
    return small_stderr(story)


class TestProperties:
    @settings(max_examples=400, deadline=None)
    @given(st.sampled_from([DLI, LIVY]), st.lists(step, max_size=40))
    def test_repeated_lines_never_duplicate_or_reorder(self, markers, steps):
        """With repeated lines, emitted lines are always an ordered subsequence of the true stream.

        A loss hidden by a coincidental overlap of identical lines looks, through the window, exactly
        like no loss; such a case is resolved the conservative way (fewest new lines), never by repeating.
        """
        truth, emitted, _ = run_story(markers, small_stderr(steps), backfill=False)
        for stream in ("stdout", "stderr"):
            assert is_subsequence(emitted[stream], truth[stream])

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from([DLI, LIVY]), st.lists(unique_step, max_size=40))
    def test_distinct_lines_arrive_exactly_unless_a_gap_is_reported(self, markers, steps):
        """With distinct lines every loss is reported: no gap means the emitted stream is the truth."""
        truth, emitted, gaps = run_story(markers, distinct_story(steps), backfill=False)
        for stream in ("stdout", "stderr"):
            assert is_subsequence(emitted[stream], truth[stream])
            if stream not in gaps:
                assert emitted[stream] == truth[stream]

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from([DLI, LIVY]), st.lists(unique_step, max_size=40))
    def test_with_backfill_every_line_arrives_once_in_order(self, markers, steps):
        """With the full log to backfill from, bursts far beyond the window lose nothing and report no gap."""
        truth, emitted, gaps = run_story(markers, distinct_story(steps), backfill=True)
        assert emitted == {**emitted, **truth}
        assert not gaps & {"stdout", "stderr"}

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from([DLI, LIVY]), st.lists(step, max_size=40))
    def test_with_backfill_repeated_lines_never_duplicate(self, markers, steps):
        """Backfilling with repeated lines still never duplicates or reorders."""
        steps = [(k, v) for k, v in small_stderr(steps) if k != "stderr"]
        truth, emitted, _ = run_story(markers, steps, backfill=True)
        assert is_subsequence(emitted["stdout"], truth["stdout"])


class TestHidden:
    def test_stdout_hidden_when_the_window_starts_past_it(self):
        """Long stderr pushes stdout out of the window; that is what asks for the log endpoint."""
        window = render(["o1"], [f"e{i}" for i in range(9)], [], LIVY)[-WINDOW_SIZE:]
        assert stdout_hidden(window, sectioned=True)

    def test_stdout_visible_even_when_empty(self):
        """An empty stdout whose marker is in view is not hidden; nor is an unsectioned log."""
        assert not stdout_hidden(render([], ["e"], ["d"], DLI), sectioned=True)
        assert not stdout_hidden(["x"] * 10, sectioned=False)
