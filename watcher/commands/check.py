"""``dli-watcher check``: validate the config, resolve credentials, read each batch once, print a table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from watcher.api.http import open_api
from watcher.api.policy import RequestPolicy
from watcher.core.events import rfc3339_millis
from watcher.errors import ApiError, AuthError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watcher.config.settings import Config
    from watcher.core.model import Snapshot


@dataclass(frozen=True, slots=True)
class Row:
    """One batch's outcome: its snapshot, or the error that stopped us reading it."""

    batch_id: str
    snapshot: Snapshot | None = None
    error: ApiError | None = None

    def as_dict(self) -> dict[str, object]:
        """The row as JSON-ready fields."""
        snap, err = self.snapshot, self.error
        return {
            "batch_id": self.batch_id,
            "ok": snap is not None,
            "state": snap.state if snap else None,
            "job_name": snap.name if snap else None,
            "queue": snap.queue if snap else None,
            "update_time": rfc3339_millis(snap.update_time) if snap else None,
            "error": f"{_reason(err)}: {err.message}" if err else None,
        }


def _reason(err: ApiError) -> str:
    """The poll_failed reason, but naming not-found plainly: it is the usual typo in a batch ID."""
    return "not_found" if isinstance(err, NotFoundError) else err.reason


async def check(cfg: Config) -> list[Row]:
    """Read every configured batch once, concurrently, with the daemon's retries (a 503 is retried, not fatal)."""
    rows: dict[str, Row] = {}
    policy = RequestPolicy(cfg.api, cfg.watch.concurrency)
    async with open_api(cfg) as api:

        async def one(bid: str) -> None:
            try:
                rows[bid] = Row(bid, snapshot=await policy.call(lambda: api.details(bid)))
            except ApiError as exc:
                rows[bid] = Row(bid, error=exc)

        async with anyio.create_task_group() as tg:
            for bid in cfg.watch.batch_ids:
                tg.start_soon(one, bid)
    return [rows[b] for b in cfg.watch.batch_ids]


def render_table(rows: Sequence[Row]) -> str:
    """A fixed-width table for people."""
    header = ("BATCH", "STATE", "JOB", "QUEUE", "UPDATED / ERROR")
    body = [
        (
            r.batch_id,
            str(d["state"] or "-"),
            str(d["job_name"] or "-"),
            str(d["queue"] or "-"),
            str(d["update_time"] or "-") if r.snapshot else str(d["error"]),
        )
        for r in rows
        for d in [r.as_dict()]
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in [header, *body]
    ]
    return "\n".join(lines)


def render_json(rows: Sequence[Row]) -> str:
    """The rows as a JSON array."""
    return json.dumps([r.as_dict() for r in rows], indent=2)


def auth_failure(rows: Sequence[Row]) -> AuthError | None:
    """The auth error, when credentials (not the batches) are the problem."""
    errors = [r.error for r in rows if r.error is not None]
    # An AuthError without a 4xx status is IAM being unreachable or failing, not a refusal.
    refused = [e for e in errors if isinstance(e, AuthError) and e.status_code and e.status_code < 500]
    if errors and len(refused) == len(errors):
        return refused[0]
    return None
