"""Running the real ``dli-watcher run`` as a subprocess: config files, live stdout reading, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.simulator import SimServer


def write_config(path: Path, server: SimServer, batch_ids: list[str], **extra: dict[str, Any]) -> Path:
    """A TOML config for a subprocess watcher against ``server``; ``extra`` adds or overrides keys per section."""
    world = server.world
    sections: dict[str, dict[str, Any]] = {
        "api": {
            "flavor": world.flavor,
            "endpoint": server.url,
            "project_id": world.project_id,
            "timeout_seconds": 2,
            "max_attempts": 2,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.2,
        },
        "auth": {"method": "none"},
        "watch": {
            "batch_ids": batch_ids,
            "interval_seconds": 0.2,
            "terminal_grace_seconds": 5,
            "not_found_interval_seconds": 1,
        },
        "metrics": {"listen": "127.0.0.1:0"},
        "events": {"format": "json"},
    }
    for name, values in extra.items():
        sections.setdefault(name, {}).update(values)
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    path.write_text("\n".join(lines) + "\n")
    return path


# the kernel function (Linux, /proc/PID/task/TID/wchan) a FIFO's open(2) sleeps in until the other end opens
FIFO_OPEN_WAIT = "wait_for_partner"


def _wchan(task: Path) -> str:
    """Where a thread sleeps in the kernel; "" for one that ended while the threads were listed."""
    try:
        return (task / "wchan").read_text(encoding="ascii")
    except FileNotFoundError:
        return ""


class WatcherProcess:
    """``python -m watcher run --config FILE`` with its stdout parsed line by line as it arrives."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            self.events.append(json.loads(line))

    def of(self, batch_id: str, name: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("batch_id") == batch_id and (name is None or e["event"] == name)]

    def wait_for(self, predicate: Callable[[], object], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None and not predicate():
                self.stop()
                raise AssertionError(f"watcher exited {self.proc.returncode}: {self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; last events: {[e['event'] for e in self.events[-10:]]}")
            time.sleep(0.05)

    @property
    def metrics_url(self) -> str:
        self.wait_for(lambda: any(e["event"] == "watcher.started" for e in self.events))
        started = next(e for e in self.events if e["event"] == "watcher.started")
        return f"http://{started['listen']}"

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def signal_taken(self, signum: int) -> bool:
        """Whether no ``signum`` sent to the process is still pending in the kernel (its handler has it)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text(encoding="ascii")
        fields = (line.partition(":") for line in status.splitlines())
        pending = [int(value, 16) for key, _, value in fields if key in {"SigPnd", "ShdPnd"}]
        return not any(mask >> (signum - 1) & 1 for mask in pending)

    def waits_on_a_fifo(self) -> bool:
        """Whether a thread of the process is blocked opening a FIFO nobody has opened for writing."""
        return any(_wchan(task) == FIFO_OPEN_WAIT for task in Path(f"/proc/{self.proc.pid}/task").iterdir())

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``signum`` and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        assert self.proc.stderr is not None and self.proc.stdout is not None
        self.stderr = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        return code
