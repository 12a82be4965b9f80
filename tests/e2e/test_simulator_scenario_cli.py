"""The ``simulate`` command as a process: prints its URL and IDs, serves, exits 0 on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx


def test_simulate_command_serves_until_sigterm():
    """``python -m watcher.simulator.cli`` prints its URL and IDs, serves, and exits 0 on SIGTERM."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "watcher.simulator.cli", "--port", "0", "--flavor", "livy", "--speed", "100"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=root) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split(" listening on ")[1].strip()
            banner = [proc.stdout.readline() for _ in range(7)]
            assert any("daily-etl" in line for line in banner)
            assert httpx.get(f"{url}/batches").json()["total"] >= 1
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
