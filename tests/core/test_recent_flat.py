"""The status page's ring keeps each batch's entries in one string: what goes in comes out whole."""

from __future__ import annotations

from dataclasses import astuple

from hypothesis import given
from hypothesis import strategies as st

from watcher.core.events import Event
from watcher.core.recent import MAX_KEPT_CHARS, Recent, clip, detail

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def test_entries_come_back_with_every_field_in_order() -> None:
    """Time, name, level, detail and message of each entry, the oldest cut once the ring is full."""
    recent = Recent(per_batch=2, describe=lambda e: f"said {e.fields['n']}")
    events = [Event("batch.changed", "warning", "b1", n, {"n": n}, "") for n in range(3)]
    for n, event in enumerate(events):
        recent.record([event], 10.0 + n, {"b1"})
    got = [astuple(e) for e in recent.events("b1")]
    assert got == [
        (11.0, "batch.changed", "warning", "n=1", "said 1"),
        (12.0, "batch.changed", "warning", "n=2", "said 2"),
    ]


def test_the_sentence_is_said_with_the_context_the_page_gives() -> None:
    """The context left out of each entry (job, queue, app) is the page's to give back when it says the sentence."""
    recent = Recent(describe=lambda e: f"{e.fields.get('queue')} {e.fields['state']}")
    fields = {"job_name": "etl", "queue": "q1", "app_id": None, "state": "running"}
    recent.record([Event("batch.discovered", batch_id="b1", fields=fields)], 1.0, {"b1"})
    assert [(e.detail, e.message) for e in recent.events("b1", {"queue": "q1"})] == [("state=running", "q1 running")]
    assert [e.message for e in recent.events("b1")] == ["None running"]


def test_fields_too_long_to_keep_whole_keep_their_line_and_sentence() -> None:
    """Past MAX_KEPT_CHARS the entry keeps the clipped fields line and sentence made when it was recorded."""
    recent = Recent(describe=lambda _e: "x" * 2000)
    fields = {"error_message": "y" * 3000, "n": 1}
    recent.record([Event("batch.poll_failed", "warning", "b1", fields=fields)], 2.0, {"b1"})
    (got,) = recent.events("b1")
    assert (got.detail, got.message) == (detail(fields), clip("x" * 2000))
    assert len(recent._events["b1"]) < MAX_KEPT_CHARS + 2 * 512 + 100


@given(
    fields=st.dictionaries(st.text(), JSON, max_size=4),
    names=st.lists(st.sampled_from(["batch.discovered", "batch.state_changed", "batch.finished"]), max_size=6),
    per_batch=st.integers(1, 4),
)
def test_any_fields_come_back_as_their_line_in_order(fields, names, per_batch) -> None:
    """Any JSON fields (control characters and separators in keys and values too) read back as recorded, in order."""
    recent = Recent(per_batch=per_batch)
    for n, name in enumerate(names):
        recent.record([Event(name, "info", "b1", fields={**fields, "n": n})], float(n), {"b1"})
    got = recent.events("b1")
    want = [(float(n), name, detail({**fields, "n": n})) for n, name in enumerate(names)][-per_batch:]
    assert [(e.at, e.name, e.detail) for e in got] == want


def test_a_lone_surrogate_in_a_field_is_kept_and_read_back() -> None:
    """Text no UTF-8 encoder takes (a lone surrogate) neither fails the record on the poll loop nor is lost."""
    recent = Recent()
    recent.record([Event("batch.changed", "info", "b1", fields={"name": "a\ud800b"})], 1.0, {"b1"})
    assert [e.detail for e in recent.events("b1")] == ["name=a\ud800b"]
