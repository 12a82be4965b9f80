"""The status page's ring keeps each batch's entries in one flat tuple: what goes in comes out whole."""

from __future__ import annotations

from dataclasses import astuple, fields

from watcher.core.events import Event
from watcher.core.recent import FIELDS, Entry, Recent


def test_an_entry_takes_as_many_items_as_entry_has_fields() -> None:
    """A field added to Entry must be kept too, or every later entry of the batch reads shifted."""
    assert len(fields(Entry)) == FIELDS


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
