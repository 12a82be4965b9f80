"""``dli-watcher demo`` as a process tells its whole story readably and exits 0 by itself (played 10x faster)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from watcher.commands.demo import TIME_SCALE_ENV

# readable times are local with their offset (or UTC with a Z)
ZONE = r"(?:Z|[+-]\d\d:\d\d)"


def test_demo_runs_the_story_and_exits_cleanly():
    """Every scripted batch shows up with its outcome, the burst gap, the metrics URL and a summary."""
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, TIME_SCALE_ENV: "0.1"},  # the ~55 s story in ~7 s
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out, err = result.stdout, result.stderr
    assert re.search(r"^metrics:\s+http://127\.0\.0\.1:\d+/metrics$", err, re.MULTILINE)
    assert re.search(r"^status:\s+http://127\.0\.0\.1:\d+/$", err, re.MULTILINE)
    for job, outcome in [
        ("daily-etl", "SUCCEEDED"),
        ("ml-train", "FAILED"),
        ("clickstream-sessionize", "SUCCEEDED"),
        ("nightly-aggregation", "SUCCEEDED"),
    ]:
        assert re.search(rf"^\d\d:\d\d:\d\d{ZONE}  {job}\s+finished {outcome}", out, re.MULTILINE), job
    assert re.search(r"nightly-aggregation\s+dead -> recovering", out)
    assert "sessionize: wrote part-00040 (40/40)" in out
    # the gap sits where the lines are missing: before the burst's lines that the window still showed
    gap = out.index("lines could not be recovered")
    assert "compacted segment" not in out[:gap]
    assert "compacted segment 40 of 40" in out[gap:]
    summary = re.search(r"demo finished: 4 batches, (\d+) state changes, 5 finished, (\d+) log lines, 1 log gaps", err)
    assert summary and int(summary.group(1)) >= 11 and int(summary.group(2)) >= 40
