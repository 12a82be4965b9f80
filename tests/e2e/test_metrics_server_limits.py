"""The metrics server in a real `dli-watcher run`: bounded under a half-open flood, one line on a busy port."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config
from tests.sockets import half_open


def threads_of(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def test_daemon_under_a_half_open_flood_stays_bounded_and_stops_on_sigterm(tmp_path):
    """``dli-watcher run`` with 1,000 half-open connections: threads bounded, /healthz 200, SIGTERM exits 0 promptly."""
    with simulator("dli") as sim:
        bid = sim.world.add_batch(name="flood", state="running")
        proc = WatcherProcess(write_config(tmp_path / "config.toml", sim, [bid]))
        try:
            url = proc.metrics_url
            proc.wait_for(lambda: proc.of(bid, "batch.discovered"))
            before = threads_of(proc.proc.pid)
            socks = half_open(url, 1000, partial=b"GET /metrics HTTP/1.1\r\n")
            try:
                during = threads_of(proc.proc.pid)
                health = httpx.get(url + "/healthz", timeout=10)
                scrape = httpx.get(url + "/metrics", timeout=10)
                started = time.monotonic()
                code = proc.stop(timeout=20)
                stopping = time.monotonic() - started
            finally:
                for sock in socks:
                    sock.close()
        finally:
            if proc.proc.poll() is None:
                proc.stop(signal.SIGKILL)
    # the poll loop's own worker threads may come and go; a thread per connection would add 1,000
    assert during <= before + 4, (before, during)
    assert (health.status_code, health.text) == (200, "ok\n")
    assert f'dli_batch_watch_status{{batch_id="{bid}",status="ok"}} 1' in scrape.text
    assert code == 0
    assert stopping < 10.0  # generous: the watcher stops within a few seconds
    assert proc.events[-1]["event"] == "watcher.stopped"


def test_daemon_on_a_busy_port_exits_2_with_one_line(tmp_path):
    """A second watcher on the first one's port exits 2 with one line naming the address and the other watcher."""
    with simulator("dli") as sim:
        bid = sim.world.add_batch(name="busy", state="running")
        first = WatcherProcess(write_config(tmp_path / "first.toml", sim, [bid]))
        try:
            address = first.metrics_url.removeprefix("http://")
            config = write_config(tmp_path / "second.toml", sim, [bid], metrics={"listen": address})
            second = subprocess.run(
                [sys.executable, "-m", "watcher", "run", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            first.stop()
    assert second.returncode == 2
    assert second.stdout == ""
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith(f"dli-watcher: cannot start: {address}: address already in use;")
    assert "another dli-watcher seems to listen there" in lines[0]
