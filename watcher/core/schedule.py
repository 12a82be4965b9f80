"""Pure scheduling decisions: when each batch is next polled, retry delays, throttling, retention."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.core import states

if TYPE_CHECKING:
    from watcher.core.tracker import Track

# the scheduler wakes at most once per tick, so the polls due within one start together: at 400
# polls/s one wake and one event-loop pass serve ~20 polls (tests/bench: ~540 -> ~375 µs CPU per poll)
TICK = 0.05
MAX_SLEEP = 1.0


@dataclass(frozen=True, slots=True)
class Timing:
    """The intervals that drive scheduling, from the config."""

    interval: float
    terminal_grace: float
    retention: float
    not_found_interval: float
    # list mode polls every batch on one shared slot, so one cycle of list requests covers them all
    aligned: bool = False


def phase(batch_id: str, interval: float) -> float:
    """A stable offset in [0, interval) so polls spread evenly and survive restarts and reloads."""
    return (zlib.crc32(batch_id.encode()) / 2**32) * interval


def next_slot(batch_id: str, period: float, now: float, *, aligned: bool = False) -> float:
    """The first time after ``now`` on this batch's grid of ``period``-spaced slots (one grid if aligned)."""
    offset = 0.0 if aligned else phase(batch_id, period)
    return offset + (math.floor((now - offset) / period) + 1) * period


def next_poll(track: Track, now: float, timing: Timing) -> float | None:
    """When to poll this batch next, or None when it needs no more polls."""
    if track.presence == "gone":
        return None
    if track.presence == "not_found":
        return next_slot(track.batch_id, timing.not_found_interval, now)
    finished = track.state is not None and states.is_terminal(track.state) and track.terminal_at is not None
    if finished and now - (track.terminal_at or 0.0) >= timing.terminal_grace:
        return None
    return next_slot(track.batch_id, timing.interval, now, aligned=timing.aligned)


def first_poll(batch_id: str, now: float, timing: Timing) -> float:
    """The first poll of a newly watched batch: its slot within the coming interval; in list mode, now.

    A list cycle reads its batches in one burst whenever it runs, so new ones need not wait up to an
    interval for the shared slot: a start is ready one cycle after it begins. Later polls keep the slot.
    """
    return now if timing.aligned else next_slot(batch_id, timing.interval, now)


def start_poll(track: Track, now: float, timing: Timing) -> float | None:
    """A batch's first poll in this run: a new one's first slot, a restored one's next (None: it needs none).

    In list mode both come at once, so a restart with a state file is ready one cycle after it begins too.
    """
    if track.presence == "pending":
        return first_poll(track.batch_id, now, timing)
    after = next_poll(track, now, timing)
    if after is None and track.presence == "present" and track.outcome is None:
        # its grace ran out after the restored runs were counted, before this: one poll counts it (batch.outcome)
        return now
    return now if after is not None and timing.aligned else after


def overdue(now: float, earliest_due: float | None, cycle_progress: float | None = None) -> float:
    """How long the earliest queued poll has waited to start; behind a running list cycle, only since it last polled.

    List mode runs one cycle at a time, so batches due meanwhile wait for it (a cold first cycle of
    100,000 batches outlasts the interval): that is progress as long as the cycle keeps polling.
    """
    if earliest_due is None:
        return 0.0
    since = earliest_due if cycle_progress is None else max(earliest_due, cycle_progress)
    return max(0.0, now - since)


def sleep_for(now: float, next_due: float | None) -> float:
    """How long the scheduler sleeps: until the next due poll, but at least one tick and at most MAX_SLEEP."""
    if next_due is None:
        return MAX_SLEEP
    return max(TICK, min(MAX_SLEEP, next_due - now))


def retained(track: Track, now: float, timing: Timing) -> bool:
    """Whether a batch still belongs in the metrics: finished or gone ones leave after the retention."""
    if track.terminal_at is None or track.presence not in ("present", "gone"):
        return True
    if track.state is not None and not states.is_terminal(track.state) and track.presence == "present":
        return True
    return now - track.terminal_at < timing.retention


def retry_delay(attempt: int, base: float, cap: float, jitter: float, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never shorter than the server's Retry-After up to ``cap``.

    ``jitter`` is a uniform random number in [0, 1). A Retry-After past the cap (a year, or year 9999)
    would stop polling for good; the cap wins.
    """
    delay = jitter * min(cap, base * 2.0 ** max(0, min(attempt, 64) - 1))
    return max(delay, min(retry_after, cap)) if retry_after is not None else delay


def throttle_until(
    now: float, current: float, attempt: int, base: float, cap: float, retry_after: float | None
) -> float:
    """Until when every request waits after a 429/APIG.0308: Retry-After, else the backoff ceiling; at most ``cap``."""
    ceiling = min(cap, base * 2.0 ** max(0, min(attempt, 64) - 1))
    pause = min(retry_after, cap) if retry_after is not None else ceiling
    return max(current, now + pause)
