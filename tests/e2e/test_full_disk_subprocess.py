"""A real ENOSPC on a small tmpfs-like disk under `dli-watcher run`: reported, held, and nothing lost."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


pytestmark = pytest.mark.anyio

BIG = "x" * 2000  # lines that need new pages in the outbox


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs, where mounting one is allowed (CI runs as root); else the max_page_count test stands.

    Not smaller: SQLite's write-ahead log grows to about 4 MiB before it is checkpointed and reused.
    """
    mount = tmp_path / "disk"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)]
    done = subprocess.run(command, check=False, capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); the page-count test covers it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file; returns it (delete it to free the space)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh:  # unbuffered: closing must not flush into a full disk
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_real_full_disk_under_a_running_daemon(small_disk: Path, tmp_path: Path):
    """A real ENOSPC under `dli-watcher run`: reported once, readiness says why, and once freed every line, once."""
    state = small_disk / "state.db"
    with simulator("dli") as server:
        world = server.world
        bid = world.add_batch(name="job", state="running")
        config = write_config(tmp_path / "config.toml", server, [bid], state={"path": str(state)})
        proc = WatcherProcess(config)
        proc.wait_for(lambda: proc.of(bid, "batch.discovered"))
        filler = fill(small_disk)
        world.append_stdout(bid, [f"{n} {BIG}" for n in range(30)])
        proc.wait_for(lambda: any(e["event"] == "watcher.state_write_failed" for e in proc.events), timeout=30)
        ready = httpx.get(proc.metrics_url + "/readyz", timeout=5)
        assert ready.status_code == 503 and "state file not writable" in ready.text
        assert not proc.of(bid, "batch.log")
        filler.unlink()
        proc.wait_for(lambda: any(e["event"] == "watcher.state_write_recovered" for e in proc.events), timeout=30)
        world.set_state(bid, "success")
        proc.wait_for(lambda: proc.of(bid, "batch.finished"), timeout=30)
        assert proc.stop() == 0
        truth = world.truth_lines(bid, "stdout")
    assert [e["line"] for e in proc.of(bid, "batch.log")] == truth
    seqs = [e["seq"] for e in proc.of(bid)]
    assert seqs == list(range(1, len(seqs) + 1))
    failed = [e for e in proc.events if e["event"] == "watcher.state_write_failed"]
    assert len(failed) == 1 and "full" in failed[0]["reason"]
