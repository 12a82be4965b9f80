"""Pure scheduling decisions: spread, slots, grace, retention, backoff and throttling."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from hypothesis import given
from hypothesis import strategies as st

from watcher.core.model import Snapshot
from watcher.core.schedule import (
    MAX_SLEEP,
    TICK,
    Timing,
    first_poll,
    next_poll,
    next_slot,
    overdue,
    phase,
    retained,
    retry_delay,
    sleep_for,
    start_poll,
    throttle_until,
)
from watcher.core.tracker import Track

if TYPE_CHECKING:
    from watcher.core.vocabulary import Presence

TIMING = Timing(interval=15.0, terminal_grace=120.0, retention=3600.0, not_found_interval=300.0)


def track(state: str, presence: Presence = "present", terminal_at: float | None = None) -> Track:
    return Track("b", snapshot=Snapshot("b", state, state), presence=presence, terminal_at=terminal_at)


def test_phases_spread_a_thousand_batches_evenly():
    """1,000 batch IDs land in every second of a 15 s interval, none with more than twice its share."""
    rng = random.Random(7)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(1000)]
    buckets = [0] * 15
    for bid in ids:
        buckets[int(phase(bid, 15.0))] += 1
    assert min(buckets) > 0 and max(buckets) < 2 * 1000 / 15


@given(st.text(min_size=1, max_size=40), st.floats(0.1, 1000), st.floats(0, 1e9))
def test_next_slot_is_after_now_and_within_one_period(bid, period, now):
    """The next slot is strictly after now, at most one period later, on the batch's own grid."""
    slot = next_slot(bid, period, now)
    assert now < slot <= now + period + 1e-6 * max(1.0, now)


def test_terminal_batches_stop_after_grace_and_gone_ones_at_once():
    """A finished batch is polled through its grace period, then never; gone ones never; not-found rarely."""
    assert next_poll(track("success", terminal_at=100.0), 150.0, TIMING) is not None
    assert next_poll(track("success", terminal_at=100.0), 220.0, TIMING) is None
    soon = next_poll(track("running"), 0.0, TIMING)
    assert soon is not None and soon <= 15.0
    assert next_poll(track("dead", presence="gone"), 0.0, TIMING) is None
    rarely = next_poll(Track("b", presence="not_found"), 0.0, TIMING)
    assert rarely is not None and rarely > 15.0


def test_retention_keeps_active_and_drops_old_finished():
    """Active batches stay in the metrics; finished ones leave after the retention."""
    assert retained(track("running"), 1e9, TIMING)
    assert retained(track("dead", terminal_at=0.0), 3599.0, TIMING)
    assert not retained(track("dead", terminal_at=0.0), 3601.0, TIMING)


@given(st.integers(1, 20), st.floats(0.01, 5), st.floats(1, 120), st.integers(0, 2**32))
def test_full_jitter_stays_under_the_exponential_ceiling(attempt, base, cap, seed):
    """The delay is uniform in [0, min(cap, base * 2**(attempt-1))]."""
    delay = retry_delay(attempt, base, cap, random.Random(seed).random(), None)
    assert 0 <= delay <= min(cap, base * 2 ** (attempt - 1))


def test_retry_after_is_a_floor_up_to_the_cap():
    """A server's Retry-After is never undercut by the jitter, but never waited past the backoff cap."""
    assert retry_delay(1, 0.1, 10.0, random.Random(1).random(), 7.0) == 7.0
    assert retry_delay(1, 0.1, 1.0, random.Random(1).random(), 999_999_999.0) == 1.0
    assert retry_delay(10**6, 0.1, 1.0, random.Random(1).random(), None) <= 1.0


def test_throttle_is_capped_too():
    """A 429 with Retry-After of years (or year 9999) pauses the client for the cap at most."""
    assert throttle_until(100.0, 0.0, 1, 0.5, 30.0, 999_999_999.0) == 130.0
    assert throttle_until(100.0, 0.0, 10**6, 0.5, 30.0, None) == 130.0


def test_throttle_pauses_every_request_and_never_shortens_a_pause():
    """429 pauses the client for Retry-After (or the backoff ceiling); a later, shorter pause does not shrink it."""
    until = throttle_until(100.0, 0.0, 1, 0.5, 30.0, 5.0)
    assert until == 105.0
    assert throttle_until(101.0, until, 1, 0.5, 30.0, 1.0) == 105.0
    assert throttle_until(100.0, 0.0, 3, 0.5, 30.0, None) == 102.0


@given(st.floats(0, 1e9), st.one_of(st.none(), st.floats(-1e3, 1e3)))
def test_scheduler_sleeps_at_least_a_tick_and_at_most_max_sleep(now, ahead):
    """The scheduler never spins (one tick at least), never oversleeps a due poll by more than a tick."""
    due = None if ahead is None else now + ahead
    delay = sleep_for(now, due)
    assert TICK <= delay <= MAX_SLEEP
    if due is None:
        assert delay == MAX_SLEEP
    else:
        gap = due - now
        assert delay == (TICK if gap <= TICK else min(gap, MAX_SLEEP))


def test_first_polls_spread_in_detail_mode_and_start_at_once_in_list_mode():
    """Detail mode spreads new batches over the interval; a list cycle reads them in one burst right away."""
    listing = Timing(15.0, 120.0, 3600.0, 300.0, aligned=True)
    assert first_poll("b", 1000.0, listing) == 1000.0
    assert first_poll("b", 1000.0, TIMING) == next_slot("b", 15.0, 1000.0)
    assert next_poll(track("running"), 1000.0, listing) == 1005.0  # later polls keep the shared slot


def test_overdue_behind_a_list_cycle_counts_from_its_last_poll():
    """A due poll is overdue since it was due; behind a running list cycle, only since the cycle last polled."""
    assert overdue(100.0, None) == 0.0
    assert overdue(100.0, 90.0) == 10.0
    assert overdue(100.0, 90.0, cycle_progress=97.0) == 3.0
    assert overdue(100.0, 98.0, cycle_progress=50.0) == 2.0
    assert overdue(100.0, 101.0) == 0.0


def test_a_restored_batch_starts_at_its_slot_or_in_list_mode_at_once():
    """A batch from the state file keeps its slot in detail mode, is read at once in list mode, and not if done."""
    listing = Timing(15.0, 120.0, 3600.0, 300.0, aligned=True)
    running = track("running")
    done = replace(track("success", terminal_at=0.0), outcome="succeeded")
    assert start_poll(running, 1000.0, TIMING) == next_poll(running, 1000.0, TIMING)
    assert start_poll(running, 1000.0, listing) == 1000.0
    assert start_poll(done, 1000.0, listing) is None
    assert start_poll(done, 1000.0, TIMING) is None
    assert start_poll(Track("b"), 1000.0, TIMING) == first_poll("b", 1000.0, TIMING)


def test_a_restored_batch_whose_grace_ran_out_uncounted_is_polled_once_at_start():
    """Dead with its grace over but no outcome counted yet (it ran out during the start): read once, now."""
    uncounted = track("dead", terminal_at=0.0)
    assert next_poll(uncounted, 1000.0, TIMING) is None
    assert start_poll(uncounted, 1000.0, TIMING) == 1000.0
    assert start_poll(replace(uncounted, outcome="failed"), 1000.0, TIMING) is None
    assert start_poll(track("dead", presence="gone", terminal_at=0.0), 1000.0, TIMING) is None
