"""Which batches are due when: the poller's queue of next polls, one bucket of batches per poll time.

A list cycle queues every batch on one slot. A heap entry per batch, a tuple pushed through the
heap's depth, was a fifth of list mode's CPU at 100,000 batches and 64 bytes a batch (issue 30);
here a batch is one item of its time's bucket, and the heap holds the distinct times only (one in
list mode). A batch queued again leaves its old item behind, skipped when that time comes.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


class Timetable:
    """Each queued batch's next poll time; the batches due by a time, earliest first."""

    __slots__ = ("_buckets", "_due", "_times")

    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._buckets: dict[float, list[str]] = {}
        self._times: list[float] = []  # a heap of the buckets' times

    def __contains__(self, batch_id: object) -> bool:
        """Whether the batch is queued (in flight or not)."""
        return batch_id in self._due

    def __iter__(self) -> Iterator[str]:
        """The queued batches, in the order they were first queued."""
        return iter(self._due)

    def __len__(self) -> int:
        """How many batches are queued."""
        return len(self._due)

    def when(self, batch_id: str) -> float | None:
        """The batch's next poll time (None: not queued)."""
        return self._due.get(batch_id)

    def put(self, batch_id: str, when: float) -> None:
        """Queue the batch's next poll at ``when``, in place of any it had."""
        self._due[batch_id] = when
        bucket = self._buckets.get(when)
        if bucket is None:
            self._buckets[when] = [batch_id]
            heapq.heappush(self._times, when)
        else:
            bucket.append(batch_id)

    def drop(self, batch_id: str) -> None:
        """Queue no more polls of the batch."""
        self._due.pop(batch_id, None)

    def earliest(self) -> float | None:
        """The earliest time a batch is queued at (a dropped or requeued batch's may linger: it wakes for nothing)."""
        return self._times[0] if self._times else None

    def pop_due(self, now: float) -> list[str]:
        """The batches due by ``now``, earliest time first, each time's in the order queued; they stay queued.

        A batch appears once per time it is due at (queued twice at one time: twice, for the caller's in-flight check).
        """
        due, times, out = self._due, self._times, []
        while times and times[0] <= now:
            when = heapq.heappop(times)
            out += [bid for bid in self._buckets.pop(when) if due.get(bid) == when]
        return out
