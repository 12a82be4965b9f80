"""List mode's cycle plan, without an event loop: per-queue reads, the look-back sweep, and when details are cheaper."""

from __future__ import annotations

import pytest

from watcher.core.flavor import DLI, LIVY
from watcher.core.listplan import (
    MIN_SWEEP,
    Hint,
    SweepRules,
    hint_of,
    pages_left,
    plan_cycle,
    sweep_start_ms,
    worth_reading,
)
from watcher.core.model import Snapshot
from watcher.core.tracker import Track

NOW = 1_800_000_000.0
DAY = 86400.0
RULES = SweepRules(lookback_seconds=3 * DAY)
SWEEP_START = str(int((NOW - 3 * DAY) * 1000))


def seen(bid: str, queue: str | None = "q1", created: int | None = 1000) -> Track:
    snap = Snapshot(bid, "running", "running", queue=queue, create_time=created)
    return Track(bid, snapshot=snap, presence="present")


def new_ids(n: int, prefix: str = "new") -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


def filters(read) -> dict[str, str]:
    return dict(read.filters)


def test_seen_batches_are_read_per_queue_from_their_oldest_creation():
    """Each queue of seen batches is one read, oldest first from its members' earliest creation time."""
    tracks = {"a": seen("a", "q1", 3000), "b": seen("b", "q2", 2000), "c": seen("c", "q1", 1000)}
    plan = plan_cycle(["a", "b", "c"], tracks, {}, DLI, RULES, NOW)
    assert [(filters(r), r.members) for r in plan.reads] == [
        ({"queue_name": "q1", "order": "CREATE_TIME_ASC", "start": "1000"}, ("a", "c")),
        ({"queue_name": "q2", "order": "CREATE_TIME_ASC", "start": "2000"}, ("b",)),
    ]
    assert plan.details == ()


def test_never_polled_batches_are_swept_from_every_queue_within_the_look_back():
    """Batches of unknown queue are looked for in one sweep of every queue, from now minus the look-back."""
    ids = new_ids(MIN_SWEEP)
    plan = plan_cycle([*ids, "a"], {"a": seen("a")}, {}, DLI, RULES, NOW)
    sweep = plan.reads[-1]
    assert filters(sweep) == {"order": "CREATE_TIME_ASC", "start": SWEEP_START}
    assert sweep.members == tuple(ids)
    assert plan.reads[0].members == ("a",)
    assert plan.details == ()


def test_the_sweep_reads_the_hinted_queues_one_after_another():
    """With queues named, each one is a sweep read looking for every never-polled batch."""
    ids = new_ids(MIN_SWEEP)
    plan = plan_cycle(ids, {}, {}, DLI, SweepRules(("etl", "ml"), DAY), NOW)
    assert [filters(r).get("queue_name") for r in plan.reads] == ["etl", "ml"]
    assert all(r.members == tuple(ids) for r in plan.reads)


@pytest.mark.parametrize(
    ("count", "lookback"), [(MIN_SWEEP - 1, 3 * DAY), (MIN_SWEEP, 0.0)], ids=["a-handful", "look-back-off"]
)
def test_without_a_sweep_never_polled_batches_go_to_details(count, lookback):
    """A handful of new batches, or a look-back of 0, is read by details: no page is gambled on."""
    ids = new_ids(count)
    plan = plan_cycle(ids, {}, {}, DLI, SweepRules(lookback_seconds=lookback), NOW)
    assert plan.reads == ()
    assert plan.details == tuple(ids)


def test_a_discovery_hint_puts_a_never_polled_batch_in_its_queue():
    """A batch discovery listed is read with its queue's pages at once, from its creation time."""
    hints = {"d": Hint("q2", 500)}
    plan = plan_cycle(["d", "b"], {"b": seen("b", "q2", 2000)}, hints, DLI, RULES, NOW)
    assert [(filters(r)["start"], r.members) for r in plan.reads] == [("500", ("d", "b"))]


def test_the_last_answer_wins_over_a_hint():
    """Once a batch was polled, its own answer says where it is, not an old hint."""
    plan = plan_cycle(["a"], {"a": seen("a", "q1", 1000)}, {"a": Hint("q9", 1)}, DLI, RULES, NOW)
    assert [filters(r)["queue_name"] for r in plan.reads] == ["q1"]


def test_missing_gone_and_queueless_batches_go_to_details():
    """A batch the API never knew, one that disappeared, and a DLI batch without a queue are read by details."""
    gone = Track("g", snapshot=seen("g").snapshot, presence="gone")
    tracks = {"n": Track("n", presence="not_found"), "g": gone, "q": seen("q", queue=None)}
    plan = plan_cycle(["n", "g", "q", *new_ids(MIN_SWEEP)], tracks, {}, DLI, RULES, NOW)
    assert plan.details == ("n", "g", "q")


def test_livy_reads_seen_and_never_polled_batches_in_one_unfiltered_read():
    """Livy lists every batch in one order without filters: one read looks for all of them."""
    ids = new_ids(MIN_SWEEP)
    plan = plan_cycle(["a", *ids], {"a": seen("a", None, None)}, {}, LIVY, RULES, NOW)
    assert [(r.filters, r.members) for r in plan.reads] == [((), ("a", *ids))]


def test_the_sweep_never_starts_before_the_epoch():
    """A look-back longer than the epoch's age reads from 0."""
    assert sweep_start_ms(NOW, 10 * NOW) == 0
    assert sweep_start_ms(NOW, DAY) == int((NOW - DAY) * 1000)


def test_pages_left_follow_the_total_up_to_the_cap():
    """Pages left: as many as the total claims, never past max_pages, minus those started."""
    assert pages_left(total=1000, page_size=100, max_pages=1000, started=1) == 9
    assert pages_left(total=1001, page_size=100, max_pages=1000, started=1) == 10
    assert pages_left(total=10**12, page_size=100, max_pages=50, started=1) == 49
    assert pages_left(total=50, page_size=100, max_pages=1000, started=1) == 0


@pytest.mark.parametrize(("left", "missing", "read_on"), [(5, 5, True), (6, 5, False), (0, 5, False), (3, 0, False)])
def test_pages_are_read_while_they_cost_no_more_than_details(left, missing, read_on):
    """Another page only while the pages left are no more than the batches not found yet."""
    assert worth_reading(left, missing) is read_on


def test_a_hint_keeps_a_listed_batch_queue_and_creation_time():
    """The hint of a listed batch is its queue and creation time."""
    assert hint_of(Snapshot("x", "running", "running", queue="q", create_time=7)) == Hint("q", 7)
