"""`run` as a process that cannot write its events at start: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def test_run_with_stdout_closed_or_the_disk_full_exits_2_with_one_line(tmp_path: Path):
    """`run` that cannot write its events at start: one line on stderr, exit 2, no traceback."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[api]\nendpoint = "http://127.0.0.1:9"\nproject_id = "p1"\n[auth]\nmethod = "none"\n'
        '[watch]\nbatch_ids = ["11111111-1111-1111-1111-111111111111"]\n[metrics]\nlisten = "127.0.0.1:0"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    argv = [sys.executable, "-m", "watcher", "run", "--config", str(config)]
    closed = subprocess.run(argv, env=env, stdout=None, stderr=subprocess.PIPE, text=True, check=False, timeout=60,
                            preexec_fn=lambda: os.close(1))  # fmt: skip
    with open("/dev/full", "w", encoding="utf-8") as full:
        filled = subprocess.run(argv, env=env, stdout=full, stderr=subprocess.PIPE, text=True, check=False, timeout=60)
    for done, needle in ((closed, "stdout: it is closed"), (filled, "No space left on device")):
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], done.stderr
