"""One example Event of every name, with the fields the watcher gives it, for renderer and schema tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watcher.core.events import Event

if TYPE_CHECKING:
    from watcher.core.vocabulary import EventName, Level

STAMP = "2026-11-28T11:17:26.890Z"
BATCH = "c9dff41b-a694-42a6-9f27-3c755af225ee"
CONTEXT = {"job_name": "ml-train", "queue": "gpu-queue", "app_id": "application_1712345678901_0042"}


def batch(name: EventName, level: Level = "info", seq: int = 1, **fields: Any) -> Event:
    """A batch event as the tracker makes it: the context first, then its own fields."""
    return Event(name, level, BATCH, seq, {**CONTEXT, **fields}, STAMP)


def own(name: EventName, level: Level = "info", **fields: Any) -> Event:
    """One of the watcher's own events, stamped by the writer."""
    return Event(name, level, fields=fields)


SAMPLES: dict[str, Event] = {
    e.name: e
    for e in [
        batch(
            "batch.discovered",
            state="running",
            owner="ml-team",
            create_time="2026-11-28T11:15:00.000Z",
            update_time="2026-11-28T11:17:00.000Z",
            req_body={"file": "obs://b/train.py", "conf": {"spark.executor.memory": "4g", "spark.executor": "x"}},
        ),
        batch(
            "batch.state_changed",
            from_state="running",
            to_state="dead",
            update_time="2026-11-28T11:17:26.531Z",
            previous_state_seconds=12.001,
        ),
        batch("batch.finished", "warning", state="dead", outcome="failed", duration_seconds=None, final=False),
        batch("batch.outcome", "info", state="success", outcome="succeeded", duration_seconds=61.5, recovered=True),
        batch("batch.log", stream="stderr", line="ERROR Executor: Exception in task 0.0 \u2028 \x1b[31m"),
        batch("batch.log_gap", "warning", stream="stdout", missed_lines=None),
        batch("batch.log_unavailable", "warning", failed_reads=3),
        batch("batch.changed", changes={"appId": {"old": None, "new": "application_1712345678901_0042"}}),
        batch("batch.unknown_state", "warning", state="Shutting-Down"),
        batch("batch.field_repaired", "warning", field="update_time", problem="out of range"),
        batch("batch.gone", "warning", last_state="success"),
        batch(
            "batch.not_found",
            "warning",
            status_code=404,
            error_code="DLI.0002",
            error_message="The job does not exist.",
        ),
        batch(
            "batch.poll_failed",
            "warning",
            reason="http",
            status_code=400,
            error_code="DLI.0999",
            error_message="Internal error",
            attempts=3,
        ),
        batch("batch.poll_recovered", failed_seconds=130.0),
        own("watcher.started", version="0.2.0", batches=3, listen="127.0.0.1:19847", shard="0/1", pid=4242),
        own("watcher.ready", batches=3, seconds=1.25, list_requests=1, details_requests=0, log_requests=0),
        own("watcher.stopped", version="0.2.0", batches=3),
        own(
            "watcher.crashed",
            "error",
            version="0.2.0",
            batches=3,
            reason="RuntimeError: boom",
            traceback="Traceback (most recent call last):\n  ...\nRuntimeError: boom\n",
        ),
        own(
            "watcher.internal_error",
            "error",
            exception="KeyError",
            where="watcher/core/tracker.py:120 in observe",
            traceback="Traceback (most recent call last):\n  ...\nKeyError: 'x'\n",
        ),
        own(
            "watcher.reloaded",
            version="0.2.0",
            batches=4,
            added=[BATCH],
            removed=[],
            added_count=1,
            removed_count=0,
            truncated=False,
            restart_required=["api.endpoint"],
        ),
        own("watcher.reload_failed", "error", key="watch.bogus", error_message="unknown key"),
        own("watcher.state_reset", "warning", reason="undecodable rows", rows=["b1"]),
        own("watcher.state_row_skipped", "warning", path="/var/lib/dli-watcher/state.db", table="outbox", rows=["7"]),
        own("watcher.state_locked", "warning", path="/var/lib/dli-watcher/state.db", wait_seconds=30.0),
        own("watcher.recording_stopped", "warning", path="/tmp/case.jsonl", max_bytes=67108864, reason="max_bytes"),
        own(
            "watcher.deprecated_key",
            "warning",
            key="metrics.listen",
            alias="web.listen-address",
            message="web.listen-address is an old name of metrics.listen: rename it (the old name will stop working)",
        ),
        own(
            "watcher.state_write_failed",
            "error",
            path="/var/lib/x.db",
            reason="database or disk is full",
            retrying=True,
        ),
        own("watcher.state_write_recovered", path="/var/lib/x.db"),
        own("watcher.output_stalled", "warning", backlog=10000),
        own("watcher.output_resumed", backlog=12),
        own("watcher.discovery_failed", "warning", reason="http", status_code=503, error_message="unavailable"),
        own("watcher.nothing_to_watch", "warning", batch_ids_file=None, shard="0/1"),
        own(
            "watcher.credentials_rejected",
            "error",
            batches=3,
            status_code=401,
            error_code="APIG.1002",
            error_message="Incorrect token",
            auth_method="token",
        ),
        own(
            "watcher.all_not_found",
            "warning",
            batches=3,
            status_code=404,
            error_code="DLI.0002",
            error_message="The job does not exist.",
        ),
        own("watcher.metrics_slow", "warning", seconds=6.2, bytes=120_000_000, batches=100_000, per_batch="all"),
    ]
}
