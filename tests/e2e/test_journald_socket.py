"""`run` under a journald stream: ``<N>`` priorities only when stdout is the stream $JOURNAL_STREAM names."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

from tests.helpers import simulator
from tests.procs import write_config
from watcher.output.journald import stream_identity

if TYPE_CHECKING:
    from pathlib import Path

PRIORITY = {"debug": "7", "info": "6", "warning": "4", "error": "3"}


def wait_until(predicate, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the watcher did not get there"
        time.sleep(0.05)


def run_with_journal_stream(tmp_path: Path, matching: bool) -> list[str]:
    """Run the daemon with stdout on a pipe and $JOURNAL_STREAM naming that pipe (or another one).

    Its story has a level of each kind: info (started), warning (a dead batch finishing, a batch not
    found) and error (a reload that finds a broken config).
    """
    tmp_path.mkdir()
    with simulator("dli") as server:
        dead = server.world.add_batch(name="dead-job", state="dead")
        config = write_config(tmp_path / "config.toml", server, [dead, "99999999-9999-4999-8999-999999999999"])
        read, write = os.pipe()
        decoy_read, decoy_write = os.pipe()
        named = stream_identity(write if matching else decoy_write)
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "--config", str(config)],
            stdout=write,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "JOURNAL_STREAM": named},
        )
        os.close(write)
        lines: list[str] = []
        with os.fdopen(read) as stdout:
            reader = threading.Thread(target=lambda: lines.extend(stdout), daemon=True)
            reader.start()
            wait_until(lambda: all(any(n in line for line in lines) for n in ("batch.finished", "batch.not_found")))
            config.write_text(config.read_text().replace("[watch]", "[watch]\nbogus_key = 1"))
            proc.send_signal(signal.SIGHUP)
            wait_until(lambda: any("watcher.reload_failed" in line for line in lines))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
            reader.join(timeout=5)
        os.close(decoy_read)
        os.close(decoy_write)
    return lines


def test_run_prefixes_priorities_only_on_the_journal_stream(tmp_path):
    """``run`` under systemd: journalctl -p works; the same variable naming another stream changes nothing."""
    journal = run_with_journal_stream(tmp_path / "journal", matching=True)
    levels = {}
    for line in journal:
        prefix, body = re.match(r"^<(\d)>(\{.*\})\n$", line).groups()  # type: ignore[union-attr]
        event = json.loads(body)
        assert prefix == PRIORITY[event["level"]], line
        levels[event["level"]] = prefix
    assert levels == {"info": "6", "warning": "4", "error": "3"}
    elsewhere = run_with_journal_stream(tmp_path / "pipe", matching=False)
    assert elsewhere and all(line.startswith("{") for line in elsewhere)
    assert {json.loads(line)["event"] for line in elsewhere} >= {"batch.finished", "watcher.reload_failed"}
