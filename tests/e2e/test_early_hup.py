"""A SIGHUP right after exec never kills the watcher: the package notes it from its first line on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from tests.procs import WatcherProcess, write_config

if TYPE_CHECKING:
    from pathlib import Path

    from watcher.simulator import SimServer

SIGHUP_BIT = 1 << (signal.SIGHUP - 1)


def hup_handled(pid: int) -> bool:
    """Whether the process catches or ignores SIGHUP now (its default, death, is neither)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        masks = dict(line.split(":", 1) for line in status if line.startswith(("SigCgt", "SigIgn")))
    return bool((int(masks["SigCgt"], 16) | int(masks["SigIgn"], 16)) & SIGHUP_BIT)


def test_importing_the_package_alone_installs_the_handler():
    """The handler comes before any other import of the package: no anyio, no config, no CLI yet."""
    probe = "import signal, sys, watcher; print(signal.getsignal(signal.SIGHUP) is watcher.remember_hup)"
    probe += "; print(sorted(m for m in sys.modules if m.startswith(('watcher.', 'anyio'))))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["True", "[]"]


def test_a_sighup_as_soon_as_it_is_caught_reloads_after_the_start(tmp_path: Path, sim: SimServer):
    """SIGHUP sent the moment the process stops dying of it: it starts, and reloads once running."""
    bid = sim.world.add_batch(name="job", state="running")
    proc = WatcherProcess(write_config(tmp_path / "config.toml", sim, [bid]))
    started = time.monotonic()
    while not hup_handled(proc.proc.pid):
        assert proc.proc.poll() is None and time.monotonic() - started < 30, "the handler never came"
    proc.send(signal.SIGHUP)
    proc.wait_for(lambda: any(e["event"] == "watcher.reloaded" for e in proc.events), timeout=30)
    assert proc.stop() == 0, proc.stderr
    names = [e["event"] for e in proc.events]
    assert names.index("watcher.started") < names.index("watcher.reloaded")
