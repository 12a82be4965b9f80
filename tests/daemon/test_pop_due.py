"""The scheduler's bulk take of due entries gives what popping them one by one gives, and leaves the same heap."""

from __future__ import annotations

import heapq
import random

import pytest

from watcher.daemon.poller import BULK_POP, _split_due


@pytest.mark.parametrize("seed", range(40))
def test_split_due_is_popping_every_due_entry(seed: int) -> None:
    """Entries (ties and stale duplicates included) come out in pop order; what is left pops as it would have."""
    rng = random.Random(seed)
    heap: list[tuple[float, str]] = []
    for _ in range(rng.randint(0, 3 * BULK_POP)):
        heapq.heappush(heap, (float(rng.randint(0, 50)), f"b{rng.randint(0, 60)}"))
    now = float(rng.randint(-1, 55))
    popped, rest = [], list(heap)
    while rest and rest[0][0] <= now:
        popped.append(heapq.heappop(rest))
    taken = _split_due(heap, now)
    assert taken == popped
    assert [heapq.heappop(heap) for _ in range(len(heap))] == [heapq.heappop(rest) for _ in range(len(rest))]
