"""The client-wide pause the API asked for (429 / APIG.0308): one deadline, kept here only.

The request policy extends it and waits it out; readiness (/readyz) and ``dli_watcher_throttled`` read
the same object through the board, so the two can never disagree about when the pause ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.core.schedule import throttle_until


@dataclass(slots=True)
class Throttle:
    """Until when (monotonic seconds) every API request waits; 0 while the API has asked for no pause."""

    until: float = 0.0

    def active(self, now: float) -> bool:
        """Whether the pause is in force at ``now``."""
        return now < self.until

    def extend(self, now: float, attempt: int, base: float, cap: float, retry_after: float | None) -> None:
        """Pause from ``now`` as ``schedule.throttle_until`` says; a pause is never shortened."""
        self.until = throttle_until(now, self.until, attempt, base, cap, retry_after)
