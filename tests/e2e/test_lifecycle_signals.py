"""SIGTERM to a real `dli-watcher run` whose reload is stuck on a FIFO still stops it."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from tests.procs import WatcherProcess, write_config

if TYPE_CHECKING:
    from pathlib import Path

    from watcher.simulator import SimServer


def test_sigterm_during_a_reload_stuck_on_a_fifo_stops_the_daemon(tmp_path: Path, sim: SimServer):
    """A reload blocked reading its IDs file (a FIFO nobody writes) no longer keeps SIGTERM from working."""
    bid = sim.world.add_batch(name="job", state="running")
    ids = tmp_path / "batch_ids"
    ids.write_text(bid + "\n")
    config = write_config(tmp_path / "config.toml", sim, [], watch={"batch_ids_file": str(ids)})
    proc = WatcherProcess(config)
    proc.wait_for(lambda: proc.of(bid, "batch.discovered"))
    ids.unlink()
    os.mkfifo(ids)
    proc.send(signal.SIGHUP)
    proc.wait_for(proc.waits_on_a_fifo)  # the reload is now blocked opening it
    started = time.monotonic()
    code = proc.stop(timeout=20)
    assert code == 0, proc.stderr
    assert time.monotonic() - started < 10
    assert proc.events[-1]["event"] == "watcher.stopped"
    assert not any(e["event"] == "watcher.reloaded" for e in proc.events)
