"""SQLite persistence of per-batch state (WAL); blocking calls, meant to run in a worker thread.

Schema history (``PRAGMA user_version``):
  1: batches(batch_id, data JSON), jobs(job_name, data JSON)
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from watcher.board import JobSummary
from watcher.codec import decode_job, decode_track, encode_job, encode_track
from watcher.tracker import Track

SCHEMA_VERSION = 1
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, data TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS jobs (job_name TEXT PRIMARY KEY, data TEXT NOT NULL)",
    ),
}


class StateFileError(Exception):
    """The state file is unreadable or not ours; it has been moved aside to ``kept``."""

    def __init__(self, reason: str, kept: str) -> None:
        super().__init__(f"{reason}; kept the old file as {kept}")
        self.reason, self.kept = reason, kept


class Store:
    """One SQLite connection; every method blocks, so callers run them off the event loop."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)

    @classmethod
    def open(cls, path: str) -> tuple[Store, StateFileError | None]:
        """Open and migrate; a damaged file is moved aside and a fresh one started, with the error returned."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        try:
            store._migrate()
        except sqlite3.DatabaseError as exc:
            store.close()
            kept = _move_aside(path)
            store = cls(path)
            store._migrate()
            return store, StateFileError(f"state file {path} is unreadable ({exc})", kept)
        return store, None

    def _migrate(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"schema version {version} is newer than this watcher's {SCHEMA_VERSION}")
        db.execute("BEGIN")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for sql in MIGRATIONS[step]:
                db.execute(sql)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
        db.execute("SELECT count(*) FROM batches").fetchone()

    def load(self) -> tuple[dict[str, Track], dict[str, JobSummary], list[str]]:
        """Every stored track and job; rows that do not decode are skipped and named."""
        tracks, jobs, bad = {}, {}, []
        for batch_id, data in self._db.execute("SELECT batch_id, data FROM batches"):
            try:
                tracks[batch_id] = decode_track(data)
            except (ValueError, KeyError, TypeError):
                bad.append(batch_id)
        for name, data in self._db.execute("SELECT job_name, data FROM jobs"):
            try:
                jobs[name] = decode_job(data)
            except (ValueError, KeyError, TypeError):
                bad.append(f"job:{name}")
        return tracks, jobs, bad

    def save(self, tracks: Iterable[Track], jobs: Iterable[JobSummary], removed: Iterable[str] = ()) -> None:
        """Write the changed tracks and jobs in one transaction."""
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT OR REPLACE INTO batches VALUES (?, ?)",
                           ((t.batch_id, encode_track(t)) for t in tracks))
            db.executemany("INSERT OR REPLACE INTO jobs VALUES (?, ?)", ((j.job_name, encode_job(j)) for j in jobs))
            db.executemany("DELETE FROM batches WHERE batch_id = ?", ((b,) for b in removed))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Checkpoint and close."""
        self._db.close()


def _move_aside(path: str) -> str:
    kept = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
    os.replace(path, kept)
    for suffix in ("-wal", "-shm"):
        if Path(path + suffix).exists():
            os.replace(path + suffix, kept + suffix)
    return kept
