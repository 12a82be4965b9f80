"""The SQLite state file: round trips, the outbox, migrations from earlier schemas, damage handling."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from watcher.core.board import DURATION, JobSummary
from watcher.core.events import Event
from watcher.core.histogram import Histogram
from watcher.core.log.diff import LogTrack, StreamTrack
from watcher.core.model import Snapshot
from watcher.core.tracker import Track
from watcher.daemon.codec import encode_track
from watcher.daemon.store import MIGRATIONS, SCHEMA_VERSION, Change, Store
from watcher.errors import SetupError

if TYPE_CHECKING:
    from pathlib import Path


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
    log = LogTrack({"stdout": StreamTrack(("x",), 1)}, window=snap.log, layout="sectioned")
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


def test_newer_schema_refuses_to_start_and_leaves_the_file(tmp_path):
    """A file from a newer watcher is neither moved nor changed: starting afresh would reuse its seqs."""
    path = tmp_path / "future.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    before = path.read_bytes()
    with pytest.raises(SetupError, match="newer dli-watcher"):
        Store.open(str(path))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "corrupt" in p.name] == []


def test_a_second_opener_is_refused_with_the_holders_pid(tmp_path):
    """Two watchers on one file would interleave seqs; the second is told who holds it."""
    path = str(tmp_path / "s.db")
    first, _ = Store.open(path)
    with pytest.raises(SetupError, match=rf"pid {os.getpid()} holds .*s\.db\.lock"):
        Store.open(path)
    first.close()
    Store.open(path)[0].close()


def test_symlinked_state_path_is_refused(tmp_path):
    """A symlink at state.path is not followed (as root it could overwrite any file)."""
    target = tmp_path / "target"
    target.write_bytes(b"")
    (tmp_path / "s.db").symlink_to(target)
    with pytest.raises(SetupError, match="symbolic link"):
        Store.open(str(tmp_path / "s.db"))
    assert target.read_bytes() == b""


def test_a_missing_directory_is_not_created(tmp_path):
    """The watcher creates its file, never arbitrary parent directories."""
    with pytest.raises(SetupError, match="does not exist"):
        Store.open(str(tmp_path / "no" / "such" / "s.db"))
    assert not (tmp_path / "no").exists()


def hold_exclusive(path: Path) -> sqlite3.Connection:
    """Another program's lock that shuts out even WAL readers (a shell in exclusive locking mode)."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_a_locked_file_is_waited_out_and_the_wait_reported(tmp_path):
    """A lock released within the wait costs a delay and one report, never the file's contents."""
    path = tmp_path / "s.db"
    store, _ = Store.open(str(path))
    store.commit(Change([sample_track()]))
    store.close()
    other = hold_exclusive(path)
    waits: list[float] = []
    releaser = threading.Timer(1.5, other.close)  # exclusive locking mode holds the lock until closed
    releaser.start()
    store, problem = Store.open(str(path), on_wait=lambda: waits.append(time.monotonic()), wait_seconds=30)
    releaser.join()
    assert problem is None and len(waits) == 1
    assert store.load().tracks == {"b1": sample_track()}


def test_a_lock_held_past_the_wait_refuses_to_start(tmp_path):
    """Past the wait the start fails with exit-2 material; the locked file is not moved aside."""
    path = tmp_path / "s.db"
    Store.open(str(path))[0].close()
    other = hold_exclusive(path)
    with pytest.raises(SetupError, match="locked by another program"):
        Store.open(str(path), wait_seconds=0.5)
    other.close()
    assert [p.name for p in tmp_path.iterdir() if "corrupt" in p.name] == []


def test_undecodable_rows_are_named_not_fatal(tmp_path):
    """A damaged row is reported by key; the others still load."""
    store, _ = Store.open(str(tmp_path / "s.db"))
    store.commit(Change([sample_track("good")]))
    store._db.execute("INSERT INTO batches VALUES ('bad', '{not json')")
    loaded = store.load()
    assert set(loaded.tracks) == {"good"} and loaded.bad == ["bad"]


def test_req_body_is_never_stored_and_is_removed_from_older_files(tmp_path):
    """A schema-2 file holding a req_body loses it on migration, in the rows and in the file's bytes."""
    secret = "s3cr3t-Zq9xQ-never-on-disk"
    path = tmp_path / "v2.db"
    db = sqlite3.connect(path)
    for step in (1, 2):
        for sql in MIGRATIONS[step]:
            db.execute(sql)
    track = sample_track()
    assert track.snapshot is not None
    data = json.loads(encode_track(track))
    data["snapshot"]["req_body"] = json.dumps({"conf": {"spark.hadoop.fs.s3a.secret.key": secret}})
    db.execute("INSERT INTO batches VALUES (?, ?)", ("b1", json.dumps(data)))
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    store, problem = Store.open(str(path))
    assert problem is None
    assert store.load().tracks["b1"] == track
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("v2.db") and p.is_file())
    assert secret.encode() not in raw


def test_a_new_state_file_is_private(tmp_path):
    """The watcher creates its state file readable by its owner only."""
    Store.open(str(tmp_path / "s.db"))[0].close()
    assert (tmp_path / "s.db").stat().st_mode & 0o777 == 0o600


def test_a_schema_3_file_loads_its_tracks_and_jobs_and_gains_the_histograms(tmp_path):
    """Rows written before schema 4 (no waited/started_at/outcome, no runs) load with their defaults."""
    path = tmp_path / "v3.db"
    db = sqlite3.connect(path)
    for step in (1, 2, 3):
        for sql in MIGRATIONS[step]:
            db.execute(sql)
    old_track = json.loads(encode_track(sample_track()))
    for key in ("waited", "started_at", "outcome"):
        del old_track[key]
    db.execute("INSERT INTO batches VALUES (?, ?)", ("b1", json.dumps(old_track)))
    old_job = {"job_name": "job", "last_outcome": "failed", "last_finish": 5.0, "last_success": None}
    db.execute("INSERT INTO jobs VALUES (?, ?)", ("job", json.dumps(old_job)))
    db.execute("PRAGMA user_version=3")
    db.commit()
    db.close()
    store, problem = Store.open(str(path))
    loaded = store.load()
    assert problem is None and loaded.bad == []
    assert loaded.tracks["b1"] == sample_track()
    assert loaded.jobs["job"] == JobSummary("job", "failed", 5.0)
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    store.close()


@pytest.mark.parametrize(
    ("flags", "layout"),
    [
        ({"sectioned": True, "legacy": False}, "sectioned"),
        ({"sectioned": False, "legacy": True}, "legacy"),
        ({}, "plain"),
    ],
)
def test_a_schema_4_file_keeps_each_tracks_log_layout(tmp_path, flags, layout):
    """Schema 4 kept the layout as sectioned/legacy flags (or neither, older still): migrated to its one name."""
    path = tmp_path / "v4.db"
    db = sqlite3.connect(path)
    for step in (1, 2, 3, 4):
        for sql in MIGRATIONS[step]:
            db.execute(sql)
    old_track = json.loads(encode_track(sample_track()))
    del old_track["log"]["layout"], old_track["log"]["read_at"], old_track["log"]["misses"]
    old_track["log"].update(flags)
    db.execute("INSERT INTO batches VALUES (?, ?)", ("b1", json.dumps(old_track)))
    db.execute("PRAGMA user_version=4")
    db.commit()
    db.close()
    store, problem = Store.open(str(path))
    assert problem is None
    row = json.loads(store._db.execute("SELECT data FROM batches").fetchone()[0])
    assert (row["log"]["layout"], "sectioned" in row["log"], "legacy" in row["log"]) == (layout, False, False)
    loaded = store.load().tracks["b1"]
    assert loaded == replace(sample_track(), log=replace(sample_track().log, layout=layout))
    store.close()


def test_runs_histograms_and_counted_marks_survive_a_restart(tmp_path):
    """A counted track, its job's runs and the histograms come back as they were committed."""
    path = str(tmp_path / "s.db")
    counted = replace(sample_track(), waited=True, started_at=12.5, outcome="succeeded")
    job = JobSummary("job", "succeeded", 5.0, 5.0, None, 4.0, (("succeeded", 2), ("failed", 1)))
    hist = Histogram().observe(4.0).observe(3600.0)
    store, _ = Store.open(path)
    store.commit(Change([counted], [job], histograms=[((DURATION, "q", "succeeded"), hist)]))
    store.close()
    store, _ = Store.open(path)
    loaded = store.load()
    store.close()
    assert loaded.tracks["b1"] == counted
    assert loaded.jobs["job"] == job
    assert loaded.histograms == {(DURATION, "q", "succeeded"): hist}


def test_histograms_with_other_buckets_are_reported_not_loaded(tmp_path):
    """Counts kept with another version's buckets cannot be re-bucketed: the row is named as bad."""
    path = str(tmp_path / "s.db")
    store, _ = Store.open(path)
    odd = Histogram(bounds=(1.0,), counts=(1, 0), total=0.5)
    store.commit(Change(histograms=[((DURATION, "q", "failed"), odd)]))
    loaded = store.load()
    store.close()
    assert loaded.histograms == {}
    assert len(loaded.bad) == 1
