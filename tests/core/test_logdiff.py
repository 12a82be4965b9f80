"""The log-window diff: examples for each layout, and Hypothesis properties against a true log."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.props import examples
from watcher.core.log.bridge import join_backfill
from watcher.core.log.diff import LogTrack, diff_log, unmarked_stream
from watcher.core.log.fetch import hides_output, wants_log_endpoint
from watcher.core.log.layout import WINDOW_SIZE, interleave, layout_of, marker, split_window
from watcher.simulator.layouts import LAYOUTS, LEGACY, render_log

DLI = ("stdout: ", "stderr: ", "YARN Diagnostics: ")
LIVY = ("stdout: ", "\nstderr: ", "\nYARN Diagnostics: ")


def render(stdout: list[str], stderr: list[str], diag: list[str], markers: tuple[str, ...]) -> list[str]:
    return [markers[0], *stdout, markers[1], *stderr, markers[2], *diag]


class TestSplit:
    def test_full_window_has_every_section_from_its_start(self):
        """A short log is all visible, so every section starts in view."""
        sections = split_window(render(["a"], [], ["d"], LIVY), layout="plain", complete=True)
        assert [(s.stream, s.lines, s.starts) for s in sections] == [
            ("stdout", ("a",), True),
            ("stderr", (), True),
            ("diagnostics", ("d",), True),
        ]

    def test_window_starting_mid_stdout_infers_the_stream_from_the_first_marker(self):
        """Lines before the stderr marker are the tail of stdout."""
        window = render([str(i) for i in range(20)], [], [], DLI)[-WINDOW_SIZE:]
        first = split_window(window, layout="sectioned", complete=False)[0]
        assert (first.stream, first.starts, first.lines[-1]) == ("stdout", False, "19")

    def test_window_starting_mid_stderr(self):
        """Lines before the diagnostics marker are the tail of stderr."""
        window = render(["o"], [f"e{i}" for i in range(12)], ["d"], LIVY)[-WINDOW_SIZE:]
        first = split_window(window, layout="sectioned", complete=False)[0]
        assert (first.stream, first.lines[0]) == ("stderr", "e4")

    def test_unmarked_window_is_one_log_stream(self):
        """Without markers the window is a single 'log' stream."""
        assert split_window(["x", "y"], layout="plain", complete=True)[0].stream == "log"

    def test_unmarked_window_after_markers_is_diagnostics(self):
        """Once a batch showed markers, a window without any is inside the last section."""
        assert unmarked_stream("sectioned", ["x"] * 10, {}) == "diagnostics"


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


def streams_of(lines):
    return [stream for stream, _ in lines]


class TestLayouts:
    @pytest.mark.parametrize(
        ("line", "stream"),
        [
            ("stdout: ", "stdout"),
            ("\nstderr: ", "stderr"),
            ("YARN Diagnostics: ", "diagnostics"),  # DLI
            ("\nYARN Diagnostics: ", "diagnostics"),  # Livy >= 0.4
            ("YARN Diagnostics:", "diagnostics"),  # Livy <= 0.3
            ("\nKubernetes Diagnostics: ", "diagnostics"),  # Livy >= 0.9 on Kubernetes
            ("\t diagnostics: User class threw exception", None),  # spark-submit's own report line
            ("Diagnostics:", None),
            ("yarn diagnostics:", None),
            ("YARN Diagnostics: AM container is launched", None),
        ],
    )
    def test_markers_are_known_by_their_shape(self, line, stream):
        """Any one-word '<Name> Diagnostics:' header opens diagnostics, however padded; text after it is a line."""
        assert marker(line) == stream

    def test_layout_follows_the_headers_seen(self):
        """A bare header alone means Livy <= 0.3; a padded one or an output marker means sectioned, for good."""
        assert layout_of("plain", ["o", "YARN Diagnostics:", "d"]) == "legacy"
        assert layout_of("plain", ["e", "\nYARN Diagnostics: "]) == "sectioned"
        assert layout_of("legacy", ["o1", "o2"]) == "legacy"
        assert layout_of("sectioned", ["YARN Diagnostics:"]) == "sectioned"

    def test_livy_03_header_appearing_keeps_the_output_in_log(self):
        """Livy <= 0.3: lines above a first 'YARN Diagnostics:' are output already reported; none repeats, no gap."""
        w1 = ["o1", "o2", "o3"]
        w2 = [*w1, "o4", "YARN Diagnostics:", "AM container is launched, waiting for AM container to Register with RM"]
        lines, gaps = feed([w1, w2])
        assert lines == [
            *(("log", f"o{i}") for i in range(1, 5)),
            ("diagnostics", "AM container is launched, waiting for AM container to Register with RM"),
        ]
        assert gaps == []

    def test_livy_03_header_disappearing_continues_the_output(self):
        """When YARN clears its diagnostics the header goes too; the window is output again, continued, not repeated."""
        w1 = ["o1", "o2", "YARN Diagnostics:", "d"]
        lines, gaps = feed([w1, ["o1", "o2", "o3"]])
        assert lines == [("log", "o1"), ("log", "o2"), ("diagnostics", "d"), ("log", "o3")]
        assert gaps == []

    def test_livy_03_window_inside_long_diagnostics_continues_them(self):
        """A Livy <= 0.3 window without a header that continues the diagnostics is diagnostics."""
        diag = [f"d{i}" for i in range(12)]
        w1 = ["o1", "YARN Diagnostics:", *diag[:7]]
        lines, gaps = feed([w1, diag[2:]])
        assert lines[-5:] == [("diagnostics", f"d{i}") for i in range(7, 12)]
        assert "log" not in streams_of(lines[2:])
        assert gaps == []

    def test_kubernetes_diagnostics_are_a_replaceable_section(self):
        """Livy on Kubernetes: the header is no log line, the pod diagnostics are replaced without a gap."""
        head = ["stdout: ", "Pi is roughly 3.14", "\nstderr: ", "\nKubernetes Diagnostics: "]
        w1 = [*head, "spark-pi-driver.default:", "\tphase: Running"]
        w2 = [*head, "spark-pi-driver.default:", "\tphase: Succeeded"]
        lines, gaps = feed([w1, w2])
        assert ("stdout", "Pi is roughly 3.14") in lines
        assert lines[-1] == ("diagnostics", "\tphase: Succeeded")
        assert all(line.strip() != "Kubernetes Diagnostics:" for _, line in lines)
        assert gaps == []

    def test_a_log_turning_sectioned_never_repeats_the_unsectioned_lines(self):
        """Lines reported as 'log' while no marker was in view are not reported again once a section holds them."""
        diag = [f"User class threw exception: line {i}" for i in range(12)]
        w1 = diag[2:]  # ten lines of diagnostics: no marker in view yet
        w2 = ["\nstderr: ", "\nYARN Diagnostics: ", *diag[4:]]
        lines, gaps = feed([w1, w2])
        assert [line for _, line in lines] == diag[2:]
        assert gaps == ["log"]  # only the first window's: ten lines without their start


@dataclass
class World:
    """A true log for the properties: append-only stdout/stderr, replaceable diagnostics, in one layout."""

    layout: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    diag: list[str] = field(default_factory=list)

    def add(self, kind: str, lines: list[str]) -> None:
        # Livy <= 0.3 merges stderr into the one output stream
        getattr(self, "stdout" if self.layout == LEGACY else kind).extend(lines)

    def full(self) -> list[str]:
        return render_log(self.layout, self.stdout, self.stderr, self.diag)

    def endpoint(self, markers: bool) -> list[str]:
        """What the log endpoint answers: the whole log, or (like DLI's example) the output without markers."""
        return self.full() if markers else list(self.stdout)


def out_stream(layout: str) -> str:
    """The stream the job's output is reported in: ``log`` for Livy <= 0.3, which has no stdout marker."""
    return "log" if layout == LEGACY else "stdout"


line_text = st.sampled_from(["a", "b", "c"]) | st.text(alphabet="xyz0123456789", min_size=1, max_size=6)
step: st.SearchStrategy[tuple[str, list[str]]] = st.one_of(
    st.tuples(st.just("stdout"), st.lists(line_text, max_size=25)),
    st.tuples(st.just("stderr"), st.lists(line_text, max_size=3)),
    st.tuples(st.just("diag"), st.lists(line_text, max_size=3)),
    st.tuples(st.just("poll"), st.just([])),
)
layouts = st.sampled_from(LAYOUTS)


def run_story(layout, steps, backfill):
    """Play steps against a World and the diff, reading the log endpoint as LogReader does.

    ``backfill`` is None (no log endpoint), "marked" (the whole log) or "unmarked" (the output
    only, without markers). Returns (true streams, emitted lines by stream, gap streams).
    """
    truth, emitted, gaps, _ = run_ordered(layout, steps, backfill)
    return truth, emitted, gaps


def run_ordered(layout, steps, backfill):
    """``run_story``, also returning what it emitted in order: ``(stream, line)``, or ``(stream, None)`` for a gap."""
    world, track = World(layout), LogTrack()
    emitted: dict[str, list[str]] = {"log": [], "stdout": [], "stderr": [], "diagnostics": []}
    gaps: set[str] = set()
    ordered: list[tuple[str, str | None]] = []
    for kind, lines in [*steps, ("final", [])]:
        if kind in ("stdout", "stderr"):
            world.add(kind, lines)
            continue
        if kind == "diag":
            world.diag = list(lines)
            continue
        window = world.full()[-WINDOW_SIZE:]
        result = diff_log(track, window)
        if backfill and wants_log_endpoint(track, result, window, terminal=False):
            result = join_backfill(track, result, window, world.endpoint(backfill == "marked"), from_start=True)
        track = result.track
        for stream, line in result.lines:
            emitted[stream].append(line)
        gaps.update(result.uncertain)
        ordered += interleave(result.lines, result.uncertain)
    return {out_stream(layout): world.stdout, "stderr": world.stderr}, emitted, gaps, ordered


def unmarked_holes(ordered, truth):
    """Lines that follow missed lines of their stream without a gap of that stream since the line before them."""
    holes = []
    for stream, lines in truth.items():
        position = {line: n for n, line in enumerate(lines)}
        expected, gap = 0, False
        for shown, line in ordered:
            if shown != stream:
                continue
            if line is None:
                gap = True
                continue
            if position[line] != expected and not gap:
                holes.append((stream, line))
            expected, gap = position[line] + 1, False
    return holes


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


# stderr and diagnostics long enough to hide the output from the window
loud_step = st.tuples(st.sampled_from(["stdout", "stderr", "diag", "poll"]), st.integers(0, 14))


def distinct_story(steps, *, small=True):
    """Turn (kind, count) steps into lines that never repeat, keeping stdout's tail in view if ``small``."""
    counter = iter(range(10**6))
    story = [(k, [f"{k} {next(counter)}" for _ in range(n)]) for k, n in steps]
    return small_stderr(story) if small else story


class TestProperties:
    @settings(max_examples=examples(400), deadline=None)
    @given(layouts, st.lists(step, max_size=40))
    def test_repeated_lines_never_duplicate_or_reorder(self, layout, steps):
        """With repeated lines, emitted lines are always an ordered subsequence of the true stream.

        A loss hidden by a coincidental overlap of identical lines looks, through the window, exactly
        like no loss; such a case is resolved the conservative way (fewest new lines), never by repeating.
        """
        truth, emitted, _ = run_story(layout, small_stderr(steps), backfill=None)
        for stream, lines in truth.items():
            assert is_subsequence(emitted[stream], lines)

    @settings(max_examples=examples(300), deadline=None)
    @given(layouts, st.lists(unique_step, max_size=40))
    def test_distinct_lines_arrive_exactly_unless_a_gap_is_reported(self, layout, steps):
        """With distinct lines every loss is reported: no gap means the emitted stream is the truth."""
        truth, emitted, gaps = run_story(layout, distinct_story(steps), backfill=None)
        for stream, lines in truth.items():
            assert is_subsequence(emitted[stream], lines)
            if stream not in gaps:
                assert emitted[stream] == lines

    @settings(max_examples=examples(300), deadline=None)
    @given(layouts, st.sampled_from([None, "marked", "unmarked"]), st.lists(unique_step, max_size=40))
    def test_a_gap_sits_where_the_lines_are_missing(self, layout, backfill, steps):
        """Wherever lines of a stream were missed, a gap of that stream sits between the lines around the hole."""
        truth, _, _, ordered = run_ordered(layout, distinct_story(steps, small=False), backfill)
        assert unmarked_holes(ordered, truth) == []

    @settings(max_examples=examples(300), deadline=None)
    @given(layouts, st.lists(unique_step, max_size=40))
    def test_with_backfill_every_line_arrives_once_in_order(self, layout, steps):
        """With the full log to backfill from, bursts far beyond the window lose nothing and report no gap."""
        truth, emitted, gaps = run_story(layout, distinct_story(steps), backfill="marked")
        assert emitted == {**emitted, **truth}
        assert not gaps & set(truth)

    @settings(max_examples=examples(300), deadline=None)
    @given(layouts, st.lists(unique_step, max_size=40))
    def test_marker_less_backfill_recovers_the_output_it_continues(self, layout, steps):
        """A backfill without markers (the output alone) is aligned by content: the output arrives whole, no gap."""
        # the other streams are not in it: they arrive exactly unless a gap says otherwise
        truth, emitted, gaps = run_story(layout, distinct_story(steps), backfill="unmarked")
        out = out_stream(layout)
        assert emitted[out] == truth[out]
        assert out not in gaps
        assert emitted["stderr"] == truth["stderr"] or "stderr" in gaps
        assert is_subsequence(emitted["stderr"], truth["stderr"])

    @settings(max_examples=examples(300), deadline=None)
    @given(layouts, st.sampled_from(["marked", "unmarked"]), st.lists(loud_step, max_size=40))
    def test_backfill_behind_a_hidden_output_never_duplicates(self, layout, backfill, steps):
        """Long stderr and diagnostics hide the output from the window; backfills read it, never repeating a line."""
        truth, emitted, _ = run_story(layout, distinct_story(steps, small=False), backfill=backfill)
        for stream, lines in truth.items():
            assert is_subsequence(emitted[stream], lines)

    @settings(max_examples=examples(300), deadline=None)
    @given(layouts, st.sampled_from(["marked", "unmarked"]), st.lists(step, max_size=40))
    def test_with_backfill_repeated_lines_never_duplicate(self, layout, backfill, steps):
        """Backfilling, with or without markers, with repeated lines still never duplicates or reorders."""
        steps = [(k, v) for k, v in small_stderr(steps) if k != "stderr"]
        truth, emitted, _ = run_story(layout, steps, backfill=backfill)
        for stream, lines in truth.items():
            assert is_subsequence(emitted[stream], lines)


class TestHidden:
    def test_stdout_hidden_when_the_window_starts_past_it(self):
        """Long stderr pushes stdout out of the window; that is what asks for the log endpoint."""
        window = render(["o1"], [f"e{i}" for i in range(9)], [], LIVY)[-WINDOW_SIZE:]
        assert hides_output(LogTrack(layout="sectioned"), window)

    def test_stdout_visible_even_when_empty(self):
        """An empty stdout whose marker is in view is not hidden; nor is an unsectioned log."""
        assert not hides_output(LogTrack(layout="sectioned"), render([], ["e"], ["d"], DLI))
        assert not hides_output(LogTrack(), ["x"] * 10)


# a blank line and a repeated stack frame: the identical lines that make an overlap ambiguous
REPEATED = ["", "\tat org.apache.spark.deploy.yarn.Client.run(Client.scala:1134)"]


def room(layout, stderr, diag):
    """How many output lines a full window shows above the other sections."""
    rest = len(render_log(layout, [], stderr, diag)) - (0 if layout == LEGACY else 1)
    return WINDOW_SIZE - rest


def straddle(layout, before, repeated, stderr, diag):
    """Steps whose two polls cut an identical pair of output lines: the second copy opens the second window."""
    stderr = [] if layout == LEGACY else [f"err {i}" for i in range(stderr)]  # Livy <= 0.3 merges it into the output
    diag = [f"diag {i}" for i in range(diag)]
    first = [f"out {i}" for i in range(before)] + [repeated]
    after = [f"new {i}" for i in range(room(layout, stderr, diag) - 1)]
    steps = [("stdout", first), ("stderr", stderr), ("diag", diag), ("poll", []), ("stdout", [repeated, *after])]
    return steps, first, [repeated, *after]


class TestStraddle:
    def test_emr_pair_cut_by_two_polls_is_a_gap_without_the_log_endpoint(self):
        """Two identical consecutive lines, cut by two polls: the second copy is not taken for the first silently."""
        frame = REPEATED[1]
        w1 = render(["Exception in thread main", frame], [], [], LIVY)
        after = [f"at line {i}" for i in range(7)]
        w2 = render(["Exception in thread main", frame, frame, *after], [], [], LIVY)[-WINDOW_SIZE:]
        assert w2[0] == frame  # the window opens at the second copy
        lines, gaps = feed([w1, w2])
        assert [line for _, line in lines] == ["Exception in thread main", frame, *after]
        assert gaps == ["stdout"]

    @settings(max_examples=examples(200), deadline=None)
    @given(
        st.sampled_from(LAYOUTS),
        st.sampled_from([None, "marked", "unmarked"]),
        st.sampled_from(REPEATED),
        st.integers(0, 2),
        st.integers(0, 2),
        st.data(),
    )
    def test_a_repeated_line_straddling_two_polls(self, layout, backfill, repeated, stderr, diag, data):
        """With the log endpoint every line arrives once, no gap; without it a gap sits where the copy was lost."""
        shown = room(layout, [] if layout == LEGACY else ["e"] * stderr, ["d"] * diag)
        # the first poll shows the output from its start, the second starts at the pair's second copy
        before = data.draw(st.integers(0, shown - 2), label="before")
        steps, first, second = straddle(layout, before, repeated, stderr, diag)
        # a last poll overlapping by more than one line: nothing repeats after the pair
        more = data.draw(st.integers(0, shown - 2), label="more")
        steps += [("poll", []), ("stdout", [f"more {i}" for i in range(more)])]
        truth, _, gaps, ordered = run_ordered(layout, steps, backfill)
        out = out_stream(layout)
        got = [line for stream, line in ordered if stream == out]
        rest = truth[out][len(first) + len(second) :]
        if backfill:
            assert got == [*first, *second, *rest]
            assert out not in gaps
        else:
            assert got == [*first, None, *second[1:], *rest]
