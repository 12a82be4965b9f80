"""Cumulative-ready histograms kept as immutable counts per bucket, for the job durations and queue waits."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Final

# Spark batch jobs: from seconds (a failed submit) to a day (a big nightly job)
JOB_BUCKETS: Final = (
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
    3600.0, 7200.0, 14400.0, 28800.0, 43200.0, 86400.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Histogram:
    """Observation counts per bucket (the last one is +Inf, not cumulative) and their sum."""

    bounds: tuple[float, ...] = JOB_BUCKETS
    counts: tuple[int, ...] = (0,) * (len(JOB_BUCKETS) + 1)
    total: float = 0.0

    def observe(self, value: float) -> Histogram:
        """A copy with one more observation."""
        index = bisect_left(self.bounds, value)
        counts = tuple(c + 1 if i == index else c for i, c in enumerate(self.counts))
        return replace(self, counts=counts, total=self.total + value)

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, cumulative count) pairs, +Inf last, as the exposition wants them."""
        labels = [*(repr(b) for b in self.bounds), "+Inf"]
        return list(zip(labels, accumulate(self.counts), strict=True))
