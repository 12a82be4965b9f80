"""`dli-watcher run --record` then `dli-watcher replay` as processes: the same batch lines."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.helpers import simulator
from tests.procs import write_config

pytestmark = pytest.mark.anyio


def batch_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if '"batch_id"' in line]


def test_the_commands_record_and_replay_byte_for_byte(tmp_path):
    """`dli-watcher run --record` then `dli-watcher replay` as processes: the batch lines of stdout are identical."""
    record = tmp_path / "case.jsonl"
    with simulator("dli") as sim:
        bid = sim.world.add_batch(name="job")
        config = write_config(tmp_path / "config.toml", sim, [bid])
        command = [sys.executable, "-m", "watcher", "run", "--config", str(config), "--record", str(record)]
        seen: list[str] = []
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                seen.append(line)
                if '"batch.discovered"' in line:
                    sim.world.append_stdout(bid, ["first", "second"])
                    sim.world.set_state(bid, "running")
                if '"batch.state_changed"' in line:
                    sim.world.set_state(bid, "success")
                if '"batch.finished"' in line:
                    proc.send_signal(signal.SIGTERM)
        assert proc.returncode == 0
    replayed = subprocess.run(
        [sys.executable, "-m", "watcher", "replay", str(record)], capture_output=True, text=True, check=False
    )
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines() == batch_lines([line.rstrip("\n") for line in seen])
    assert any('"batch.finished"' in line for line in replayed.stdout.splitlines())
    checked = subprocess.run(
        [sys.executable, "-m", "watcher", "replay", "--check", str(record)], capture_output=True, text=True, check=False
    )
    assert (checked.returncode, checked.stdout.split(":")[0]) == (0, "clean"), checked.stdout
