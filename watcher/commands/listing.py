"""`ls`: batches through the list endpoint with discovery's filters, a table on a terminal, JSON lines otherwise.

The way to find the IDs to `wait` on. Everything shown comes from the API and is untrusted: control
characters are made visible before they reach a terminal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from watcher.api.http import open_api
from watcher.api.policy import RequestPolicy
from watcher.config.duration import parse_duration
from watcher.config.settings import parse_time_ms
from watcher.core import states
from watcher.core.events import rfc3339_millis
from watcher.core.printable import printable
from watcher.daemon.discovery import list_matching

if TYPE_CHECKING:
    from watcher.config.settings import Config
    from watcher.core.model import Snapshot

COLUMNS = ("BATCH ID", "STATE", "JOB NAME", "QUEUE", "OWNER", "CREATED")


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What `ls` asks for: discovery's rules (queue, name pattern, owner, created after) plus a state and a limit."""

    queues: tuple[str, ...] = ()
    job_name: str = ""
    owner: str = ""
    created_after_ms: int | None = None
    max_batches: int = 50
    state: str = ""


def since_ms(text: str, now: float) -> int:
    """``--since``: a duration back from ``now`` such as ``2h``, or an RFC 3339 time; raises ValueError."""
    try:
        return int((now - parse_duration(text)) * 1000)
    except ValueError:
        pass
    try:
        stamp = parse_time_ms(text)
    except ValueError as exc:
        raise ValueError(f"must be a duration such as 2h or an RFC 3339 time ({exc})") from None
    if stamp is None:
        raise ValueError("must be a duration such as 2h or an RFC 3339 time")
    return stamp


async def list_batches(cfg: Config, wanted: ListFilter, policy: RequestPolicy | None = None) -> list[Snapshot]:
    """The matching batches, newest first, at most ``max_batches``."""
    state = states.normalise(wanted.state)
    policy = policy or RequestPolicy(cfg.api, cfg.watch.concurrency)
    async with open_api(cfg) as api:
        found = await list_matching(api, policy, cfg, wanted, also=lambda s: not state or s.state == state)
    found.sort(key=lambda s: s.create_time or 0, reverse=True)
    return found[: wanted.max_batches]


def shown(text: str | None) -> str:
    """API text made safe for a terminal: valid Unicode, control characters spelled out."""
    return printable(text or "")


def _row(snap: Snapshot) -> tuple[str, ...]:
    created = rfc3339_millis(snap.create_time) or ""
    return (
        shown(snap.batch_id),
        shown(snap.raw_state),
        shown(snap.name),
        shown(snap.queue),
        shown(snap.owner),
        created,
    )


def render_table(snaps: list[Snapshot]) -> str:
    """Aligned columns (long job names cut), one batch per row."""
    rows = [COLUMNS, *(_row(s) for s in snaps)]
    widths = [min(40, max(len(r[i]) for r in rows)) for i in range(len(COLUMNS))]
    return "".join(
        "  ".join(cell[:w].ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows
    )


def render_json(snaps: list[Snapshot]) -> str:
    """One JSON object per batch and line (for jq)."""
    return "".join(json.dumps(_fields(s), ensure_ascii=False) + "\n" for s in snaps)


def _fields(snap: Snapshot) -> dict[str, object]:
    return {
        "batch_id": snap.batch_id,
        "state": snap.state if states.is_known(snap.state) else snap.raw_state,
        "job_name": snap.name,
        "queue": snap.queue,
        "owner": snap.owner,
        "app_id": snap.app_id,
        "create_time": rfc3339_millis(snap.create_time),
        "update_time": rfc3339_millis(snap.update_time),
    }


def write_listing(snaps: list[Snapshot], out: TextIO, *, as_json: bool | None) -> None:
    """A table on a terminal, JSON lines otherwise (``as_json`` forces one or the other)."""
    use_json = not out.isatty() if as_json is None else as_json
    out.write(render_json(snaps) if use_json else render_table(snaps))
    out.flush()
