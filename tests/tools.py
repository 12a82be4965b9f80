"""What several test modules share: the SPEC's metric names and finding and running real tools."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

# SPEC §6 and issue 14: every dli_* family the watcher exposes (README's metrics table lists them).
SPEC_METRICS = frozenset(
    {
        "dli_batch_info",
        "dli_batch_state",
        "dli_batch_created_timestamp_seconds",
        "dli_batch_updated_timestamp_seconds",
        "dli_batch_update_age_seconds",
        "dli_batch_state_since_timestamp_seconds",
        "dli_batch_up",
        "dli_batch_watch_status",
        "dli_batch_started_timestamp_seconds",
        "dli_batch_finished_timestamp_seconds",
        "dli_batch_transitions_total",
        "dli_batches",
        "dli_job_runs_total",
        "dli_job_last_success_timestamp_seconds",
        "dli_job_last_failure_timestamp_seconds",
        "dli_job_last_finish_timestamp_seconds",
        "dli_job_last_duration_seconds",
        "dli_job_last_outcome",
        "dli_job_duration_seconds",
        "dli_job_queue_wait_seconds",
        "dli_watcher_batches",
        "dli_watcher_build_info",
        "dli_watcher_watched_batches",
        "dli_watcher_polls_total",
        "dli_watcher_poll_failures_total",
        "dli_watcher_poll_duration_seconds",
        "dli_watcher_last_successful_poll_timestamp_seconds",
        "dli_watcher_events_total",
        "dli_watcher_log_gaps_total",
        # Prometheus' reload gauges, under the watcher's prefix (issue 28)
        "dli_watcher_config_last_reload_successful",
        "dli_watcher_config_last_reload_success_timestamp_seconds",
        "dli_watcher_config_restart_required",
    }
)
# ... and the series names a histogram adds.
HISTOGRAMS = ("dli_watcher_poll_duration_seconds", "dli_job_duration_seconds", "dli_job_queue_wait_seconds")
SPEC_SERIES = SPEC_METRICS | {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}


def require(tool: str, install: str) -> str:
    """The path of ``tool``, or fail the test saying how to install it (no silent skips)."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found: {install}")
    return path


def promtool() -> str:
    """Path of promtool."""
    return require("promtool", "install the Debian package 'prometheus'")


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout, capturing text output."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd)
