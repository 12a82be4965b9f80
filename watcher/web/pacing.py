"""A cap on the share of time a piece of work may take: after a run of d seconds, the next waits (1/share - 1) * d.

The status pages render in the thread /metrics renders in, holding the GIL for ~10 ms a page at
10,000 batches. Ten people loading different pages back to back would keep that thread busy all
the time, and the poll loop would wait for the GIL every time it wakes. Resting between pages (the
sleep releases the GIL) leaves the loop, and the scrapes queued behind the pages, their share.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

K = TypeVar("K")
V = TypeVar("V")


class Paced(Generic[K, V]):
    """``work`` called through this takes at most ``share`` of the time; for one thread (the render thread)."""

    def __init__(
        self,
        work: Callable[[K], V],
        share: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self._work, self._share, self._clock, self._sleep = work, share, clock, sleep
        self._ready_at = 0.0

    def __call__(self, key: K) -> V:
        """``work(key)``, once the rest owed by the previous run has passed."""
        wait = self._ready_at - self._clock()
        if wait > 0:
            self._sleep(wait)
        started = self._clock()
        try:
            return self._work(key)
        finally:
            ended = self._clock()
            self._ready_at = ended + (ended - started) * (1 / self._share - 1)
