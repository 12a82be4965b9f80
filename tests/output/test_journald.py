"""Syslog priorities for journald: ``<N>`` before each line only when stdout is the stream $JOURNAL_STREAM names."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest

from tests.helpers import simulator
from tests.procs import write_config
from tests.samples import SAMPLES
from watcher.output.journald import is_journal, stream_identity
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from pathlib import Path

PRIORITY = {"debug": "7", "info": "6", "warning": "4", "error": "3"}


def test_only_the_stream_systemd_named_is_the_journal(tmp_path):
    """A pipe matches its own device:inode; another pipe, a file, an unset or garbled value do not."""
    read, write = os.pipe()
    other_read, other_write = os.pipe()
    with os.fdopen(write, "w") as stream, os.fdopen(other_write, "w") as other, (tmp_path / "f").open("w") as file:
        named = {"JOURNAL_STREAM": stream_identity(write)}
        assert is_journal(stream, named)
        assert not is_journal(other, named)
        assert not is_journal(file, named)
        assert not is_journal(stream, {})
        assert not is_journal(stream, {"JOURNAL_STREAM": "garbage"})
        assert not is_journal(io.StringIO(), named)
    os.close(read)
    os.close(other_read)


def test_each_line_on_the_journal_starts_with_its_priority():
    """On the journal a warning is <4>, an error <3>, info <6>; the JSON after the prefix is unchanged."""
    read, write = os.pipe()
    with os.fdopen(write, "w") as stream:
        writer = EventWriter.for_format("json", "debug", stream, env={"JOURNAL_STREAM": stream_identity(write)})
        lines = writer.lines(SAMPLES.values())
    os.close(read)
    for line in lines:
        prefix, body = re.match(r"^<(\d)>(.*)$", line, re.DOTALL).groups()  # type: ignore[union-attr]
        assert prefix == PRIORITY[json.loads(body)["level"]]


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


@pytest.mark.slow
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
