"""``dli-watcher demo`` tells its whole story readably and exits 0 by itself (played 10x faster here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from watcher.commands.demo import TIME_SCALE_ENV, time_scale
from watcher.errors import ConfigError
from watcher.output.readable import ReadableRenderer


@pytest.mark.slow
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
        assert re.search(rf"^\d\d:\d\d:\d\d  {job}\s+finished  {outcome}", out, re.MULTILINE), job
    assert re.search(r"nightly-aggregation\s+dead -> recovering", out)
    assert "lines could not be recovered" in out
    assert "sessionize: wrote part-00040 (40/40)" in out
    summary = re.search(r"demo finished: 4 batches, (\d+) state changes, 5 finished, (\d+) log lines, 1 log gaps", err)
    assert summary and int(summary.group(1)) >= 11 and int(summary.group(2)) >= 40


def test_readable_renderer_names_batches_by_job():
    """Lines after a batch's discovery carry its job name; unknown batches show a short ID."""
    render = ReadableRenderer()
    base = {"timestamp": "2026-11-28T11:17:26.890Z", "level": "info"}
    render(
        None,
        "info",
        {**base, "event": "batch.discovered", "batch_id": "abc-123", "job_name": "etl", "state": "running"},
    )
    line = render(None, "info", {**base, "event": "batch.log", "batch_id": "abc-123", "stream": "stdout", "line": "hi"})
    other = render(None, "info", {**base, "event": "batch.gone", "batch_id": "ffffffff-1", "last_state": "dead"})
    assert line == "11:17:26  etl                        stdout      | hi"
    assert other.startswith("11:17:26  ffffffff ") and other.endswith("gone (last state dead)")


def test_readable_finish_without_a_duration_says_none():
    """A finish whose duration the API cannot give reads without one, not 'in None s'."""
    base = {"timestamp": "2026-11-28T11:17:26.890Z", "level": "warning", "event": "batch.finished", "batch_id": "a"}
    render = ReadableRenderer()
    known = render(None, "warning", {**base, "outcome": "failed", "state": "dead", "duration_seconds": 12.5})
    unknown = render(None, "warning", {**base, "outcome": "failed", "state": "dead", "duration_seconds": None})
    assert known.endswith("finished  FAILED (dead) in 12.5 s")
    assert unknown.endswith("finished  FAILED (dead)")


def test_demo_time_scale_comes_from_the_environment():
    """Unset is real time; a scale outside (0, 1] is a config error naming the variable."""
    assert time_scale({}) == 1.0
    assert time_scale({TIME_SCALE_ENV: "0.1"}) == 0.1
    for bad in ("0", "-1", "2", "nan", "fast"):
        with pytest.raises(ConfigError, match=TIME_SCALE_ENV):
            time_scale({TIME_SCALE_ENV: bad})
