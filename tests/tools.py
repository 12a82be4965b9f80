"""What several test modules share: the SPEC's metric names, and finding and running real tools.

A test that needs a system tool asks ``require``: on a newcomer's machine without it the test skips,
naming the Debian package; under ``CI=true`` (.ci/run sets it) a missing tool fails, so CI cannot skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from collections.abc import Mapping

# the checkout: tests/ lives at its top
ROOT = Path(__file__).resolve().parent.parent

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


def in_ci(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the tests run in CI (``CI=true``, as .ci/run and most CI services set it)."""
    return env.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing(what: str, package: str, env: Mapping[str, str] = os.environ) -> NoReturn:
    """Skip the test naming the Debian package that provides ``what``; in CI fail instead (CI must not skip)."""
    reason = f"{what} not found: install the Debian package '{package}'"
    if in_ci(env):
        pytest.fail(f"{reason} (CI=true: a missing tool is a failure)")
    pytest.skip(reason)


def require(tool: str, package: str, env: Mapping[str, str] = os.environ) -> str:
    """The path of ``tool`` on PATH; when it is missing, skip naming ``package`` (fail under ``CI=true``)."""
    path = shutil.which(tool)
    if path is None:
        missing(tool, package, env)
    return path


def require_file(path: Path, package: str, env: Mapping[str, str] = os.environ) -> Path:
    """``path`` (a library, not a command); when it is missing, skip naming ``package`` (fail under ``CI=true``)."""
    if not path.exists():
        missing(str(path), package, env)
    return path


def promtool() -> str:
    """Path of promtool."""
    return require("promtool", "prometheus")


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout, capturing text output."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd)
