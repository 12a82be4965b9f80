"""A compact, human rendering of the event stream for ``dli-watcher demo``: one short line per event."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

EventDict = MutableMapping[str, Any]


def _discovered(e: EventDict) -> str:
    return f"discovered  {e.get('state')}  queue={e.get('queue')} owner={e.get('owner')}"


def _state(e: EventDict) -> str:
    return f"{e.get('from_state')} -> {e.get('to_state')}  (after {e.get('previous_state_seconds')} s)"


def _finished(e: EventDict) -> str:
    took = e.get("duration_seconds")
    return f"finished  {str(e.get('outcome')).upper()} ({e.get('state')})" + ("" if took is None else f" in {took} s")


def _log(e: EventDict) -> str:
    return f"  {e.get('stream'):<11} | {e.get('line')}"


def _gap(e: EventDict) -> str:
    missed = e.get("missed_lines")
    return f"  {e.get('stream'):<11} | ... {'some' if missed is None else missed} lines could not be recovered"


def _changed(e: EventDict) -> str:
    changes = e.get("changes") or {}
    return "changed  " + ", ".join(f"{k}: {v.get('old')} -> {v.get('new')}" for k, v in changes.items())


def _failed(e: EventDict) -> str:
    return f"poll failed  {e.get('reason')} {e.get('status_code') or ''} {e.get('message') or ''}".rstrip()


DESCRIBE: dict[str, Callable[[EventDict], str]] = {
    "batch.discovered": _discovered,
    "batch.state_changed": _state,
    "batch.finished": _finished,
    "batch.log": _log,
    "batch.log_gap": _gap,
    "batch.changed": _changed,
    "batch.poll_failed": _failed,
    "batch.poll_recovered": lambda e: f"poll recovered after {e.get('failed_seconds')} s",
    "batch.gone": lambda e: f"gone (last state {e.get('last_state')})",
    "batch.not_found": lambda _: "not found",
    "batch.unknown_state": lambda e: f"unknown state {e.get('state')!r}",
}


class ReadableRenderer:
    """Renders ``HH:MM:SS  job-name  what happened``, naming batches by the job name they were discovered with."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def __call__(self, _: Any, __: str, event: EventDict) -> str:
        """One line for one event dict (after the timestamp processor)."""
        clock = str(event.get("timestamp", ""))[11:19]
        name = str(event.get("event"))
        bid = event.get("batch_id")
        if bid is None:
            rest = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("timestamp", "level", "event"))
            return f"{clock}  {name}  {rest}"
        if name == "batch.discovered" and event.get("job_name"):
            self._names[str(bid)] = str(event["job_name"])
        who = self._names.get(str(bid), str(bid)[:8])
        describe = DESCRIBE.get(name)
        return f"{clock}  {who:<24} {describe(event) if describe else name}"
