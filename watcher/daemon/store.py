"""SQLite persistence of per-batch state (WAL); blocking calls, meant to run in a worker thread.

Schema history (``PRAGMA user_version``):
  1: batches(batch_id, data JSON), jobs(job_name, data JSON)
  2: + outbox(id, data JSON): events committed with their state, deleted once written to stdout
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from watcher.daemon.codec import decode_event, decode_job, decode_track, encode_event, encode_job, encode_track

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from watcher.core.board import JobSummary
    from watcher.core.events import Event
    from watcher.core.tracker import Track

SCHEMA_VERSION = 2
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, data TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS jobs (job_name TEXT PRIMARY KEY, data TEXT NOT NULL)",
    ),
    2: ("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL)",),
}


class StateFileError(Exception):
    """The state file is unreadable or not ours; it has been moved aside to ``kept``."""

    def __init__(self, reason: str, kept: str) -> None:
        super().__init__(f"{reason}; kept the old file as {kept}")
        self.reason, self.kept = reason, kept


@dataclass
class Loaded:
    """What a state file held: tracks, job summaries, events not yet known to be written, bad rows."""

    tracks: dict[str, Track] = field(default_factory=dict)
    jobs: dict[str, JobSummary] = field(default_factory=dict)
    outbox: dict[int, Event] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """One transaction's worth of changes; ``written_upto`` acknowledges outbox rows already on stdout."""

    tracks: Sequence[Track] = ()
    jobs: Sequence[JobSummary] = ()
    removed: Sequence[str] = ()
    events: Sequence[Event] = ()
    written_upto: int = 0


K = TypeVar("K")
V = TypeVar("V")


def _decode_into(target: dict[K, V], key: K, data: str, decode: Callable[[str], V], bad: list[str]) -> None:
    try:
        target[key] = decode(data)
    except (ValueError, KeyError, TypeError):
        bad.append(str(key))


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

    def load(self) -> Loaded:
        """Every stored track, job and outbox event; rows that do not decode are skipped and named."""
        loaded = Loaded()
        for batch_id, data in self._db.execute("SELECT batch_id, data FROM batches"):
            _decode_into(loaded.tracks, batch_id, data, decode_track, loaded.bad)
        for name, data in self._db.execute("SELECT job_name, data FROM jobs"):
            _decode_into(loaded.jobs, name, data, decode_job, loaded.bad)
        for row_id, data in self._db.execute("SELECT id, data FROM outbox ORDER BY id"):
            _decode_into(loaded.outbox, row_id, data, decode_event, loaded.bad)
        return loaded

    def commit(self, change: Change) -> int:
        """Write changed tracks and jobs with the events they produced; returns the last outbox id."""
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO batches VALUES (?, ?)",
                ((t.batch_id, encode_track(t)) for t in change.tracks),
            )
            db.executemany(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?)",
                ((j.job_name, encode_job(j)) for j in change.jobs),
            )
            db.executemany("DELETE FROM batches WHERE batch_id = ?", ((b,) for b in change.removed))
            db.execute("DELETE FROM outbox WHERE id <= ?", (change.written_upto,))
            db.executemany("INSERT INTO outbox (data) VALUES (?)", ((encode_event(e),) for e in change.events))
            last = db.execute("SELECT max(id) FROM outbox").fetchone()[0] or change.written_upto
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return int(last)

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
