"""The pure per-batch state machine, driven with explicit snapshots and times (no event loop)."""

from __future__ import annotations

from dataclasses import replace

from watcher.core.model import Snapshot
from watcher.core.tracker import (
    MAX_WARNED_STATES,
    Failure,
    LogResult,
    Track,
    observe,
    observe_failure,
    observe_missing,
    quiet,
    touch,
)


def snap(state: str = "running", **kw) -> Snapshot:
    return Snapshot("b", state.lower(), state, name="job", queue="q", create_time=1_000, update_time=2_000, **kw)


def names(events):
    return [e.name for e in events]


class TestObserve:
    def test_first_sight_is_discovered_with_rfc3339_times(self):
        """The first poll emits batch.discovered with the batch's fields and seq 1."""
        track, events = observe(Track("b"), snap(), 100.0, LogResult())
        assert names(events) == ["batch.discovered"]
        assert events[0].seq == 1 and events[0].fields["create_time"] == "1970-01-01T00:00:01.000Z"
        assert (track.presence, track.seq, track.first_seen, track.state_since) == (
            "present",
            1,
            100.0,
            100.0,
        )

    def test_state_change_reports_time_in_previous_state(self):
        """A new state gives state_changed with how long the old state lasted."""
        track, _ = observe(Track("b"), snap("starting"), 100.0, LogResult())
        track, events = observe(track, snap("running"), 130.5, LogResult())
        assert names(events) == ["batch.state_changed"]
        assert events[0].fields["previous_state_seconds"] == 30.5 and events[0].seq == 2

    def test_terminal_states_finish_with_outcome_and_level(self):
        """Success is info/succeeded; dead is warning/failed; killed is warning/killed."""
        for state, outcome, level in [
            ("success", "succeeded", "info"),
            ("dead", "failed", "warning"),
            ("killed", "killed", "warning"),
        ]:
            track, _ = observe(Track("b"), snap("running"), 0.0, LogResult())
            _, events = observe(track, snap(state), 5.0, LogResult())
            finished = events[-1]
            assert (finished.name, finished.fields["outcome"], finished.level) == (
                "batch.finished",
                outcome,
                level,
            )
            assert finished.fields["duration_seconds"] == 1.0

    def test_duration_comes_from_the_api_times_or_is_null(self):
        """A batch first seen finished, or without update_time, has a null duration, never a made-up 0."""
        _, events = observe(Track("b"), snap("dead"), 100.0, LogResult())
        assert events[-1].fields["duration_seconds"] == 1.0  # first seen finished: its own times still tell
        for no_times in (replace(snap("dead"), update_time=None), replace(snap("dead"), create_time=None)):
            track, _ = observe(Track("b"), replace(no_times, state="running"), 0.0, LogResult())
            _, events = observe(track, no_times, 50.0, LogResult())
            assert events[-1].fields["duration_seconds"] is None
            _, events = observe(Track("b"), no_times, 50.0, LogResult())
            assert events[-1].fields["duration_seconds"] is None

    def test_field_changes_are_one_changed_event(self):
        """AppId and queue changing at once give one batch.changed with old and new values."""
        track, _ = observe(Track("b"), snap(), 0.0, LogResult())
        _, events = observe(track, replace(snap(), app_id="app-1", queue="q2"), 1.0, LogResult())
        assert names(events) == ["batch.changed"]
        assert events[0].fields["changes"] == {
            "appId": {"old": None, "new": "app-1"},
            "queue": {"old": "q", "new": "q2"},
        }

    def test_repaired_fields_warn_once_per_batch_and_field(self):
        """A field repaired on every poll is reported once; another field later gets its own one warning."""
        bad_time = snap(repairs=(("update_time", "out of range"),))
        track, first = observe(Track("b"), bad_time, 100.0, LogResult())
        track, again = observe(track, bad_time, 101.0, LogResult())
        both = snap(repairs=(("update_time", "out of range"), ("log", "invalid unicode")))
        track, later = observe(track, both, 102.0, LogResult())
        repaired = [
            [(e.fields["field"], e.fields["problem"]) for e in ev if e.name == "batch.field_repaired"]
            for ev in (first, again, later)
        ]
        assert repaired == [[("update_time", "out of range")], [], [("log", "invalid unicode")]]
        assert [e.level for e in first if e.name == "batch.field_repaired"] == ["warning"]
        assert track.repaired_fields == {"update_time", "log"}

    def test_unknown_state_warnings_are_bounded(self):
        """A server inventing a state per poll gets a bounded number of warnings and a bounded track."""
        track, warned = Track("b"), 0
        for n in range(200):
            track, events = observe(track, snap(f"state-{n}"), 100.0 + n, LogResult())
            warned += sum(e.name == "batch.unknown_state" for e in events)
        assert warned == MAX_WARNED_STATES
        assert len(track.warned_states) == MAX_WARNED_STATES

    def test_unknown_state_warns_once_per_value(self):
        """An undocumented state warns once per value, however often it is seen."""
        track = Track("b")
        warned = []
        for state in ["Weird", "Weird", "running", "Weird", "Odd"]:
            track, events = observe(track, snap(state), 0.0, LogResult())
            warned += [e.fields["state"] for e in events if e.name == "batch.unknown_state"]
        assert warned == ["Weird", "Odd"]

    def test_log_lines_and_gaps_come_before_the_state_change(self):
        """Within one poll: lines and gaps, then the state change, then the finish."""
        track, _ = observe(Track("b"), snap(), 0.0, LogResult())
        log = LogResult(lines=(("stdout", "a"),), gaps=(("stdout", None),))
        _, events = observe(track, snap("dead"), 1.0, log)
        assert names(events) == ["batch.log_gap", "batch.log", "batch.state_changed", "batch.finished"]
        assert [e.seq for e in events] == [2, 3, 4, 5]

    def test_each_gap_sits_where_its_lines_are_missing(self):
        """A gap comes before the lines that follow the hole in its stream, after the streams laid out before it."""
        track, _ = observe(Track("b"), snap(), 0.0, LogResult())
        lines = (("stdout", "a"), ("stdout", "b"), ("stderr", "c"))
        log = LogResult(lines=lines, gaps=(("diagnostics", None), ("stderr", 3), ("stdout", None)))
        _, events = observe(track, snap(), 1.0, log)
        shown = [e.fields.get("line") or f"gap {e.fields['stream']}" for e in events]
        assert shown == ["gap stdout", "a", "b", "gap stderr", "c", "gap diagnostics"]


class TestContext:
    def test_every_batch_event_names_its_job_queue_and_app(self):
        """job_name, queue and app_id come from the newest snapshot with every event of a poll."""
        track, first = observe(Track("b"), snap("running"), 0.0, LogResult())
        log = LogResult(lines=(("stdout", "a"),), gaps=(("stderr", None),))
        track, events = observe(track, snap("dead", app_id="app-1"), 1.0, log)
        track, failed = observe_failure(track, Failure("connect", "boom"), 2.0)
        _, gone = observe_missing(track, 3.0)
        contexts = {(e.name, e.fields["job_name"], e.fields["queue"], e.fields["app_id"]) for e in events}
        assert first[0].fields["job_name"] == "job" and first[0].fields["app_id"] is None
        assert contexts == {(e.name, "job", "q", "app-1") for e in events}
        assert [(e.fields["job_name"], e.fields["app_id"]) for e in failed + gone] == [("job", "app-1")] * 2

    def test_a_batch_never_seen_has_a_null_context(self):
        """batch.not_found knows nothing of the batch: the context fields are there, and null."""
        _, events = observe_missing(Track("b"), 1.0)
        assert {k: events[0].fields[k] for k in ("job_name", "queue", "app_id")} == dict.fromkeys(
            ("job_name", "queue", "app_id")
        )

    def test_events_carry_the_poll_time(self):
        """Each event of a poll is stamped with the poll's time, the one its replay is written with."""
        _, events = observe(Track("b"), snap("dead"), 100.0, LogResult(lines=(("stdout", "a"),)))
        assert {e.timestamp for e in events} == {"1970-01-01T00:01:40.000Z"}


class TestFailures:
    def test_failure_reported_when_it_starts_then_once_a_minute(self):
        """poll_failed goes out at the first failure and then at most every 60 s; recovery says how long."""
        track, _ = observe(Track("b"), snap(), 0.0, LogResult())
        reported = []
        for now in [10, 20, 69, 70.5, 100, 131]:
            track, events = observe_failure(track, Failure("connect", "boom", attempts=3), float(now))
            reported += [now for e in events if e.name == "batch.poll_failed"]
        assert reported == [10, 70.5, 131]
        assert not track.up
        track, events = observe(track, snap(), 140.0, LogResult())
        assert names(events) == ["batch.poll_recovered"] and events[0].fields["failed_seconds"] == 130.0

    def test_failure_fields(self):
        """poll_failed carries reason, status, error code, the error's message and attempts."""
        failure = Failure("http", "bad gateway", status_code=502, error_code="DLI.0999", attempts=4)
        _, events = observe_failure(Track("b"), failure, 1.0)
        assert events[0].fields == {
            "job_name": None,
            "queue": None,
            "app_id": None,
            "reason": "http",
            "status_code": 502,
            "error_code": "DLI.0999",
            "error_message": "bad gateway",
            "attempts": 4,
        }


class TestMissing:
    def test_seen_then_missing_is_gone_once(self):
        """A known batch that disappears is batch.gone once, with its last state."""
        track, _ = observe(Track("b"), snap("success"), 0.0, LogResult())
        track, events = observe_missing(track, 1.0)
        again, more = observe_missing(track, 2.0)
        assert names(events) == ["batch.gone"] and events[0].fields["last_state"] == "success"
        assert more == [] and again.presence == "gone"

    def test_never_seen_is_not_found_once(self):
        """An ID the API never knew is batch.not_found once."""
        track, events = observe_missing(Track("b"), 1.0)
        _, more = observe_missing(track, 2.0)
        assert names(events) == ["batch.not_found"] and more == []


def test_a_quiet_poll_is_what_observe_does_with_the_time_moved_in_place():
    """``quiet``: observe would change nothing but the time; ``touch`` moves it, no part of equality."""
    seen = snap()
    track, _ = observe(Track("b"), seen, 100.0, LogResult())
    assert quiet(track, track.snapshot, LogResult())  # type: ignore[arg-type]
    assert not quiet(track, snap(), LogResult())  # an equal answer that is not the kept snapshot: observe decides
    assert not quiet(track, track.snapshot, LogResult(lines=(("stdout", "x"),)))  # type: ignore[arg-type]
    failed, _ = observe_failure(track, Failure("http", "503"), 130.0)
    assert not quiet(failed, failed.snapshot, LogResult())  # type: ignore[arg-type] # a recovery is an event
    observed, events = observe(track, track.snapshot, 160.0, LogResult())  # type: ignore[arg-type]
    touch(track, 160.0)
    assert events == [] and observed == track and observed.last_success == track.last_success == 160.0
    assert replace(track, last_success=1.0) == track  # not persisted: not part of what a track is


def test_unknown_states_stay_raw_in_transitions():
    """An undocumented state appears in state_changed exactly as the API spelled it."""
    track, _ = observe(Track("b"), snap("running"), 0.0, LogResult())
    track, events = observe(track, snap("Pending_Resources"), 1.0, LogResult())
    _, back = observe(track, snap("Running"), 2.0, LogResult())
    changed = [e for e in events + back if e.name == "batch.state_changed"]
    assert [(e.fields["from_state"], e.fields["to_state"]) for e in changed] == [
        ("running", "Pending_Resources"),
        ("Pending_Resources", "running"),
    ]
