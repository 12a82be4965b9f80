"""The pure per-batch state machine: from the last Track and a new observation, the next Track and its events.

No I/O and no clock: every function takes ``now``. The poller feeds observations in and
emits what comes out; the metrics and the store read the Tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from watcher.core import states
from watcher.core.events import Event, rfc3339, rfc3339_millis
from watcher.core.log.diff import LogTrack
from watcher.core.log.fetch import UNAVAILABLE_AFTER
from watcher.core.log.layout import interleave
from watcher.core.redact import redact_req_body

if TYPE_CHECKING:
    from watcher.core.model import Snapshot
    from watcher.core.vocabulary import EventName, Level, Presence
    from watcher.core.window import Window
    from watcher.errors import FailureReason

FAILURE_REPORT_INTERVAL = 60.0
# a server inventing a new state name per poll must not grow a track (or the warnings) without end
MAX_WARNED_STATES = 16


@dataclass(frozen=True, slots=True)
class Track:
    """Everything the watcher knows about one batch between polls; persisted as is."""

    batch_id: str
    seq: int = 0
    snapshot: Snapshot | None = None
    presence: Presence = "pending"
    first_seen: float | None = None
    state_since: float | None = None
    terminal_at: float | None = None
    log: LogTrack = field(default_factory=LogTrack)
    up: bool = False
    # the one field a poll that changes nothing moves (``touch``): not persisted, so not part of what a track is
    last_success: float | None = field(default=None, compare=False)
    failing_since: float | None = None
    last_failure_report: float | None = None
    warned_states: frozenset[str] = frozenset()
    # wire fields already reported as repaired (batch.field_repaired is sent once per batch and field)
    repaired_fields: frozenset[str] = frozenset()
    # seen waiting for resources (not_started, starting): only then is the first "running" a start time
    waited: bool = False
    # when "running" was first seen after waiting (watcher clock, within one interval of the real start)
    started_at: float | None = None
    # the final outcome once counted (Board.count_outcome): a batch counts once, restarts included
    outcome: str | None = None
    # seen dead or recovering before a later state: a success after it needed auto-recovery
    revived: bool = False
    # why the API said "not found" (the project, endpoint or region may be wrong): batch.not_found's fields
    not_found_status: int | None = None
    not_found_code: str | None = None
    not_found_message: str | None = None

    @property
    def state(self) -> str | None:
        """The last known state, normalised."""
        return self.snapshot.state if self.snapshot else None


_TRACK_FIELDS = tuple(f.name for f in fields(Track))
_TRACK_VALUES = attrgetter(*_TRACK_FIELDS)
_AT_SUCCESS, _AT_LOG = _TRACK_FIELDS.index("last_success"), _TRACK_FIELDS.index("log")


@dataclass(frozen=True, slots=True)
class LogResult:
    """What the log diff decided for one poll: lines, streams with a gap, the next LogTrack."""

    lines: tuple[tuple[str, str], ...] = ()
    gaps: tuple[tuple[str, int | None], ...] = ()
    track: LogTrack | None = None
    # this poll found the log endpoint of no use once too often: it is read only when the batch finishes
    unavailable: bool = False


def context(snap: Snapshot | None) -> dict[str, Any]:
    """What every batch event says of its batch, from the last snapshot (None when unknown).

    A log store can then select all of a job's events by ``job_name``, the label its alerts carry.
    """
    if snap is None:
        return {"job_name": None, "queue": None, "app_id": None}
    return {"job_name": snap.name, "queue": snap.queue, "app_id": snap.app_id}


class _Out:
    """Collects a batch's events, numbering them from the track's last seq, stamped with the poll's time."""

    def __init__(self, track: Track, now: float, snap: Snapshot | None) -> None:
        self.batch_id, self.seq, self.events = track.batch_id, track.seq, list[Event]()
        self._now, self._snap = now, snap
        # rendered once per poll that has events (most list-mode polls have none), and kept with each
        # event so that a replay writes the same bytes
        self._stamp: str | None = None
        self._context: dict[str, Any] | None = None

    def add(self, name: EventName, level: Level = "info", **fields: Any) -> None:
        if self._stamp is None or self._context is None:
            self._stamp, self._context = rfc3339(self._now), context(self._snap)
        self.seq += 1
        self.events.append(Event(name, level, self.batch_id, self.seq, {**self._context, **fields}, self._stamp))


def observe(
    track: Track,
    snap: Snapshot,
    now: float,
    log: LogResult,
    *,
    include_req_body: bool = False,
    revives_dead: bool = False,
) -> tuple[Track, list[Event]]:
    """Apply a successful poll: discovery, field changes, log lines, state change, finish.

    ``revives_dead`` (the flavor's): a dead batch may come back, so its ``batch.finished`` is not final.
    """
    if quiet(track, snap, log):
        return _touched(track, now, log), []
    out = _Out(track, now, snap)
    prev = track.snapshot if track.presence == "present" else None
    if track.failing_since is not None:
        out.add("batch.poll_recovered", failed_seconds=round(now - track.failing_since, 3))
    if prev is None:
        out.add("batch.discovered", **_discovered_fields(snap, include_req_body))
    if _warn_state(track, snap):
        out.add("batch.unknown_state", "warning", state=snap.raw_state)
    for name, problem in snap.repairs:
        if name not in track.repaired_fields:
            out.add("batch.field_repaired", "warning", field=name, problem=problem)
    if prev is not None:
        _changes(out, prev, snap)
    _log(out, log)
    changed = prev is not None and prev.state != snap.state
    if changed and prev is not None:
        since = track.state_since if track.state_since is not None else now
        out.add(
            "batch.state_changed",
            from_state=shown_state(prev),
            to_state=shown_state(snap),
            update_time=rfc3339_millis(snap.update_time),
            previous_state_seconds=round(now - since, 3),
        )
    if states.is_terminal(snap.state) and (changed or prev is None):
        _finished(out, snap, final=not (revives_dead and snap.state == "dead"))
    return _next_track(track, snap, now, log, changed, out.seq), out.events


def quiet(track: Track, snap: Snapshot, log: LogResult) -> bool:
    """Whether a poll that saw ``snap`` changes nothing but the time of the last success (no event, no field).

    Each condition is one ``observe`` and ``_next_track`` would act on; the snapshot must be the track's own.
    """
    return (
        snap is track.snapshot
        and track.presence == "present"
        and track.up
        and track.failing_since is None
        and track.last_failure_report is None
        and track.not_found_status is None
        and track.not_found_code is None
        and track.not_found_message is None
        and not log.lines
        and not log.gaps
        and not log.unavailable
        and not snap.repairs
        and snap.req_body is None
        and not _warn_state(track, snap)
        and track.first_seen is not None
        and track.state_since is not None
        and (track.terminal_at is not None) == states.is_terminal(snap.state)
        and (track.waited or snap.state not in states.WAITING)
        and _started_at(track, snap, 0.0) == track.started_at
        and (track.revived or not _reviving(track, snap))
    )


def touch(track: Track, now: float) -> None:
    """Move a quiet poll's time of success (``quiet`` with no log track) into ``track`` itself.

    The one change made in place, by the poller after a quiet list-mode poll: building a new Track for
    it was a fifth of list mode's CPU and most of what the collector traced at 100,000 batches (issue 30).
    The field is not persisted or compared, and another thread reads it as one float.
    """
    object.__setattr__(track, "last_success", now)


def _touched(track: Track, now: float, log: LogResult) -> Track:
    """``track`` with this poll's time of success and log track: a positional copy, far cheaper than replace."""
    values = list(_TRACK_VALUES(track))
    values[_AT_SUCCESS] = now
    values[_AT_LOG] = log.track or track.log
    return Track(*values)


def _log(out: _Out, log: LogResult) -> None:
    """The poll's log lines in order, each gap at the place of its missing lines (before those that follow them)."""
    missed = dict(log.gaps)
    for stream, line in interleave(log.lines, [stream for stream, _ in log.gaps]):
        if line is None:
            out.add("batch.log_gap", "warning", stream=stream, missed_lines=missed[stream])
        else:
            out.add("batch.log", stream=stream, line=line)
    if log.unavailable:
        out.add("batch.log_unavailable", "warning", failed_reads=UNAVAILABLE_AFTER)


def _next_track(track: Track, snap: Snapshot, now: float, log: LogResult, changed: bool, seq: int) -> Track:
    fresh = track.presence != "present"
    terminal_at = track.terminal_at
    if not states.is_terminal(snap.state):
        terminal_at = None
    elif changed or fresh or terminal_at is None:
        terminal_at = now
    warned = track.warned_states | {snap.state} if _warn_state(track, snap) else track.warned_states
    # a union with nothing is a new (216-byte) frozenset: keep the one the track has
    repaired = track.repaired_fields | {name for name, _ in snap.repairs} if snap.repairs else track.repaired_fields
    return replace(
        track,
        seq=seq,
        snapshot=_kept(snap, (log.track or track.log).window),
        presence="present",
        first_seen=track.first_seen if track.first_seen is not None else now,
        state_since=now if changed or fresh or track.state_since is None else track.state_since,
        terminal_at=terminal_at,
        log=log.track or track.log,
        up=True,
        last_success=now,
        failing_since=None,
        last_failure_report=None,
        warned_states=warned,
        repaired_fields=repaired,
        waited=track.waited or snap.state in states.WAITING,
        started_at=_started_at(track, snap, now),
        revived=track.revived or _reviving(track, snap),
        not_found_status=None,
        not_found_code=None,
        not_found_message=None,
    )


def _reviving(track: Track, snap: Snapshot) -> bool:
    """Whether this poll shows auto-recovery at work: recovering, or a dead batch that is dead no more."""
    was_dead = track.presence == "present" and track.state == "dead"
    return snap.state == "recovering" or (was_dead and snap.state != "dead")


def _started_at(track: Track, snap: Snapshot, now: float) -> float | None:
    """The first "running" seen after a waiting state; never guessed for a batch first seen already running."""
    if track.started_at is not None or not track.waited or snap.state != "running":
        return track.started_at
    return now


def _kept(snap: Snapshot, window: Window) -> Snapshot:
    """What a track keeps of an answer: not ``req_body``, which may hold secrets and is only emitted once.

    An unchanged window read afresh (detail mode) is kept as the log track's own string, not a second copy.
    """
    copy = snap.log is not window and snap.log == window
    if snap.req_body is None and not copy:
        return snap
    return replace(snap, req_body=None, log=window if copy else snap.log)


def _warn_state(track: Track, snap: Snapshot) -> bool:
    """An undocumented state not warned about yet, while the batch has warned about few enough."""
    return (
        not states.is_known(snap.state)
        and snap.state not in track.warned_states
        and len(track.warned_states) < MAX_WARNED_STATES
    )


def shown_state(snap: Snapshot) -> str:
    """The state as events show it: normalised when documented, kept raw when not."""
    return snap.state if states.is_known(snap.state) else snap.raw_state


def _discovered_fields(snap: Snapshot, include_req_body: bool) -> dict[str, Any]:
    # job_name, queue and app_id come with every batch event (``context``)
    fields: dict[str, Any] = {
        "state": shown_state(snap),
        "owner": snap.owner,
        "create_time": rfc3339_millis(snap.create_time),
        "update_time": rfc3339_millis(snap.update_time),
    }
    if include_req_body and snap.req_body:
        fields["req_body"] = redact_req_body(snap.req_body)
    return fields


def _changes(out: _Out, prev: Snapshot, snap: Snapshot) -> None:
    old, new = prev.tracked(), snap.tracked()
    changes = {k: {"old": old[k], "new": new[k]} for k in new if old[k] != new[k]}
    if changes:
        out.add("batch.changed", changes=changes)


def duration_seconds(snap: Snapshot) -> float | None:
    """How long the batch ran, from the API's own create and update times; None when it does not give both.

    Never a watcher's guess: a batch first seen already finished would otherwise show as zero-length.
    """
    if snap.create_time is None or snap.update_time is None or snap.update_time < snap.create_time:
        return None
    return round((snap.update_time - snap.create_time) / 1000, 3)


def _finished(out: _Out, snap: Snapshot, *, final: bool) -> None:
    result = states.outcome(snap.state)
    level: Level = "info" if result == "succeeded" else "warning"
    out.add(
        "batch.finished",
        level,
        state=snap.state,
        outcome=result,
        duration_seconds=duration_seconds(snap),
        final=final,
    )


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a poll failed, as batch.poll_failed reports it (the caller's error, flattened to plain values)."""

    reason: FailureReason
    message: str
    status_code: int | None = None
    error_code: str | None = None
    attempts: int = 1


def observe_failure(track: Track, failure: Failure, now: float) -> tuple[Track, list[Event]]:
    """A poll that failed after its retries: report when failing starts, then at most once a minute."""
    out = _Out(track, now, track.snapshot)
    since = track.failing_since if track.failing_since is not None else now
    last = track.last_failure_report
    report = last is None or now - last >= FAILURE_REPORT_INTERVAL
    if report:
        out.add(
            "batch.poll_failed",
            "warning",
            reason=failure.reason,
            status_code=failure.status_code,
            error_code=failure.error_code,
            error_message=failure.message,
            attempts=failure.attempts,
        )
    return replace(
        track, seq=out.seq, up=False, failing_since=since, last_failure_report=now if report else last
    ), out.events


def observe_missing(track: Track, now: float, error: Failure | None = None) -> tuple[Track, list[Event]]:
    """The API says the batch does not exist: gone if we knew it, not found if we never did.

    ``error`` is the API's answer (status, error code, its words): a wrong project reads as not found.
    """
    out = _Out(track, now, track.snapshot)
    presence: Presence
    status, code, said = (error.status_code, error.error_code, error.message) if error else (None, None, None)
    if track.presence == "present":
        out.add("batch.gone", "warning", last_state=track.state)
        presence = "gone"
    elif track.presence == "gone":
        presence = "gone"
    else:
        if track.presence != "not_found":
            out.add(
                "batch.not_found",
                "warning",
                status_code=status,
                error_code=code,
                error_message=said,
            )
        presence = "not_found"
    terminal_at = track.terminal_at if track.terminal_at is not None else now
    return replace(
        track,
        seq=out.seq,
        presence=presence,
        up=True,
        failing_since=None,
        last_failure_report=None,
        terminal_at=terminal_at if presence == "gone" else track.terminal_at,
        not_found_status=status if presence == "not_found" else None,
        not_found_code=code if presence == "not_found" else None,
        not_found_message=said if presence == "not_found" else None,
    ), out.events
