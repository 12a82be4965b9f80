"""The ring's packed form: deflate with the preset words, times as millisecond varints after the stream."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from watcher.core.events import Event, rfc3339
from watcher.core.recent import MAX_KEPT_CHARS, UNSHOWN, WBITS, Recent, millis, pack, unpack
from watcher.core.recentwords import RS, US, WORDS
from watcher.core.vocabulary import EVENT_NAMES

CONTEXT = {"job_name": "etl-daily-orders", "queue": "q_prod", "app_id": None}
# the bench's four entries a batch (tests/bench/memory.py): a failed poll, its recovery, a log gap, running
FOUR = [
    Event(
        "batch.poll_failed",
        "warning",
        "b1",
        fields={
            **CONTEXT,
            "reason": "http",
            "status_code": 503,
            "error_code": "APIG.0201",
            "error_message": "503 Service Unavailable: APIG.0201 Backend unavailable",
            "attempts": 3,
        },
    ),
    Event("batch.poll_recovered", "info", "b1", fields={**CONTEXT, "failed_seconds": 30.0}),
    Event("batch.log_gap", "warning", "b1", fields={**CONTEXT, "stream": "stdout", "missed_lines": None}),
    Event(
        "batch.state_changed",
        "info",
        "b1",
        fields={
            **CONTEXT,
            "from_state": "starting",
            "to_state": "running",
            "update_time": "2026-12-07T10:37:14.369Z",
            "previous_state_seconds": 90.0,
        },
    ),
]


@given(times=st.lists(st.floats(0, 2**33), min_size=1, max_size=6), per_batch=st.integers(1, 4))
@example(times=[1.0005, 1.9999995, 1796639834.4367638, 1796639834.4367638, 5.0], per_batch=4)
def test_times_come_back_as_the_page_shows_them_even_when_the_clock_steps_back(times, per_batch) -> None:
    """Each entry's time reads back to the same millisecond stamp as it was written at, in any order."""
    recent = Recent(per_batch=per_batch)
    for n, now in enumerate(times):
        recent.record([Event("batch.changed", "info", "b1", fields={"n": n})], now, {"b1"})
    got = [(e.detail, rfc3339(e.at)) for e in recent.events("b1")]
    assert got == [(f"n={n}", rfc3339(now)) for n, now in enumerate(times)][-per_batch:]


@given(st.floats(0, 2**33))
def test_millis_are_what_the_stamp_shows(now) -> None:
    """A time kept in whole milliseconds stamps as the time itself: rounding half to even, then cutting."""
    assert rfc3339(millis(now) / 1000) == rfc3339(now)


@given(
    records=st.lists(st.text(alphabet=st.characters(exclude_characters=RS)), min_size=1, max_size=5),
    data=st.data(),
)
def test_packed_records_and_times_come_back_whole(records, data) -> None:
    """Any text between the separators and any millisecond times (earlier than the one before too) round-trip."""
    times = data.draw(st.lists(st.integers(-(2**50), 2**50), min_size=len(records), max_size=len(records)))
    assert unpack(pack(records, times)) == (records, times)


def test_a_full_ring_of_the_longest_entries_comes_back() -> None:
    """Fifty entries of about MAX_KEPT_CHARS each (far past the deflate window) read back in order."""
    recent = Recent(per_batch=50)
    for n in range(60):
        text = "".join(chr(0x20 + (n * 7919 + k * 104729) % 0x5F) for k in range(MAX_KEPT_CHARS - 40))
        recent.record([Event("batch.changed", "info", "b1", fields={"n": n, "text": text})], 100.0 + n, {"b1"})
    got = recent.events("b1")
    assert [(e.at, e.detail.split(" ", 1)[0]) for e in got] == [(100.0 + n, f"n={n}") for n in range(10, 60)]


def test_every_kept_batch_event_starts_in_the_preset_words() -> None:
    """Each batch event the ring keeps has its name in the dictionary, so even a first entry of it costs a match."""
    kept = [name for name in EVENT_NAMES if name.startswith("batch.") and name not in UNSHOWN]
    assert [name for name in kept if f"{RS}{name}{US}".encode() not in WORDS] == []


def test_the_preset_words_leave_room_in_the_window_for_a_batch_s_first_entries() -> None:
    """Deflate reaches back at most its window less 262 bytes: the words must fit, with room for the text after them."""
    assert len(WORDS) + 1024 <= 2**-WBITS - 262


def test_the_bench_s_four_entries_take_under_a_hundred_bytes() -> None:
    """The bench's four entries a batch pack into under 100 bytes (zlib alone took 290) and read back whole."""
    recent = Recent(per_batch=4)
    at = 1796639834.4367638
    recent.record([FOUR[0]], at, {"b1"})
    recent.record(FOUR[1:], at + 30.012, {"b1"})
    assert len(recent._events["b1"]) < 100
    assert [e.name for e in recent.events("b1")] == [e.name for e in FOUR]
