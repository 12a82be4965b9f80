"""The status pages as JSON (``?format=json``) for scripts: the same data and paging, ``"schema": 1``.

schema/status.schema.json describes it; a change that is not backwards compatible raises ``SCHEMA``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from watcher.core.events import rfc3339
from watcher.core.tracker import context
from watcher.core.watchstatus import watch_status
from watcher.web.httpwire import Response
from watcher.web.status.oncall import Attention, PageSettings, duration_of, links_of, outcome_of
from watcher.web.status.table import state_of

if TYPE_CHECKING:
    from watcher.core.recent import Recent
    from watcher.core.tracker import Track
    from watcher.web.status.index import About
    from watcher.web.status.query import Query
    from watcher.web.status.table import Selection

SCHEMA = 1
HEADERS = (
    ("Content-Type", "application/json"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
)


def _time(at: float | None) -> str | None:
    return None if at is None else rfc3339(at)


def batch_json(track: Track, recent: Recent, now: float, settings: PageSettings) -> dict[str, Any]:
    """One batch as the table shows it: state, outcome, duration, times, the last error and the link-outs."""
    snap, shown, problem = track.snapshot, outcome_of(track, now, settings), recent.error(track.batch_id)
    duration = duration_of(track, now)
    return {
        "batch_id": track.batch_id,
        "job_name": snap.name if snap else None,
        "queue": snap.queue if snap else None,
        "app_id": snap.app_id if snap else None,
        "state": None if snap is None else state_of(track),
        "watch": watch_status(track),
        "outcome": None if shown is None else {"outcome": shown.outcome, "final": shown.final},
        "duration_seconds": None if duration is None else round(duration, 3),
        "state_since": _time(track.state_since),
        "updated": _time(snap.update_time / 1000) if snap and snap.update_time is not None else None,
        "last_poll": _time(recent.last_poll(track)),
        "last_error": None
        if problem is None
        else {
            "at": rfc3339(problem.at),
            "reason": problem.reason,
            "status_code": problem.status_code,
            "error_code": problem.error_code,
            "message": problem.message,
        },
        "links": [{"name": name, "url": url} for name, url in links_of(track, settings)],
    }


def index_json(
    about: About,
    selection: Selection,
    recent: Recent,
    query: Query,
    now: float,
    settings: PageSettings,
    attention: Attention,
) -> dict[str, Any]:
    """``/?format=json``: the watcher, what needs attention, and the page of batches the same query shows."""
    return {
        "schema": SCHEMA,
        "watcher": {
            "version": about.version,
            "uptime_seconds": round(about.uptime_seconds, 3),
            "shard": about.shard,
            "mode": about.mode,
            "ready": about.not_ready is None,
            "not_ready_reason": about.not_ready,
            "healthy": about.healthy,
        },
        "attention": {
            "failing": attention.failing,
            "not_found": attention.not_found,
            "stuck": attention.stuck,
            "failed_last_hour": attention.failed_last_hour,
        },
        "page": {
            "page": selection.page,
            "pages": selection.pages,
            "per": query.per,
            "matched": selection.matched,
            "total": selection.total,
        },
        "batches": [batch_json(t, recent, now, settings) for t in selection.rows],
    }


def batch_page_json(track: Track, recent: Recent, now: float, settings: PageSettings) -> dict[str, Any]:
    """``/batches/{id}?format=json``: the batch and its recent events (log lines aside), oldest first."""
    events = [
        {"at": rfc3339(e.at), "event": e.name, "level": e.level, "message": e.message, "fields": e.detail}
        for e in recent.events(track.batch_id, context(track.snapshot))
    ]
    return {"schema": SCHEMA, "batch": {**batch_json(track, recent, now, settings), "events": events}}


def json_response(status: int, document: dict[str, Any]) -> Response:
    """A JSON answer (UTF-8, no HTML: nothing in it can run)."""
    return Response(status, json.dumps(document, ensure_ascii=False).encode(), HEADERS)


def wants_json(raw_query: str) -> bool:
    """Whether the query string asks for ``format=json``."""
    return "json" in [value for key, _, value in (p.partition("=") for p in raw_query.split("&")) if key == "format"]
