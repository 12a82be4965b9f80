"""The simulator's --print-config works: `check` as a process reads every batch of the story."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import tomllib

from tests.e2e.test_cli import ROOT, TIMEOUT, clean_env, cli, read_until, table_rows
from watcher.simulator.cli import EXAMPLE_TOKEN


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_printed_config_works_against_the_simulator_as_started(tmp_path):
    """`simulate --seed 3 --auth token` and its --print-config: `check` reads every batch of the story."""
    flags = ["--seed", "3", "--auth", "token", "--port", str(free_port()), "--speed", "50"]
    printed = cli("simulate", *flags, "--print-config")
    assert printed.returncode == 0, printed
    config = tmp_path / "config.toml"
    config.write_text(printed.stdout, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "simulate", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        cwd=ROOT,
    )
    try:
        read_until(proc, "scenario finished", time.monotonic() + TIMEOUT)
        result = cli("check", "--config", str(config), env=clean_env(DLI_TOKEN=EXAMPLE_TOKEN))
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            assert stream is not None
            stream.close()
    ids = tomllib.loads(printed.stdout)["watch"]["batch_ids"]
    rows = table_rows(result.stdout)
    assert ids and all(bid in rows for bid in ids), result.stdout
