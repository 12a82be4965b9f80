"""The ``message`` of each event: the log line itself, or one short sentence a person reads in a log viewer.

Sentences are built from the event's own fields only, so the same event always reads the same (a
replayed event is written byte for byte as before). A field that is missing reads as ``?`` rather
than failing: an event written by an older watcher is still rendered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watcher.core.plural import plural

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from watcher.core.events import Event
    from watcher.core.vocabulary import EventName


def _shown(value: object) -> str:
    return "?" if value is None else str(value)


def _value(value: object) -> str:
    """A changed field's value: ``none`` when it had none."""
    return "none" if value is None else str(value)


def _seconds(value: object) -> str:
    return f"{value} s"


def _discovered(f: Mapping[str, Any]) -> str:
    where = [f"queue {f['queue']}" if f.get("queue") else "", f"owner {f['owner']}" if f.get("owner") else ""]
    extra = ", ".join(part for part in where if part)
    return f"discovered in state {_shown(f.get('state'))}" + (f" ({extra})" if extra else "")


def _state_changed(f: Mapping[str, Any]) -> str:
    return f"{_shown(f.get('from_state'))} -> {_shown(f.get('to_state'))} (after {f.get('previous_state_seconds')} s)"


def _finished(f: Mapping[str, Any]) -> str:
    took = f.get("duration_seconds")
    outcome = _shown(f.get("outcome")).upper()
    return f"finished {outcome} ({_shown(f.get('state'))})" + ("" if took is None else f" in {took} s")


def _outcome(f: Mapping[str, Any]) -> str:
    took = f.get("duration_seconds")
    recovered = " after auto-recovery" if f.get("recovered") else ""
    ran = "" if took is None else f" in {took} s"
    return f"final outcome {_shown(f.get('outcome')).upper()} ({_shown(f.get('state'))}){recovered}{ran}"


def _not_found(f: Mapping[str, Any]) -> str:
    why = [str(f[k]) for k in ("status_code", "error_code") if f.get(k) is not None]
    said = f": {f['error_message']}" if f.get("error_message") else ""
    return "not found" + (f" ({' '.join(why)})" if why else "") + said


def _all_not_found(f: Mapping[str, Any]) -> str:
    return (
        f"all {f.get('batches')} watched batches are not found with the same API error; check the project, "
        f"endpoint and region ({_not_found(f)})"
    )


def _gap(f: Mapping[str, Any]) -> str:
    missed = f.get("missed_lines")
    return f"{'some' if missed is None else missed} {_shown(f.get('stream'))} lines could not be recovered"


def _changed(f: Mapping[str, Any]) -> str:
    changes = f.get("changes") or {}
    parts = (f"{name} {_value(v.get('old'))} -> {_value(v.get('new'))}" for name, v in changes.items())
    return "changed " + ", ".join(parts)


def _failure(what: str, f: Mapping[str, Any]) -> str:
    """``what`` failed, why (reason, HTTP status, API error code), and the error's own words."""
    why = [_shown(f.get("reason")), *(str(f[k]) for k in ("status_code", "error_code") if f.get(k) is not None)]
    attempts = f.get("attempts")
    tries = f" after {attempts} attempts" if isinstance(attempts, int) and attempts > 1 else ""
    return f"{what} ({' '.join(why)}){tries}: {_shown(f.get('error_message'))}"


def _batches(f: Mapping[str, Any]) -> str:
    """The event's ``batches`` count with its noun: "1 batch", "3 batches"."""
    count = f.get("batches")
    return plural(count, "batch") if isinstance(count, int) else f"{_shown(count)} batches"


def _started(f: Mapping[str, Any]) -> str:
    shard = f.get("shard")
    sharded = f", shard {shard}" if shard not in (None, "0/1") else ""  # 0/1: the one shard there is
    watching = f"{_batches(f)}{sharded}"
    return f"dli-watcher {_shown(f.get('version'))} started: {watching}, metrics on http://{_shown(f.get('listen'))}"


def _ready(f: Mapping[str, Any]) -> str:
    asked = ", ".join(f"{f.get(f'{e}_requests')} {e}" for e in ("list", "details", "log"))
    return f"ready: first poll cycle of {_batches(f)} done in {_seconds(f.get('seconds'))} ({asked} requests)"


def _reloaded(f: Mapping[str, Any]) -> str:
    added, removed = f.get("added") or [], f.get("removed") or []
    pending = f.get("restart_required") or []
    restart = f"; a restart is needed to apply {', '.join(map(_shown, pending))}" if pending else ""
    counts = f"{f.get('added_count', len(added))} added, {f.get('removed_count', len(removed))} removed"
    return f"reloaded: {_batches(f)} ({counts}){restart}"


def _state_reset(f: Mapping[str, Any]) -> str:
    kept = f"; the old file is kept as {f['kept']}" if f.get("kept") else ""
    rows = f" ({len(f['rows'])} skipped)" if f.get("rows") else ""
    return f"state file started afresh: {_shown(f.get('reason'))}{rows}{kept}"


def _nothing(f: Mapping[str, Any]) -> str:
    source = f"{f['batch_ids_file']} lists" if f.get("batch_ids_file") else "the config lists"
    return f"nothing to watch: {source} no batch for this shard and discovery is off"


SENTENCES: dict[EventName, Callable[[Mapping[str, Any]], str]] = {
    "batch.discovered": _discovered,
    "batch.state_changed": _state_changed,
    "batch.finished": _finished,
    "batch.outcome": _outcome,
    "batch.log": lambda f: str(f.get("line", "")),
    "batch.log_gap": _gap,
    "batch.log_unavailable": lambda f: (
        f"the log endpoint was of no use {f.get('failed_reads')} times in a row (not found, or text that continues"
        " no stream): it is read again only when the batch finishes, and lines it cannot recover are gaps"
    ),
    "batch.changed": _changed,
    "batch.unknown_state": lambda f: f"unknown state {f.get('state')!r}",
    "batch.field_repaired": lambda f: f"field {_shown(f.get('field'))} repaired: {_shown(f.get('problem'))}",
    "batch.gone": lambda f: f"gone (last state {_shown(f.get('last_state'))})",
    "batch.not_found": _not_found,
    "batch.poll_failed": lambda f: _failure("poll failed", f),
    "batch.poll_recovered": lambda f: f"polls work again after {_seconds(f.get('failed_seconds'))} of failures",
    "watcher.started": _started,
    "watcher.ready": _ready,
    "watcher.stopped": lambda f: f"dli-watcher {_shown(f.get('version'))} stopped ({_batches(f)})",
    "watcher.crashed": lambda f: f"dli-watcher {_shown(f.get('version'))} crashed: {_shown(f.get('reason'))}",
    "watcher.internal_error": lambda f: (
        f"internal error {_shown(f.get('exception'))} at {_shown(f.get('where'))}: a bug, please report it"
        " with this event's traceback"
    ),
    "watcher.reloaded": _reloaded,
    "watcher.reload_failed": lambda f: (
        f"reload failed, the old config is kept: {_shown(f.get('key'))}: {_shown(f.get('error_message'))}"
    ),
    "watcher.state_reset": _state_reset,
    "watcher.recording_stopped": lambda f: (
        f"recording {_shown(f.get('path'))} stopped at record.max_bytes ({f.get('max_bytes')} bytes)"
        if f.get("reason") != "disk"
        else f"recording {_shown(f.get('path'))} stopped: the disk failed or could not keep up "
        f"({_shown(f.get('error_message'))})"
    ),
    "watcher.state_row_skipped": lambda f: (
        f"state file {_shown(f.get('path'))}: skipped {len(f.get('rows') or [])} {_shown(f.get('table'))} rows "
        "of a shape this watcher never writes"
    ),
    "watcher.state_locked": lambda f: (
        f"state file {_shown(f.get('path'))} is locked by another program; waiting up to "
        f"{_seconds(f.get('wait_seconds'))}"
    ),
    "watcher.deprecated_key": lambda f: f"{_shown(f.get('message'))}",
    "watcher.state_write_failed": lambda f: (
        f"cannot write the state file {_shown(f.get('path'))}: {_shown(f.get('reason'))}; polls are held, retrying"
    ),
    "watcher.state_write_recovered": lambda f: f"state file {_shown(f.get('path'))} is writable again",
    "watcher.output_stalled": lambda f: f"output stalled: {f.get('backlog')} lines wait for the reader; polls are held",
    "watcher.output_resumed": lambda f: f"output resumed ({f.get('backlog')} lines waiting)",
    "watcher.discovery_failed": lambda f: _failure("discovery failed", f),
    "watcher.nothing_to_watch": _nothing,
    "watcher.credentials_rejected": lambda f: (
        f"credentials rejected (auth.method {_shown(f.get('auth_method'))}): every batch ({_batches(f)}) "
        f"was answered 401: {_shown(f.get('error_message'))}; exiting 2"
    ),
    "watcher.all_not_found": _all_not_found,
    "watcher.metrics_slow": lambda f: (
        f"/metrics took {_seconds(f.get('seconds'))} to render ({f.get('bytes')} bytes, {f.get('batches')} batches, "
        f"per_batch {_shown(f.get('per_batch'))}): too many series for this machine; reported once"
    ),
}


def message(event: Event) -> str:
    """The event's ``message``: for ``batch.log`` the line itself, else its sentence."""
    if event.name == "batch.log":  # most events by far: no table lookup, no formatting
        return str(event.fields.get("line", ""))
    sentence = SENTENCES.get(event.name)
    return sentence(event.fields) if sentence is not None else event.name
