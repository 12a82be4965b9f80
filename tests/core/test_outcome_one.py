"""One decision for a batch's final outcome: `wait`, the counted runs and the status page all read ``final_outcome``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from watcher.core.board import Board
from watcher.core.model import Snapshot
from watcher.core.outcome import final_outcome
from watcher.core.tracker import LogResult, Track, observe, observe_missing
from watcher.web.status.oncall import PageSettings, outcome_of

CREATED = 1_700_000_000_000
T0 = CREATED / 1000
GRACE = 120.0


def seen(*states: str) -> Track:
    """A track that saw ``states`` one minute apart from T0."""
    track = Track("b1")
    for i, state in enumerate(states):
        now = T0 + 60 * i
        answer = Snapshot("b1", state, state, name="etl", queue="q1", create_time=CREATED, update_time=int(now * 1000))
        track, _ = observe(track, answer, now, LogResult())
    return track


CASES = {
    "running": (seen("running"), T0 + 1000),
    "success": (seen("running", "success"), T0 + 61),
    "killed": (seen("running", "killed"), T0 + 61),
    "error": (seen("running", "error"), T0 + 61),
    "dead within the grace": (seen("running", "dead"), T0 + 61),
    "dead after the grace": (seen("running", "dead"), T0 + 60 + GRACE),
    "gone while running": (observe_missing(seen("running"), T0 + 70)[0], T0 + 70),
    "gone dead": (observe_missing(seen("running", "dead"), T0 + 70)[0], T0 + 70),
    "never found": (observe_missing(Track("b1"), T0)[0], T0 + 1000),
    "never answered": (Track("b1"), T0 + 1000),
    # a state file from before terminal_at was kept: the first poll sees the end arrive
    "finished, arrival unseen": (replace(seen("running", "success"), terminal_at=None), T0 + 1000),
}


@pytest.mark.parametrize("name", CASES)
def test_the_counted_run_and_the_page_agree_with_final_outcome(name: str) -> None:
    """The run is counted with final_outcome's answer when the batch finished; the page calls final the same ones."""
    track, now = CASES[name]
    decided = final_outcome(track, now, GRACE, revivable=True)
    board = Board()
    marked, events = board.count_outcome(track, now, GRACE, revivable=True)
    counted = decided if decided in ("succeeded", "failed", "killed") else None
    assert marked.outcome == counted
    assert [e.fields["outcome"] for e in events] == ([counted] if counted else [])
    shown = outcome_of(track, now, PageSettings(terminal_grace_seconds=GRACE, revivable=True))
    assert (shown is not None and shown.final) == (counted is not None)


def test_the_decisions_on_the_cases() -> None:
    """What final_outcome says for each case: the exit code `wait` gives comes from these words."""
    said = {name: final_outcome(track, now, GRACE, revivable=True) for name, (track, now) in CASES.items()}
    assert said == {
        "running": None,
        "success": "succeeded",
        "killed": "killed",
        "error": "failed",
        "dead within the grace": None,
        "dead after the grace": "failed",
        "gone while running": "not_found",
        "gone dead": "failed",
        "never found": "not_found",
        "never answered": None,
        "finished, arrival unseen": None,
    }


def test_a_counted_run_is_never_counted_again() -> None:
    """The mark on the track makes the second call a no-op: one run, one batch.outcome, restarts included."""
    board = Board()
    track, now = CASES["success"]
    marked, first = board.count_outcome(track, now, GRACE)
    again, second = board.count_outcome(marked, now + 1, GRACE)
    assert (len(first), second, again is marked) == (1, [], True)
    assert board.jobs["etl"].runs == (("succeeded", 1),)
