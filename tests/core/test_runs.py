"""A batch's run is decided by pure code: counted once with its final outcome, duration and honest queue wait."""

from __future__ import annotations

from watcher.core.board import DURATION, QUEUE_WAIT, Board, JobSummary, record_run
from watcher.core.histogram import JOB_BUCKETS, Histogram
from watcher.core.labels import OVERFLOW, LabelCap
from watcher.core.model import Snapshot
from watcher.core.runs import Run
from watcher.core.tracker import Failure, LogResult, Track, observe, observe_failure, observe_missing
from watcher.core.watchstatus import watch_status

CREATED = 1_700_000_000_000
GRACE = 120.0


def snap(state: str, update_s: float, **kw) -> Snapshot:
    return Snapshot(
        "b1", state, state, name="etl", queue="q1", create_time=CREATED, update_time=int(update_s * 1000), **kw
    )


def story(*steps: tuple[float, str]) -> tuple[Track, Board]:
    """Feed (time, state) polls through observe and the board's settlement, as the daemon does."""
    board, track = Board(), Track("b1")
    for now, state in steps:
        track, events = observe(track, snap(state, now), now, LogResult())
        board.note_events(track, events, now)
        board.put(track)
        track, _ = board.count_outcome(track, now, GRACE)
    return track, board


def test_success_counts_at_once_with_duration_and_queue_wait():
    """Seen starting, then running, then succeeded: one run, its API duration, its queue wait from the first running."""
    t0 = CREATED / 1000
    track, board = story((t0 + 10, "starting"), (t0 + 40, "running"), (t0 + 100, "success"))
    assert track.outcome == "succeeded"
    assert track.started_at == t0 + 40
    job = board.jobs["etl"]
    assert (job.runs, job.last_outcome, job.last_duration, job.last_finish) == (
        (("succeeded", 1),),
        "succeeded",
        100.0,
        t0 + 100,
    )
    assert board.histograms[(DURATION, "q1", "succeeded")].total == 100.0
    assert board.histograms[(QUEUE_WAIT, "q1", "succeeded")].total == 40.0


def test_no_queue_wait_for_a_batch_first_seen_running():
    """A batch first seen running has no start time and no queue wait (never a made-up 0); its duration still counts."""
    t0 = CREATED / 1000
    track, board = story((t0 + 50, "running"), (t0 + 90, "success"))
    assert track.started_at is None
    assert (QUEUE_WAIT, "q1", "succeeded") not in board.histograms
    assert board.histograms[(DURATION, "q1", "succeeded")].counts[JOB_BUCKETS.index(120.0)] == 1


def test_a_dead_batch_revived_by_dli_counts_one_success():
    """dead, recovering, success within the grace: one run, succeeded, and nothing counted while dead."""
    t0 = CREATED / 1000
    track, board = story((t0 + 10, "running"), (t0 + 60, "dead"), (t0 + 90, "dead"), (t0 + 120, "recovering"))
    assert track.outcome is None
    assert board.jobs == {}
    track, _ = board.count_outcome(track, t0 + 1000, GRACE, revivable=True)
    assert track.outcome is None  # recovering is not final, however long
    for now, state in ((t0 + 200, "success"), (t0 + 500, "success")):
        track, _events = observe(track, snap(state, t0 + 200), now, LogResult())
        track, _ = board.count_outcome(track, now, GRACE)
    assert board.jobs["etl"].runs == (("succeeded", 1),)


def test_dead_is_final_after_the_grace_and_counted_once():
    """Dead counts as failed only once the grace is over, then never again (the mark is on the track)."""
    t0 = CREATED / 1000
    track, board = story((t0 + 10, "running"), (t0 + 60, "dead"))
    assert board.jobs == {}
    track, _ = board.count_outcome(track, t0 + 60 + GRACE, GRACE)
    track, _ = board.count_outcome(track, t0 + 60 + 2 * GRACE, GRACE)
    assert track.outcome == "failed"
    assert board.jobs["etl"].runs == (("failed", 1),)
    assert board.jobs["etl"].last_failure == t0 + 60


def test_a_failing_poll_after_the_grace_still_settles_a_dead_batch():
    """The outcome comes from the last answer: a poll that fails after the grace does not leave the run uncounted."""
    t0 = CREATED / 1000
    track, board = story((t0 + 10, "running"), (t0 + 60, "dead"))
    track, _ = observe_failure(track, Failure("connect", "down"), t0 + 60 + GRACE)
    assert board.count_outcome(track, t0 + 60 + GRACE, GRACE)[0].outcome == "failed"


def test_gone_and_not_found_batches():
    """A finished batch that is gone settles at once; a never-found batch has no run."""
    t0 = CREATED / 1000
    track, board = story((t0 + 10, "running"), (t0 + 60, "dead"))
    gone, _ = observe_missing(track, t0 + 70)
    assert board.count_outcome(gone, t0 + 70, GRACE)[0].outcome == "failed"
    typo, _ = observe_missing(Track("typo"), t0)
    assert Board().count_outcome(typo, t0 + 10_000, GRACE, revivable=True) == (typo, [])


def test_an_older_finish_counts_but_does_not_become_the_last():
    """Runs are counted whatever their order; the last-finish fields follow the newest finish only."""
    newer = Run("etl", "q", "succeeded", 200.0, 10.0, None)
    older = Run("etl", "q", "failed", 100.0, 5.0, None)
    summary = record_run(record_run(JobSummary("etl"), newer), older)
    assert summary.runs == (("succeeded", 1), ("failed", 1))
    assert (summary.last_outcome, summary.last_finish, summary.last_failure) == ("succeeded", 200.0, None)


def test_job_names_past_the_bound_fold_into_the_overflow_value():
    """With a bound of two job names, a third job's runs count under the overflow value."""
    board = Board(labels=LabelCap(2))
    for name in ("a", "b", "c", "d"):
        board.record(Run(name, "q", "succeeded", 1.0, 1.0, None))
    assert sorted(board.jobs) == [OVERFLOW, "a", "b"]
    assert board.jobs[OVERFLOW].runs == (("succeeded", 2),)


def test_label_values_are_clipped_and_admitted_values_stay():
    """Long values are cut; a value admitted once stays admitted; shown() never admits."""
    cap = LabelCap(1)
    assert cap.shown("queue", "q") == OVERFLOW
    assert cap.admit("queue", "x" * 500) == "x" * 128
    assert cap.admit("queue", "other") == OVERFLOW
    assert cap.shown("queue", "x" * 300) == "x" * 128
    assert cap.admit("queue", None) == ""


def test_watch_status_of_each_case():
    """Pending before a first answer, failing while polls fail, else what the last answer said."""
    assert watch_status(Track("a")) == "pending"
    assert watch_status(Track("a", failing_since=1.0)) == "failing"
    assert watch_status(Track("a", presence="present", failing_since=1.0)) == "failing"
    assert watch_status(Track("a", presence="present")) == "ok"
    assert watch_status(Track("a", presence="not_found")) == "not_found"
    assert watch_status(Track("a", presence="gone")) == "gone"


def test_histogram_buckets_are_cumulative_and_le_is_inclusive():
    """A value equal to a bound falls in that bucket; +Inf counts everything."""
    hist = Histogram().observe(60.0).observe(86_401.0)
    pairs = dict(hist.cumulative())
    assert (pairs["30.0"], pairs["60.0"], pairs["86400.0"], pairs["+Inf"]) == (0, 1, 1, 2)


def test_restored_batches_keep_their_label_values():
    """Values of restored tracks and jobs are admitted at restore, before any poll, so they do not overflow."""
    board = Board(labels=LabelCap(1))
    restored = Track("old", snapshot=snap("success", 100.0), presence="present")
    board.restore({"old": restored}, {}, {})
    assert board.labels.shown("job_name", "etl") == "etl"
    assert board.labels.shown("queue", "q1") == "q1"
    assert board.labels.admit("queue", "q2") == OVERFLOW
