"""The state file under operational faults, end to end: locks, a second daemon, read-only places, symlinks, schemas.

Each case runs the real ``dli-watcher run`` against the simulator. The rule checked throughout: a state file
the watcher cannot use is never replaced by a fresh one, because a fresh one restarts ``seq`` and would give
``(batch_id, seq)`` keys downstream already holds to different events. CI runs as root, which ignores file
modes, so the permission cases drop to ``nobody`` with ``setpriv``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.daemon.test_store import hold_exclusive
from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config
from tests.tools import require

if TYPE_CHECKING:
    from collections.abc import Iterator


A = "11111111-1111-4111-8111-111111111111"
NOBODY = 65534


def run_briefly(config: Path, *, as_nobody: bool = False, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """One ``dli-watcher run`` that is expected to refuse to start."""
    prefix = (
        [require("setpriv", "util-linux"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        if as_nobody
        else []
    )
    return subprocess.run(
        [*prefix, sys.executable, "-m", "watcher", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, one line on stderr naming the problem, no traceback, no event with a seq on stdout."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dli-watcher: cannot start: "), done.stderr
    for word in words:
        assert word in lines[0]
    assert '"seq"' not in done.stdout


def seqs_after_a_first_run(tmp_path: Path, state: Path) -> tuple[Path, list[int]]:
    """Run once until A is discovered, stop cleanly; the config and the seqs that run wrote."""
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        config = write_config(tmp_path / "config.toml", server, [A], state={"path": str(state)})
        proc = WatcherProcess(config)
        proc.wait_for(lambda: proc.of(A, "batch.discovered"))
        assert proc.stop() == 0
    return config, [e["seq"] for e in proc.of(A)]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory ``nobody`` can reach (pytest's own tmp_path is root-only)."""
    path = Path(os.path.realpath("/tmp")) / f"dli-watcher-faults-{os.getpid()}-{threading.get_ident()}"
    path.mkdir(mode=0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_lock_at_start_is_waited_out_reported_and_seq_continues(tmp_path):
    """A `sqlite3` shell holding the file at start delays the watcher, which reports it and keeps its seqs."""
    state = tmp_path / "state.db"
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        config = write_config(tmp_path / "config.toml", server, [A], state={"path": str(state)})
        first = WatcherProcess(config)
        first.wait_for(lambda: first.of(A, "batch.discovered"))
        assert first.stop() == 0
        holder = hold_exclusive(state)
        proc = WatcherProcess(config)
        proc.wait_for(lambda: any(e["event"] == "watcher.state_locked" for e in proc.events))
        assert not any(e["event"] == "watcher.started" for e in proc.events)
        holder.close()
        server.world.set_state(A, "success")
        proc.wait_for(lambda: proc.of(A, "batch.finished"))
        assert proc.stop() == 0
    earlier = [e["seq"] for e in first.of(A)]
    later = [e["seq"] for e in proc.of(A)]
    assert later[0] == max(earlier) + 1
    assert not proc.of(A, "batch.discovered")
    assert not any(e["event"] == "watcher.state_reset" for e in proc.events)


def test_a_lock_held_past_the_wait_exits_2_and_keeps_the_file(tmp_path):
    """Past `state.lock_wait_seconds` the start gives up with exit 2; the file is not moved aside."""
    state = tmp_path / "state.db"
    config, _ = seqs_after_a_first_run(tmp_path, state)
    with config.open("a") as fh:
        fh.write("lock_wait_seconds = 1\n")  # [state] is the last section written
    holder = hold_exclusive(state)
    done = run_briefly(config)
    holder.close()
    refused(done, str(state), "locked by another program")
    assert '"watcher.state_locked"' in done.stdout
    assert state.exists() and not list(tmp_path.glob("*corrupt*"))


def test_a_second_daemon_on_the_same_file_exits_2_naming_the_holder(tmp_path):
    """The second copy refuses before touching the file, naming the first one's PID; the first runs on."""
    state = tmp_path / "state.db"
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        config = write_config(tmp_path / "config.toml", server, [A], state={"path": str(state)})
        first = WatcherProcess(config)
        first.wait_for(lambda: first.of(A, "batch.discovered"))
        done = run_briefly(config)
        server.world.set_state(A, "success")
        first.wait_for(lambda: first.of(A, "batch.finished"))
        assert first.stop() == 0
    refused(done, str(state), f"pid {first.proc.pid}")
    seqs = [e["seq"] for e in first.of(A)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_newer_schema_exits_2_and_leaves_the_file_alone(tmp_path):
    """A file from a newer watcher is refused with one line; nothing is renamed or rewritten."""
    state = tmp_path / "state.db"
    config, _ = seqs_after_a_first_run(tmp_path, state)
    db = sqlite3.connect(state)
    db.execute("PRAGMA user_version=99")
    db.close()
    before = state.read_bytes()
    refused(run_briefly(config), "newer dli-watcher")
    assert state.read_bytes() == before
    assert not list(tmp_path.glob("*corrupt*"))


def test_symlinked_state_path_is_refused_and_its_target_untouched(tmp_path):
    """A symlink where the state file should be is refused, not followed."""
    target = tmp_path / "precious"
    target.write_bytes(b"")
    link = tmp_path / "state.db"
    link.symlink_to(target)
    with simulator("dli") as server:
        config = write_config(tmp_path / "config.toml", server, [A], state={"path": str(link)})
        refused(run_briefly(config), "symbolic link")
    assert target.read_bytes() == b""


def test_a_missing_state_directory_is_not_created(tmp_path):
    """`state.path` under a directory that does not exist exits 2; no directory appears."""
    with simulator("dli") as server:
        config = write_config(tmp_path / "config.toml", server, [A], state={"path": str(tmp_path / "x" / "s.db")})
        refused(run_briefly(config), "does not exist")
    assert not (tmp_path / "x").exists()


def test_read_only_state_directory_exits_2_and_keeps_a_good_file(tmp_path, shared_dir):
    """As an unprivileged user, a good file in a directory it cannot write is refused, never renamed."""
    state_dir = shared_dir / "state"
    state_dir.mkdir(mode=0o755)
    state = state_dir / "state.db"
    config, _ = seqs_after_a_first_run(shared_dir, state)
    config.chmod(0o644)
    state.chmod(0o644)
    for extra in state_dir.iterdir():
        extra.chmod(0o644)
    done = run_briefly(config, as_nobody=True)
    refused(done, "state.db")
    assert sorted(p.name for p in state_dir.iterdir() if "corrupt" in p.name) == []


def test_read_only_state_file_exits_2(tmp_path, shared_dir):
    """As an unprivileged user, a file it cannot write (in a directory it can) is refused, never renamed."""
    state_dir = shared_dir / "state"
    state_dir.mkdir(mode=0o755)
    state = state_dir / "state.db"
    config, _ = seqs_after_a_first_run(shared_dir, state)
    config.chmod(0o644)
    for extra in state_dir.iterdir():
        extra.chmod(0o644)
    os.chown(state_dir, NOBODY, NOBODY)
    os.chown(state_dir / "state.db.lock", NOBODY, NOBODY)
    done = run_briefly(config, as_nobody=True)
    refused(done, "state.db", "read-only")
    assert sorted(p.name for p in state_dir.iterdir() if "corrupt" in p.name) == []


def lines_of(events: list[dict[str, object]], bid: str) -> list[object]:
    """The log lines emitted for ``bid``, each (batch_id, seq) once."""
    by_key = {(e["batch_id"], e["seq"]): e for e in events if e.get("batch_id") == bid}
    return [e["line"] for _, e in sorted(by_key.items(), key=lambda kv: str(kv[0][1]).zfill(9)) if "line" in e]


def test_a_lock_while_running_is_reported_retried_and_loses_nothing(tmp_path):
    """Another program holding the write lock for longer than the busy timeout fails commits; they are retried."""
    state = tmp_path / "state.db"
    with simulator("dli") as server:
        world = server.world
        world.add_batch(A, name="a-job", state="running")
        config = write_config(tmp_path / "config.toml", server, [A], state={"path": str(state)})
        proc = WatcherProcess(config)
        proc.wait_for(lambda: proc.of(A, "batch.discovered"))
        holder = sqlite3.connect(state, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock; readers go on
        world.append_stdout(A, [f"during {n}" for n in range(5)])
        proc.wait_for(lambda: any(e["event"] == "watcher.state_write_failed" for e in proc.events), timeout=30)
        assert not [e for e in proc.of(A, "batch.log") if str(e["line"]).startswith("during")]
        holder.rollback()
        holder.close()
        proc.wait_for(lambda: any(e["event"] == "watcher.state_write_recovered" for e in proc.events), timeout=30)
        world.append_stdout(A, ["after"])
        world.set_state(A, "success")
        proc.wait_for(lambda: proc.of(A, "batch.finished"), timeout=30)
        assert proc.stop() == 0
        truth = world.truth_lines(A, "stdout")
    seqs = [e["seq"] for e in proc.of(A)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e["line"] for e in proc.of(A, "batch.log")] == truth
    failed = [e for e in proc.events if e["event"] == "watcher.state_write_failed"]
    assert len(failed) == 1 and failed[0]["level"] == "error" and "locked" in failed[0]["reason"]
