"""batch.outcome decided by pure code: once per run, when final, with the flavor's revival rule and grace start."""

from __future__ import annotations

from typing import Any

from watcher.core.board import Board
from watcher.core.events import Event
from watcher.core.flavor import DLI, LIVY
from watcher.core.model import Snapshot
from watcher.core.outcome import final_outcome, grace_start, held, undecided
from watcher.core.tracker import LogResult, Track, observe, observe_missing

CREATED = 1_700_000_000_000
T0 = CREATED / 1000
GRACE = 120.0


def snap(state: str, update_s: float | None) -> Snapshot:
    update = None if update_s is None else int(update_s * 1000)
    return Snapshot("b1", state, state, name="etl", queue="q1", create_time=CREATED, update_time=update)


def poll(
    board: Board, track: Track, now: float, state: str, *, revivable: bool, update_s: float | None = -1.0
) -> tuple[Track, list[Event]]:
    """One poll as the daemon does it: observe, then count the outcome (which may add batch.outcome)."""
    answer = snap(state, now if update_s == -1.0 else update_s)
    track, events = observe(track, answer, now, LogResult(), revives_dead=revivable)
    board.put(track)
    track, final = board.count_outcome(track, now, GRACE, revivable=revivable)
    return track, events + final


def story(steps: list[tuple[float, str]], *, revivable: bool) -> tuple[Track, list[Event]]:
    board, track, events = Board(), Track("b1"), list[Event]()
    for now, state in steps:
        track, new = poll(board, track, now, state, revivable=revivable)
        events += new
    return track, events


def outcomes(events: list[Event]) -> list[dict[str, Any]]:
    return [{**e.fields, "level": e.level, "seq": e.seq} for e in events if e.name == "batch.outcome"]


def test_success_killed_and_error_are_final_at_once():
    """Success, killed and error say their outcome on the poll that sees them, once, info only for success."""
    for state, outcome, level in (("success", "succeeded", "info"), ("killed", "killed", "warning")):
        _, events = story([(T0 + 10, "running"), (T0 + 60, state), (T0 + 75, state)], revivable=False)
        (said,) = outcomes(events)
        assert (said["outcome"], said["state"], said["level"], said["recovered"]) == (outcome, state, level, False)
        assert said["duration_seconds"] == 60.0
        assert (said["job_name"], said["queue"]) == ("etl", "q1")
        assert said["seq"] == max(e.seq or 0 for e in events)  # numbered after the poll's own events
    _, events = story([(T0 + 10, "running"), (T0 + 20, "error")], revivable=True)
    assert [o["outcome"] for o in outcomes(events)] == ["failed"]


def test_livy_dead_is_final_at_once_and_dli_dead_only_after_the_grace():
    """The flavor decides: Livy's dead at once; DLI's once the grace is over, and its finish says not final."""
    steps = [(T0 + 10, "running"), (T0 + 60, "dead"), (T0 + 100, "dead")]
    _, livy = story(steps, revivable=LIVY.revives_dead)
    assert [o["outcome"] for o in outcomes(livy)] == ["failed"]
    assert [e.fields["final"] for e in livy if e.name == "batch.finished"] == [True]
    track, dli = story(steps, revivable=DLI.revives_dead)
    assert outcomes(dli) == []
    assert [e.fields["final"] for e in dli if e.name == "batch.finished"] == [False]
    track, late = story_more(track, [(T0 + 60 + GRACE, "dead"), (T0 + 60 + 2 * GRACE, "dead")])
    assert [(o["outcome"], o["level"]) for o in outcomes(late)] == [("failed", "warning")]


def story_more(track: Track, steps: list[tuple[float, str]]) -> tuple[Track, list[Event]]:
    board, events = Board(tracks={track.batch_id: track}), list[Event]()
    for now, state in steps:
        track, new = poll(board, track, now, state, revivable=True)
        events += new
    return track, events


def test_a_revived_dli_batch_says_one_success_marked_recovered():
    """dead, recovering, success: no failure is ever said, one success with recovered=true."""
    steps = [(T0 + 10, "running"), (T0 + 60, "dead"), (T0 + 90, "recovering"), (T0 + 150, "success")]
    _, events = story([*steps, (T0 + 600, "success")], revivable=True)
    (said,) = outcomes(events)
    assert (said["outcome"], said["recovered"], said["level"]) == ("succeeded", True, "info")


def test_a_revival_missed_between_polls_still_counts_as_recovered():
    """Dead then running (recovering fell between two polls) is auto-recovery too."""
    _, events = story([(T0 + 60, "dead"), (T0 + 90, "running"), (T0 + 150, "success")], revivable=True)
    assert [o["recovered"] for o in outcomes(events)] == [True]


def test_the_grace_of_a_batch_first_seen_dead_runs_from_its_update_time():
    """First seen dead long ago: final on that first poll; an update_time ahead of the clock counts from now."""
    board = Board()
    track, events = poll(board, Track("b1"), T0 + 1000, "dead", revivable=True, update_s=T0 + 500)
    assert grace_start(track, T0 + 1000) == T0 + 500
    assert [o["outcome"] for o in outcomes(events)] == ["failed"]
    ahead, events = poll(Board(), Track("b1"), T0 + 1000, "dead", revivable=True, update_s=T0 + 5000)
    assert grace_start(ahead, T0 + 1000) == T0 + 1000
    assert outcomes(events) == []
    assert held(ahead, T0 + 1000 + GRACE - 1, GRACE, revivable=True)
    untimed, events = poll(Board(), Track("b1"), T0 + 1000, "dead", revivable=True, update_s=None)
    assert grace_start(untimed, T0 + 1000) == T0 + 1000
    assert outcomes(events) == []


def test_the_grace_of_a_death_the_watcher_saw_runs_from_when_it_saw_it():
    """Seen running, then dead with an older update_time: the grace counts from the poll that saw the death."""
    board = Board()
    track, _ = poll(board, Track("b1"), T0 + 10, "running", revivable=True)
    track, events = poll(board, track, T0 + 300, "dead", revivable=True, update_s=T0 + 20)
    assert grace_start(track, T0 + 300) == T0 + 300
    assert outcomes(events) == []


def test_a_batch_gone_during_the_grace_still_gets_its_outcome():
    """Dead, then deleted before the grace ends: failed at once, with the last snapshot's context."""
    board = Board()
    track, _ = poll(board, Track("b1"), T0 + 10, "running", revivable=True)
    track, _ = poll(board, track, T0 + 60, "dead", revivable=True)
    gone, events = observe_missing(track, T0 + 70)
    board.put(gone)
    settled, final = board.count_outcome(gone, T0 + 70, GRACE, revivable=True)
    assert [(e.name, e.fields["outcome"], e.fields["job_name"]) for e in final] == [("batch.outcome", "failed", "etl")]
    assert final[0].seq == (events[-1].seq or 0) + 1 == settled.seq


def test_never_twice_and_never_for_a_batch_never_finished():
    """Settling again (a restart re-settles restored batches) says nothing; nor does a running or unknown batch."""
    board = Board()
    track, events = poll(board, Track("b1"), T0 + 60, "success", revivable=True)
    assert len(outcomes(events)) == 1
    assert board.count_outcome(track, T0 + 10_000, GRACE, revivable=True) == (track, [])
    running, events = poll(Board(), Track("b2"), T0 + 60, "running", revivable=True)
    assert outcomes(events) == []
    not_found, _ = observe_missing(Track("b3"), T0)
    assert Board().count_outcome(not_found, T0 + 10_000, GRACE, revivable=True) == (not_found, [])
    assert running.outcome is None


def test_undecided_is_exactly_where_no_outcome_can_be_final_at_any_time():
    """A present batch not in a terminal state has no final outcome however late; every other track may have one."""
    states = ("starting", "running", "recovering", "dead", "success", "killed")
    seen = [observe(Track("b1"), snap(state, T0), T0, LogResult())[0] for state in states]
    tracks = [Track("b1"), observe_missing(Track("b1"), T0)[0], *seen]
    for track in tracks:
        finals = {final_outcome(track, T0 + late, GRACE, revivable=r) for late in (0.0, 1e9) for r in (True, False)}
        assert undecided(track) == (finals == {None} and track.presence == "present")
    assert [undecided(t) for t in tracks[2:]] == [True, True, True, False, False, False]
