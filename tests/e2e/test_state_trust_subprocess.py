"""The state file trusts no other user, as `dli-watcher run` and `check` processes see it (setpriv, outbox rows)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.test_state_faults import NOBODY, refused, run_briefly
from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config
from watcher.commands.preflight import state_file
from watcher.daemon.store import MIGRATIONS, SCHEMA_VERSION, Store

if TYPE_CHECKING:
    from collections.abc import Iterator

A = "11111111-1111-4111-8111-111111111111"
FORGED = "forged-by-another-user"
needs_setpriv = pytest.mark.skipif(
    shutil.which("setpriv") is None or os.geteuid() != 0,
    reason="running a second user needs setpriv and root (CI runs as root)",
)


def forged_state(path: Path) -> None:
    """A state file of the current schema whose outbox holds an event nobody watching wrote."""
    db = sqlite3.connect(path)
    for step in range(1, SCHEMA_VERSION + 1):
        for sql in MIGRATIONS[step]:
            if not sql.startswith("UPDATE"):
                db.execute(sql)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    event = ["batch.failed", "error", A, 99, {"message": FORGED}, "2026-01-01T00:00:00Z"]
    db.execute("INSERT INTO outbox (data) VALUES (?)", (json.dumps(event),))
    db.commit()
    db.close()


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A world-writable, sticky directory (like /tmp) that another user can create files in."""
    path = Path(os.path.realpath("/tmp")) / f"dli-watcher-trust-{os.getpid()}-{threading.get_ident()}"
    path.mkdir()
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@needs_setpriv
def test_a_state_file_another_user_wrote_is_refused_and_its_outbox_never_written(tmp_path: Path, open_dir: Path):
    """Nobody creates a world-writable state file with a forged event: run exits 2 in one line, check says so."""
    state = open_dir / "state.db"
    script = (
        f"import sys; sys.path[:0] = {sys.path!r}; from tests.e2e.test_state_trust_subprocess import forged_state; "
    )
    script += f"import pathlib, os; os.umask(0); forged_state(pathlib.Path({str(state)!r}))"
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    subprocess.run([*prefix, sys.executable, "-c", script], check=True, cwd=Path(__file__).parent.parent)
    assert os.stat(state).st_uid == NOBODY
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        config = write_config(tmp_path / "config.toml", server, [A], state={"path": str(state)})
        done = run_briefly(config)
    refused(done, str(state), f"owned by uid {NOBODY}")
    assert FORGED not in done.stdout
    finding = state_file(str(state))
    assert finding.status == "failed" and f"owned by uid {NOBODY}" in finding.detail


def test_an_outbox_row_of_the_wrong_shape_is_skipped_and_reported_once(tmp_path: Path):
    """A valid-JSON row of another shape no longer stops every start: skipped, named once, the rest written."""
    state = tmp_path / "state.db"
    store, _ = Store.open(str(state))
    store.close()
    good = ["watcher.nothing_to_watch", "warning", None, None, {"note": "kept"}, "2026-01-01T00:00:00Z"]
    db = sqlite3.connect(state)
    rows: list[object] = [[1, 2, 3, 4, 5], {"event": "x"}, good, ["batch.failed", "error", A, "7", {}, None]]
    for row in rows:
        db.execute("INSERT INTO outbox (data) VALUES (?)", (json.dumps(row),))
    db.commit()
    db.close()
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        proc = WatcherProcess(write_config(tmp_path / "config.toml", server, [A], state={"path": str(state)}))
        proc.wait_for(lambda: proc.of(A, "batch.discovered"))
        assert proc.stop() == 0, proc.stderr
    skipped = [e for e in proc.events if e["event"] == "watcher.state_row_skipped"]
    assert len(skipped) == 1 and skipped[0]["rows"] == ["1", "2", "4"] and skipped[0]["table"] == "outbox"
    assert any(e.get("note") == "kept" for e in proc.events)


def test_a_replayed_outbox_line_is_masked_like_any_other(tmp_path: Path):
    """Server text kept in the outbox (a log line echoing the token) is masked when replayed at the next start."""
    token = "PLANTED-token-for-replay-0001"
    state = tmp_path / "state.db"
    store, _ = Store.open(str(state))
    store.close()
    echoed = ["batch.log", "info", A, 1, {"stream": "stdout", "line": f"curl -H 'X-Auth-Token: {token}'"}, None]
    db = sqlite3.connect(state)
    db.execute("INSERT INTO outbox (data) VALUES (?)", (json.dumps(echoed),))
    db.commit()
    db.close()
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        config = write_config(
            tmp_path / "config.toml", server, [A], state={"path": str(state)}, auth={"method": "token"}
        )
        proc = WatcherProcess(config, env={"DLI_TOKEN": token})
        proc.wait_for(lambda: proc.of(A, "batch.log"))
        assert proc.stop() == 0, proc.stderr
    assert token not in "".join(proc.raw)
    assert any("X-Auth-Token: ***" in str(e.get("line")) for e in proc.of(A, "batch.log"))
