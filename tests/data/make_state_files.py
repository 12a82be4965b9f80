#!/usr/bin/env python3
"""Write tests/data/state-vN.sqlite: a state file of schema N, written by the watcher of the commit that had it.

Each file is made by that commit's own code (``git archive`` of its ``watcher`` and ``tests``, then its Store
and codec), so tests/test_state_upgrade.py migrates what a real older watcher left behind, not what today's
code thinks it wrote. Existing files are kept: they are the record. When SCHEMA_VERSION goes to N+1, add
N's commit and recipe below, run ``python tests/data/make_state_files.py`` from a full clone, and commit the
new file. Every file holds batch b1 (a running track, its log), job ``nightly-etl`` and, from schema 2, one
event not yet written to stdout; schema 2 also a Spark conf secret in the snapshot, which schema 3 removes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SECRET = "s3cr3t-Zq9xQ-never-on-disk"

COMMON = """
import sys
from dataclasses import replace
"""
# schema 1, the first store: Store.open then save(tracks, jobs)
V1 = """
from watcher.board import JobSummary
from watcher.logdiff import LogTrack, StreamTrack
from watcher.model import Snapshot
from watcher.store import Store
from watcher.tracker import Track

log = ("stdout: ", "x", "stderr: ", "YARN Diagnostics: ")
snap = Snapshot("b1", "running", "Running", name="nightly-etl", queue="q", create_time=1, update_time=2, log=log)
track = Track("b1", seq=3, snapshot=snap, presence="present", first_seen=10.0, state_since=11.0,
              log=LogTrack({"stdout": StreamTrack(("x",), 1)}, window=log, sectioned=True), up=True,
              warned_states=frozenset({"weird"}))
store, _ = Store.open(sys.argv[1])
store.save([track], [JobSummary("nightly-etl", "failed", 5.0)])
store.close()
"""
# schemas 2 to 4: Store.open then commit(Change(...)), the tests' own sample track
CHANGE = """
from tests.test_store import sample_track
from watcher.core.board import JobSummary
from watcher.core.events import Event
from watcher.daemon.store import Change, Store

track = replace(sample_track(), snapshot=replace(sample_track().snapshot, name="nightly-etl"{req_body}))
event = Event("batch.state_changed", "info", "b1", 3, {{"from": "starting", "to": "running"}})
store, _ = Store.open(sys.argv[1])
store.commit(Change([track], [JobSummary("nightly-etl", "failed", 5.0)], events=[event]))
store.close()
"""
RECIPES = {
    1: ("8aa2ac7", V1),
    2: ("8ab3625^", CHANGE.format(req_body=f', req_body=\'{{"conf": {{"spark.s3a.secret.key": "{SECRET}"}}}}\'')),
    3: ("92029e2^", CHANGE.format(req_body="")),
    4: ("92029e2", CHANGE.format(req_body="")),
}


def make(version: int, commit: str, recipe: str) -> Path:
    """Run ``recipe`` with the code of ``commit`` to write state-v``version``.sqlite."""
    target = HERE / f"state-v{version}.sqlite"
    with tempfile.TemporaryDirectory() as tree:
        git = ["git", "archive", commit, "watcher", "tests"]
        archive = subprocess.run(git, cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        db = Path(tree) / "state.db"
        subprocess.run([sys.executable, "-c", COMMON + recipe, str(db)], cwd=tree, check=True, env={"PYTHONPATH": tree})
        # one self-contained file: the WAL checkpointed into it
        subprocess.run([sys.executable, "-c", CHECKPOINT, str(db), str(target)], check=True)
    return target


CHECKPOINT = """
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.execute("PRAGMA journal_mode=DELETE")
dst.close()
"""


def main() -> int:
    """Write every missing file; keep the ones there."""
    for version, (commit, recipe) in RECIPES.items():
        if not (HERE / f"state-v{version}.sqlite").exists():
            print(f"wrote {make(version, commit, recipe)} with the code of {commit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
