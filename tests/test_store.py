"""The SQLite state file: round trips, the outbox, migrations from earlier schemas, damage handling."""

from __future__ import annotations

import sqlite3

from watcher.core.board import JobSummary
from watcher.core.events import Event
from watcher.core.logdiff import LogTrack, StreamTrack
from watcher.core.model import Snapshot
from watcher.core.tracker import Track
from watcher.daemon.codec import encode_track
from watcher.daemon.store import SCHEMA_VERSION, Change, Store


def sample_track(bid: str = "b1", seq: int = 3) -> Track:
    snap = Snapshot(
        bid,
        "running",
        "Running",
        name="job",
        queue="q",
        create_time=1,
        update_time=2,
        log=("stdout: ", "x", "stderr: ", "YARN Diagnostics: "),
    )
    log = LogTrack({"stdout": StreamTrack(("x",), 1)}, window=snap.log, sectioned=True)
    return Track(
        bid,
        seq=seq,
        snapshot=snap,
        presence="present",
        first_seen=10.0,
        state_since=11.0,
        log=log,
        up=True,
        warned_states=frozenset({"weird"}),
    )


def test_round_trip_of_tracks_jobs_and_outbox(tmp_path):
    """What is committed loads back equal; acknowledged outbox rows are deleted, newer ones kept."""
    store, problem = Store.open(str(tmp_path / "s.db"))
    assert problem is None
    event = Event("batch.log", "info", "b1", 3, {"stream": "stdout", "line": "x"})
    last = store.commit(Change([sample_track()], [JobSummary("job", "succeeded", 5.0, 5.0)], (), [event]))
    later = store.commit(Change(events=[Event("batch.log", "info", "b1", 4, {"line": "y"})], written_upto=last))
    store.close()
    loaded = Store.open(str(tmp_path / "s.db"))[0].load()
    assert loaded.tracks == {"b1": sample_track()}
    assert loaded.jobs == {"job": JobSummary("job", "succeeded", 5.0, 5.0)}
    assert list(loaded.outbox) == [later] and loaded.outbox[later].seq == 4
    assert loaded.bad == []


def test_removed_batches_leave_the_file(tmp_path):
    """A batch no longer watched is deleted in the same transaction as other changes."""
    store, _ = Store.open(str(tmp_path / "s.db"))
    store.commit(Change([sample_track("a"), sample_track("b")]))
    store.commit(Change(removed=["a"]))
    assert set(store.load().tracks) == {"b"}


def test_schema_1_file_loads_and_gains_the_outbox(tmp_path):
    """A state file written by schema 1 (no outbox) is migrated in place and its tracks load."""
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE batches (batch_id TEXT PRIMARY KEY, data TEXT NOT NULL)")
    db.execute("CREATE TABLE jobs (job_name TEXT PRIMARY KEY, data TEXT NOT NULL)")
    db.execute("INSERT INTO batches VALUES (?, ?)", ("b1", encode_track(sample_track())))
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    store, problem = Store.open(str(path))
    assert problem is None
    assert store.load().tracks["b1"] == sample_track()
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.commit(Change(events=[Event("batch.gone", "warning", "b1", 4, {})]))


def test_newer_schema_is_moved_aside_not_overwritten(tmp_path):
    """A file from a newer watcher is kept aside under a new name and a fresh file started."""
    path = tmp_path / "future.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    store, problem = Store.open(str(path))
    assert problem is not None and "newer" in problem.reason
    assert sqlite3.connect(problem.kept).execute("PRAGMA user_version").fetchone()[0] == 99
    assert store.load().tracks == {}


def test_undecodable_rows_are_named_not_fatal(tmp_path):
    """A damaged row is reported by key; the others still load."""
    store, _ = Store.open(str(tmp_path / "s.db"))
    store.commit(Change([sample_track("good")]))
    store._db.execute("INSERT INTO batches VALUES ('bad', '{not json')")
    loaded = store.load()
    assert set(loaded.tracks) == {"good"} and loaded.bad == ["bad"]
