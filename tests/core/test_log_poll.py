"""The log diff's entry point: before a /log read (the window's diff, whether to read) and after it (the outcome)."""

from __future__ import annotations

from dataclasses import replace

from watcher.core.log.diff import LogTrack, diff_log
from watcher.core.log.fetch import UNAVAILABLE_AFTER
from watcher.core.log.layout import WINDOW_SIZE
from watcher.core.log.poll import Answer, after_read, before_read, kept_window
from watcher.simulator.layouts import render_log

OUT = [f"out {i}" for i in range(60)]


def dli(stdout):
    return render_log("dli", stdout, (), ())


def burst() -> tuple[LogTrack, list[str]]:
    """A track that saw two lines, and a window that has scrolled far past them (a gap)."""
    return diff_log(LogTrack(), dli(OUT[:2])).track, dli(OUT)[-WINDOW_SIZE:]


def test_a_gap_asks_for_a_read_and_the_answer_fills_it():
    """The window's diff is uncertain, so the plan reads; a marker-less answer recovers the burst, no gap stays."""
    prev, window = burst()
    plan = before_read(prev, window, terminal=False, now=100.0, every=60.0)
    assert plan.read and plan.diff.uncertain == ("stdout",)
    out = after_read(plan, Answer(tuple(OUT), from_start=True))
    assert out.lines == tuple(("stdout", line) for line in OUT[2:])
    assert out.gaps == ()
    assert (out.track.read_at, out.track.misses, out.gave_up) == (100.0, 0, False)


def test_no_read_keeps_the_window_diff_and_its_gap():
    """With the endpoint off the plan never reads; the outcome is the window's own diff, gap included."""
    prev, window = burst()
    plan = before_read(prev, window, terminal=False, now=100.0, every=60.0, enabled=False)
    assert not plan.read
    out = after_read(plan, None)
    assert (out.lines, out.gaps, out.track) == (plan.diff.lines, ("stdout",), plan.diff.track)


def test_useless_answers_give_up_once_and_a_transient_failure_is_not_one():
    """Answers that continue nothing count; the UNAVAILABLE_AFTER-th gives up (said once); a timeout counts none."""
    base, window = burst()
    prev, gave_up, reads = base, [], 0
    for n in range(UNAVAILABLE_AFTER + 1):
        plan = before_read(prev, window, terminal=False, now=100.0 + n, every=60.0)
        reads += plan.read
        out = after_read(plan, Answer(("Detailed information about job logs",)) if plan.read else None)
        gave_up.append(out.gave_up)
        prev = replace(base, misses=out.track.misses)  # the same gap again next poll, with the misses counted
    assert gave_up == [False] * (UNAVAILABLE_AFTER - 1) + [True, False]
    assert (prev.misses, reads) == (UNAVAILABLE_AFTER, UNAVAILABLE_AFTER)
    fresh, window = burst()
    timed_out = after_read(before_read(fresh, window, terminal=False, now=5.0, every=60.0), Answer(answered=False))
    assert (timed_out.track.misses, timed_out.track.read_at, timed_out.gaps) == (0, 5.0, ("stdout",))


def test_a_finished_batch_reads_until_an_answer_settles_it():
    """Once finished, the plan reads until a read answers (an error that will not change counts), then never."""
    prev, window = burst()
    first = after_read(before_read(prev, window, terminal=True, now=1.0, every=60.0), Answer(answered=False))
    assert not first.track.settled
    second_plan = before_read(first.track, window, terminal=True, now=2.0, every=60.0)
    assert second_plan.read
    settled = after_read(second_plan, Answer(None, answered=True)).track
    assert settled.settled
    assert not before_read(settled, window, terminal=True, now=3.0, every=60.0).read


def test_kept_window_says_yes_only_when_the_full_diff_adds_and_reads_nothing():
    """Where the quick answer says "kept", the plan reads nothing and keeps the very track; a steady window is kept."""
    behind = render_log("dli", OUT[:3], [f"err {i}" for i in range(20)], ())[-WINDOW_SIZE:]
    hidden = diff_log(diff_log(LogTrack(), dli(OUT[:3])).track, behind).track
    shown = diff_log(LogTrack(), dli(OUT[:3])).track
    assert hidden.hidden and not shown.hidden
    said = []
    for base in (shown, hidden):
        for settled in (False, True):
            for misses in (0, UNAVAILABLE_AFTER):
                prev = replace(base, settled=settled, misses=misses)
                for window in (prev.window, str(prev.window), dli(OUT[:4])):
                    for terminal in (False, True):
                        if not kept_window(prev, window, terminal=terminal):
                            continue
                        said.append((base is shown, settled, terminal))
                        plan = before_read(prev, window, terminal=terminal, now=500.0, every=60.0)
                        out = after_read(plan, None)
                        assert not plan.read
                        assert (out.lines, out.gaps, out.gave_up) == ((), (), False)
                        assert out.track is prev
    assert (True, False, False) in said and (True, True, True) in said
    assert all(shown_ for shown_, _, _ in said)  # a hidden window is paced by time: always the full plan
