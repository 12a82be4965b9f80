"""What the status page keeps of each batch's recent events: bounded per batch, only watched batches, no log lines."""

from __future__ import annotations

from watcher.core.events import Event
from watcher.core.recent import MAX_DETAIL_CHARS, Recent, detail
from watcher.core.tracker import Track


def event(name, batch_id="b1", **fields):
    return Event(name, "info", batch_id, 1, fields)


def test_each_batch_keeps_its_last_entries_oldest_first():
    """Past the bound the oldest entries go; each batch has its own ring."""
    recent = Recent(per_batch=3)
    recent.record([event("batch.changed", n=n) for n in range(5)], 10.0, {"b1", "b2"})
    recent.record([event("batch.discovered", "b2")], 11.0, {"b1", "b2"})
    assert [e.detail for e in recent.events("b1")] == ["n=2", "n=3", "n=4"]
    assert [(e.at, e.name) for e in recent.events("b2")] == [(11.0, "batch.discovered")]
    assert recent.events("b3") == ()


def test_log_lines_watcher_events_and_unwatched_batches_are_not_kept():
    """Log lines live in the track; the watcher's own events have no batch; an unwatched batch gets no ring."""
    recent = Recent()
    recent.record(
        [event("batch.log", stream="stdout", line="x"), Event("watcher.started"), event("batch.gone", "gone")],
        1.0,
        {"b1"},
    )
    assert len(recent) == 0


def test_the_last_poll_error_outlives_later_events():
    """The last batch.poll_failed is kept apart, so newer entries pushing it out of the ring keep it shown."""
    recent = Recent(per_batch=1)
    failed = event("batch.poll_failed", reason="http", status_code=503, error_code="DLI.0001", message="busy")
    recent.record([failed], 5.0, {"b1"})
    recent.record([event("batch.poll_recovered", failed_seconds=1.0)], 6.0, {"b1"})
    problem = recent.error("b1")
    assert problem is not None
    assert (problem.at, problem.reason, problem.status_code, problem.error_code, problem.message) == (
        5.0,
        "http",
        503,
        "DLI.0001",
        "busy",
    )
    assert [e.name for e in recent.events("b1")] == ["batch.poll_recovered"]


def test_forget_drops_everything_about_a_batch():
    """Batches no longer watched take their entries, error and last poll with them: the whole is bounded."""
    recent = Recent()
    recent.record([event("batch.poll_failed", reason="timeout")], 1.0, {"b1"})
    recent.polled(Track("b1", up=False), 2.0)
    recent.forget(["b1"])
    assert (recent.events("b1"), recent.error("b1"), recent.last_poll(Track("b1")), len(recent)) == ((), None, None, 0)


def test_details_are_one_bounded_line():
    """Fields read as key=value, nested ones as compact JSON, cut at the bound."""
    assert detail({"state": "running", "changes": {"queue": {"old": "a", "new": "b"}}, "n": None}) == (
        'state=running changes={"queue":{"old":"a","new":"b"}} n=null'
    )
    long = detail({"message": "x" * 10_000})
    assert len(long) == MAX_DETAIL_CHARS
    assert long.endswith("…")


def test_entries_leave_out_the_context_every_batch_event_repeats():
    """job_name, queue and app_id (the batch page shows them once) are not kept in each entry; the rest is."""
    recent = Recent()
    fields = {"job_name": "etl", "queue": "q", "app_id": None, "state": "running"}
    recent.record([Event("batch.discovered", batch_id="b1", fields=fields)], 1.0, {"b1"})
    assert [e.detail for e in recent.events("b1")] == ["state=running"]
