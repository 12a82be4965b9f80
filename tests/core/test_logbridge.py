"""Joining log endpoint answers to a poll: marker-less lines aligned by content, and when to ask at all."""

from __future__ import annotations

from watcher.core.log.bridge import bridge, join_backfill
from watcher.core.log.diff import LogTrack, StreamTrack, diff_log
from watcher.core.log.fetch import update_settled, wants_log_endpoint
from watcher.core.log.layout import WINDOW_SIZE
from watcher.simulator.layouts import render_log

OUT = [f"out {i}" for i in range(60)]


def dli(stdout, stderr=(), diag=()):
    return render_log("dli", stdout, stderr, diag)


class TestBridge:
    def test_lines_between_what_we_saw_and_what_the_window_shows(self):
        """Our last line and the window's lines both sit once in the text: what lies between is recovered."""
        assert bridge(StreamTrack(tuple(OUT[:3]), 3), OUT[50:52], OUT, from_start=True) == tuple(OUT[3:52])

    def test_a_hidden_stream_runs_to_the_end_of_the_text(self):
        """A stream the window does not show continues to the end of the answer."""
        assert bridge(StreamTrack(tuple(OUT[:3]), -1), (), OUT[1:], from_start=False) == tuple(OUT[3:])

    def test_two_readings_recover_nothing(self):
        """Our last line occurs twice in the text: either could be ours, so nothing is recovered."""
        text = ["a", "b", "x", "a", "b", "y", "z"]
        assert bridge(StreamTrack(("a", "b"), -1), ["z"], text, from_start=False) is None

    def test_text_that_does_not_continue_the_stream_recovers_nothing(self):
        """DLI's published /log example, a placeholder line, continues no stream we saw."""
        text = ["Detailed information about job logs"]
        assert bridge(StreamTrack(("a", "b"), 2), ["c"], text, from_start=True) is None

    def test_a_stream_never_seen_nor_shown_has_no_anchor(self):
        """With neither end known by content, the text could belong to any stream: nothing is guessed."""
        assert bridge(StreamTrack(), (), OUT, from_start=True) is None


class TestJoin:
    def test_marker_less_backfill_recovers_a_burst(self):
        """A burst past the window: the window diff has a gap, the marker-less answer fills it, no gap remains."""
        first = diff_log(LogTrack(), dli(OUT[:2]))
        window = dli(OUT)[-WINDOW_SIZE:]
        diff = diff_log(first.track, window)
        assert diff.uncertain == ("stdout",)
        joined = join_backfill(first.track, diff, window, OUT, from_start=True)
        assert joined.lines == tuple(("stdout", line) for line in OUT[2:])
        assert joined.uncertain == ()

    def test_unplaceable_backfill_keeps_the_window_diff_and_its_gap(self):
        """An answer that continues nothing leaves the window's diff as it was: the gap is reported."""
        first = diff_log(LogTrack(), dli(OUT[:2]))
        window = dli(OUT)[-WINDOW_SIZE:]
        diff = diff_log(first.track, window)
        placeholder = ["Detailed information about job logs"]
        assert join_backfill(first.track, diff, window, placeholder, from_start=True) == diff

    def test_hidden_output_is_read_and_the_next_window_repeats_nothing(self):
        """Long stderr hides stdout; the marker-less answer gives its new lines, and later windows add only theirs."""
        errs = [f"err {i}" for i in range(12)]
        first = diff_log(LogTrack(), dli(OUT[:2]))
        window = dli(OUT[:20], errs)[-WINDOW_SIZE:]
        diff = diff_log(first.track, window)
        joined = join_backfill(first.track, diff, window, OUT[:20], from_start=True)
        assert [line for stream, line in joined.lines if stream == "stdout"] == OUT[2:20]
        later = diff_log(joined.track, dli(OUT[:21])[-WINDOW_SIZE:])
        assert [line for stream, line in later.lines if stream == "stdout"] == [OUT[20]]


class TestWhenToAsk:
    DEAD = dli([], [], [f"diagnostics {i}" for i in range(9)])[-WINDOW_SIZE:]  # the header, then diagnostics

    def test_a_finished_batch_with_an_unchanged_window_is_read_once(self):
        """The final read once, then an unchanged window (all diagnostics) asks nothing for the rest of the grace."""
        first = diff_log(LogTrack(), self.DEAD)
        assert wants_log_endpoint(LogTrack(), first, self.DEAD, terminal=True)
        track = update_settled(first.track, terminal=True, read=True)
        again = diff_log(track, self.DEAD)
        assert not wants_log_endpoint(track, again, self.DEAD, terminal=True)

    def test_a_failed_final_read_is_tried_again(self):
        """Until a read answers, the final read stays due."""
        first = diff_log(LogTrack(), self.DEAD)
        track = update_settled(first.track, terminal=True, read=False)
        assert wants_log_endpoint(track, diff_log(track, self.DEAD), self.DEAD, terminal=True)

    def test_a_running_batch_with_hidden_output_keeps_asking(self):
        """While the job runs its output can grow behind an unchanged window: that still needs the endpoint."""
        first = diff_log(LogTrack(), self.DEAD)
        assert wants_log_endpoint(first.track, diff_log(first.track, self.DEAD), self.DEAD, terminal=False)

    def test_running_again_resets_the_final_read(self):
        """A batch revived after finishing owes a new final read when it finishes again."""
        track = update_settled(LogTrack(settled=True), terminal=False, read=False)
        assert not track.settled
