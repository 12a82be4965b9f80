"""SQLite persistence of per-batch state (WAL); blocking calls, meant to run in a worker thread.

Schema history (``PRAGMA user_version``):
  1: batches(batch_id, data JSON), jobs(job_name, data JSON)
  2: + outbox(id, data JSON): events committed with their state, deleted once written to stdout
  3: no req_body in stored snapshots (it may hold Spark conf secrets); removed from older files, with
     secure_delete so the old text does not linger in free pages
  4: + histograms(key JSON [family, queue, outcome], data JSON): the job duration and queue-wait
     histograms, so counted runs survive a restart (tracks gain waited/started_at/outcome, which
     older rows lack and load with their defaults)
  5: a track's log layout is one name (``plain``, ``legacy``, ``sectioned``, or the new ``local``) instead of
     the ``sectioned``/``legacy`` flags, which rows of older files are rewritten from
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from watcher.daemon.codec import (
    decode_event,
    decode_histogram,
    decode_job,
    decode_track,
    encode_event,
    encode_histogram,
    encode_job,
    encode_track,
)
from watcher.daemon.statelock import StateLock
from watcher.daemon.stateperms import check_trusted
from watcher.errors import SetupError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from watcher.core.board import HistogramKey, JobSummary
    from watcher.core.events import Event
    from watcher.core.histogram import Histogram
    from watcher.core.tracker import Track

SCHEMA_VERSION = 5
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, data TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS jobs (job_name TEXT PRIMARY KEY, data TEXT NOT NULL)",
    ),
    2: ("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL)",),
    3: ("UPDATE batches SET data = json_remove(data, '$.snapshot.req_body') WHERE data LIKE '%\"req_body\"%'",),
    4: ("CREATE TABLE IF NOT EXISTS histograms (key TEXT PRIMARY KEY, data TEXT NOT NULL)",),
    5: (
        (
            "UPDATE batches SET data = json_remove(json_set(data, '$.log.layout', CASE"
            " WHEN json_extract(data, '$.log.sectioned') THEN 'sectioned'"
            " WHEN json_extract(data, '$.log.legacy') THEN 'legacy' ELSE 'plain' END),"
            " '$.log.sectioned', '$.log.legacy') WHERE json_type(data, '$.log.layout') IS NULL"
        ),
    ),
}


# how long a start waits out another program's lock on the file (a backup, a sqlite3 shell)
LOCK_WAIT_SECONDS = 30.0
# while running, a commit waits this long for such a lock before it counts as a failed commit
BUSY_TIMEOUT_MS = 5000

# SQLite's primary result codes (the low byte of an extended code)
_BUSY, _LOCKED, _CORRUPT, _NOTADB = 5, 6, 11, 26


class NewerSchemaError(sqlite3.DatabaseError):
    """The file was written by a newer watcher; this one must not touch it."""


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
    histograms: dict[HistogramKey, Histogram] = field(default_factory=dict)
    outbox: dict[int, Event] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    # outbox rows of a shape this watcher never writes (a forged or foreign row): skipped, not written
    skipped_outbox: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """One transaction's worth of changes; ``written_upto`` acknowledges outbox rows already on stdout."""

    tracks: Sequence[Track] = ()
    jobs: Sequence[JobSummary] = ()
    removed: Sequence[str] = ()
    events: Sequence[Event] = ()
    written_upto: int = 0
    histograms: Sequence[tuple[HistogramKey, Histogram]] = ()


K = TypeVar("K")
V = TypeVar("V")


def _decode_into(target: dict[K, V], key: K, data: str, decode: Callable[[str], V], bad: list[str]) -> None:
    try:
        target[key] = decode(data)
    except (ValueError, KeyError, TypeError):
        bad.append(str(key))


class Store:
    """One SQLite connection; every method blocks, so callers run them off the event loop."""

    def __init__(self, path: str, lock: StateLock | None = None) -> None:
        self.path, self._lock = path, lock
        # one second per attempt: Store.open retries a locked file itself, reporting the wait
        self._db = sqlite3.connect(path, timeout=1.0, check_same_thread=False, isolation_level=None)

    @classmethod
    def open(
        cls,
        path: str,
        *,
        on_wait: Callable[[], None] | None = None,
        wait_seconds: float = LOCK_WAIT_SECONDS,
    ) -> tuple[Store, StateFileError | None]:
        """Lock, open and migrate the file; only a damaged one is moved aside (and the error returned).

        Anything else that makes the file unusable (held by another watcher, read-only, a newer schema,
        a symlink, a missing directory, locked for longer than ``wait_seconds``) raises SetupError,
        because starting afresh would reuse ``(batch_id, seq)`` keys downstream already holds.
        """
        _check_place(path)
        lock = StateLock(path)
        try:
            _create_private(path)
            return cls._open_locked(path, lock, on_wait, wait_seconds)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(
        cls, path: str, lock: StateLock, on_wait: Callable[[], None] | None, wait_seconds: float
    ) -> tuple[Store, StateFileError | None]:
        deadline = time.monotonic() + wait_seconds
        while True:
            store = cls(path, lock)
            try:
                store._migrate()
            except sqlite3.DatabaseError as exc:
                store._db.close()
                if _primary(exc) in (_BUSY, _LOCKED):
                    if on_wait is not None:
                        on_wait()
                        on_wait = None
                    if time.monotonic() >= deadline:
                        raise SetupError(path, f"locked by another program for over {wait_seconds:g} s") from None
                    time.sleep(0.2)
                    continue
                if _primary(exc) not in (_CORRUPT, _NOTADB):
                    raise SetupError(path, _unusable(exc)) from None
                kept = _move_aside(path)
                store = cls(path, lock)
                store._migrate()
                return store, StateFileError(f"state file {path} is unreadable ({exc})", kept)
            store._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            return store, None

    def _migrate(self) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            newer = f"written by a newer dli-watcher (schema {version}; this one knows {SCHEMA_VERSION})"
            raise NewerSchemaError(newer)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if version == SCHEMA_VERSION:
            # a write lock proves the file writable (and waits out other writers) without writing a
            # byte, so a start on a full disk still succeeds
            db.execute("BEGIN IMMEDIATE")
            db.execute("SELECT count(*) FROM batches").fetchone()
            db.execute("ROLLBACK")
            return
        # what a migration removes is overwritten, not left readable in free pages
        db.execute("PRAGMA secure_delete=ON")
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
        for key, data in self._db.execute("SELECT key, data FROM histograms"):
            _decode_into(loaded.histograms, _histogram_key(key), data, decode_histogram, loaded.bad)
        for row_id, data in self._db.execute("SELECT id, data FROM outbox ORDER BY id"):
            _decode_into(loaded.outbox, row_id, data, decode_event, loaded.skipped_outbox)
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
            db.executemany(
                "INSERT OR REPLACE INTO histograms VALUES (?, ?)",
                ((json.dumps(k), encode_histogram(h)) for k, h in change.histograms),
            )
            db.executemany("DELETE FROM batches WHERE batch_id = ?", ((b,) for b in change.removed))
            db.execute("DELETE FROM outbox WHERE id <= ?", (change.written_upto,))
            db.executemany("INSERT INTO outbox (data) VALUES (?)", ((encode_event(e),) for e in change.events))
            last = db.execute("SELECT max(id) FROM outbox").fetchone()[0] or change.written_upto
            db.execute("COMMIT")
        except BaseException:
            # SQLite has already rolled back after some errors (SQLITE_FULL): a second ROLLBACK would
            # fail and hide the first error
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return int(last)

    def close(self) -> None:
        """Checkpoint and close, then let go of the lock."""
        self._db.close()
        if self._lock is not None:
            self._lock.release()


def _histogram_key(text: str) -> HistogramKey:
    """A histograms row's key; a malformed one decodes to a key no family uses, and is reported as bad."""
    try:
        family, queue, outcome = json.loads(text)
    except (ValueError, TypeError):
        return ("", "", text)
    return (str(family), str(queue), str(outcome))


def _primary(exc: sqlite3.Error) -> int:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


def _unusable(exc: sqlite3.DatabaseError) -> str:
    if isinstance(exc, NewerSchemaError):
        return f"{exc}; upgrade the watcher or point state.path elsewhere"
    name = getattr(exc, "sqlite_errorname", "")
    return f"cannot be used: {exc} ({name or type(exc).__name__}); is it or its directory read-only?"


def _create_private(path: str) -> None:
    """Create a missing state file readable by its owner only (SQLite gives its -wal and -shm the same mode)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _check_place(path: str) -> None:
    """Refuse what opening would silently get wrong: a symlink (followed as root), a missing directory."""
    parent = Path(path).parent
    if not parent.is_dir():
        raise SetupError(path, f"directory {parent} does not exist (the watcher creates the file, not directories)")
    for name in (path, path + "-wal", path + "-shm"):
        try:
            mode = os.lstat(name).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            raise SetupError(name, "is a symbolic link, which is refused; point state.path at the real file")
        if not stat.S_ISREG(mode):
            raise SetupError(name, "is not a regular file")
        if not os.access(name, os.R_OK | os.W_OK):
            raise SetupError(name, "is read-only for this user; the watcher must write its state")
    if not os.access(parent, os.W_OK | os.X_OK):
        # SQLite creates its -wal and -shm files beside the state file
        raise SetupError(path, f"directory {parent} is read-only for this user")
    check_trusted(path)


def _move_aside(path: str) -> str:
    kept = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
    os.replace(path, kept)
    for suffix in ("-wal", "-shm"):
        if Path(path + suffix).exists():
            os.replace(path + suffix, kept + suffix)
    return kept
