"""Upgrades keep the state: a file of every earlier schema, written by that era's watcher, migrates and loads."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from watcher.core.events import Event
from watcher.daemon.store import SCHEMA_VERSION, Change, Store

DATA = Path(__file__).resolve().parents[1] / "data"
NAMED = (re.fullmatch(r"state-v(\d+)\.sqlite", p.name) for p in DATA.iterdir())
KEPT = {int(m.group(1)): DATA / m.group(0) for m in NAMED if m}
# tests/data/make_state_files.py puts it in the schema-2 file's snapshot; migration 3 must erase it
SECRET = b"s3cr3t-Zq9xQ-never-on-disk"


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_a_state_file_of_every_earlier_schema_is_kept() -> None:
    """Bumping SCHEMA_VERSION needs the previous version's file (tests/data/make_state_files.py writes it)."""
    missing = set(range(1, SCHEMA_VERSION)) - set(KEPT)
    assert not missing, f"no state-vN.sqlite for schema {sorted(missing)}: run tests/data/make_state_files.py"
    for version, path in KEPT.items():
        assert user_version(path) == version, path.name


@pytest.mark.parametrize("version", sorted(KEPT))
def test_an_older_state_file_migrates_and_loads_what_it_held(version: int, tmp_path: Path) -> None:
    """The batch, the job and an unwritten event come back; a secret an old snapshot held is gone from the bytes."""
    path = tmp_path / "state.db"
    shutil.copyfile(KEPT[version], path)
    store, problem = Store.open(str(path))
    try:
        assert problem is None
        loaded = store.load()
        assert loaded.bad == []
        track = loaded.tracks["b1"]
        assert (track.seq, track.state, track.presence, track.up) == (3, "running", "present", True)
        assert track.snapshot is not None
        assert track.snapshot.name == "nightly-etl"
        assert track.log.streams["stdout"].tail == ("x",)
        assert loaded.jobs["nightly-etl"].last_outcome == "failed"
        if version >= 2:  # the outbox came with schema 2: the event not yet on stdout is still owed
            (event,) = loaded.outbox.values()
            assert (event.name, event.batch_id, event.seq) == ("batch.state_changed", "b1", 3)
        assert user_version(path) == SCHEMA_VERSION
        # the upgraded file takes new writes, and the owed event is acknowledged as usual
        store.commit(Change([track], events=[Event("batch.finished", "info", "b1", 4, {})], written_upto=1))
    finally:
        store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.db"))
    assert SECRET not in raw
    store, problem = Store.open(str(path))
    try:
        assert problem is None
        assert [e.name for e in store.load().outbox.values()] == ["batch.finished"]
    finally:
        store.close()
