"""The poller's timetable gives what a heap of (time, batch) entries popped one by one gives, stale entries skipped."""

from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from watcher.core.timetable import Timetable

BATCHES = st.sampled_from([f"b{n}" for n in range(8)])
TIMES = st.integers(0, 6).map(float)  # few times: many batches share one, as a list cycle's do
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), BATCHES, TIMES),
        st.tuples(st.just("drop"), BATCHES, st.just(0.0)),
        st.tuples(st.just("pop"), st.just(""), TIMES),
    ),
    max_size=60,
)


@given(STEPS)
def test_the_timetable_pops_what_a_heap_of_entries_pops(steps: list[tuple[str, str, float]]) -> None:
    """Puts, drops and pops in any order: each pop gives the heap's current due entries, earliest first."""
    table, heap, due, order = Timetable(), list[tuple[float, int, str]](), dict[str, float](), 0
    for op, bid, at in steps:
        if op == "put":
            table.put(bid, at)
            due[bid] = at
            heapq.heappush(heap, (at, order, bid))  # ties in the order queued
            order += 1
        elif op == "drop":
            table.drop(bid)
            due.pop(bid, None)
        else:
            popped = []
            while heap and heap[0][0] <= at:
                when, _, b = heapq.heappop(heap)
                if due.get(b) == when:
                    popped.append(b)
            assert table.pop_due(at) == popped
        assert table.earliest() == (heap[0][0] if heap else None)
        assert dict(zip(table, map(table.when, table), strict=True)) == due and len(table) == len(due)
        assert all(b in table for b in due)


def test_a_batch_queued_again_is_due_at_its_new_time_only():
    """Its old entry is left behind and skipped; it stays queued after it is popped (the poller's in-flight)."""
    table = Timetable()
    table.put("a", 10.0)
    table.put("a", 20.0)
    table.put("b", 10.0)
    assert table.pop_due(15.0) == ["b"]
    assert table.pop_due(25.0) == ["a"]
    assert "a" in table and table.when("a") == 20.0
    assert table.earliest() is None
