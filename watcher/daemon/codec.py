"""Tracks and job summaries to and from JSON, for the state file."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any, cast, get_args

from watcher.core.board import JobSummary
from watcher.core.events import Event
from watcher.core.histogram import Histogram
from watcher.core.log.diff import LogTrack, StreamTrack, share_window
from watcher.core.log.layout import Layout
from watcher.core.model import Snapshot
from watcher.core.tracker import Track
from watcher.core.vocabulary import EVENT_NAMES, LEVELS
from watcher.core.window import Window, pack, unpack

# req_body is never stored (it may hold secrets): a file from before that rule loads without it
_SNAPSHOT_FIELDS = {f.name for f in fields(Snapshot)} - {"repairs", "req_body"}
_JOB_FIELDS = {f.name for f in fields(JobSummary)}


def encode_track(track: Track) -> str:
    """A Track as compact JSON."""
    data: dict[str, Any] = {f.name: getattr(track, f.name) for f in fields(Track)}
    data["snapshot"] = _snapshot_dict(track.snapshot) if track.snapshot else None
    data["log"] = {
        "streams": {k: [list(v.tail), v.seen] for k, v in track.log.streams.items()},
        "window": list(unpack(track.log.window)),
        "layout": track.log.layout,
        "settled": track.log.settled,
        "read_at": track.log.read_at,
        "misses": track.log.misses,
    }
    data["warned_states"] = sorted(track.warned_states)
    data["repaired_fields"] = sorted(track.repaired_fields)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode_track(text: str) -> Track:
    """A Track from ``encode_track``'s JSON; raises ValueError/KeyError/TypeError on damage."""
    data = json.loads(text)
    snap = data.pop("snapshot")
    log = data.pop("log")
    data["snapshot"] = Snapshot(**{k: v for k, v in snap.items() if k in _SNAPSHOT_FIELDS}) if snap else None
    # JSON lists, kept joined as a poll keeps them: one text for the snapshot's window, the track's and its tails
    window = _shared(data["snapshot"], pack(log["window"]))
    streams = {k: StreamTrack(pack(v[0]), int(v[1])) for k, v in log["streams"].items()}
    data["log"] = LogTrack(
        streams=share_window(streams, window),
        window=window,
        layout=_layout(log["layout"] if "layout" in log else _flagged(log)),
        # state files written before these keys existed: no final read recorded, no endpoint read paced
        settled=bool(log.get("settled", False)),
        read_at=None if log.get("read_at") is None else float(log["read_at"]),
        misses=int(log.get("misses", 0)),
    )
    data["warned_states"] = frozenset(data["warned_states"])
    data["repaired_fields"] = frozenset(data.get("repaired_fields", ()))
    return Track(**data)


def _flagged(log: dict[str, Any]) -> str:
    """The layout of a row from before schema 5, which kept it as two flags (the migration rewrites them)."""
    return "sectioned" if log.get("sectioned") else "legacy" if log.get("legacy") else "plain"


def _layout(name: object) -> Layout:
    """A stored layout name; ValueError for one this version does not know."""
    for layout in get_args(Layout):
        if name == layout:
            return cast("Layout", layout)
    raise ValueError(f"unknown log layout {name!r}")


def _snapshot_dict(snap: Snapshot) -> dict[str, Any]:
    data = asdict(snap)
    del data["repairs"]  # what one poll had to repair; the track keeps which fields were reported
    del data["req_body"]
    data["log"] = list(unpack(snap.log))  # the file keeps the lines, as it did before windows were kept joined
    return data


def encode_job(job: JobSummary) -> str:
    """A JobSummary as JSON."""
    return json.dumps(asdict(job), separators=(",", ":"), ensure_ascii=False)


def decode_job(text: str) -> JobSummary:
    """A JobSummary from JSON."""
    data = {k: v for k, v in json.loads(text).items() if k in _JOB_FIELDS}
    # JSON has no tuples; a summary from before schema 4 has no runs
    data["runs"] = tuple((str(o), int(n)) for o, n in data.get("runs", ()))
    return JobSummary(**data)


def encode_histogram(hist: Histogram) -> str:
    """A Histogram as JSON: its bounds, so a file from a version with other buckets is recognised."""
    return json.dumps({"bounds": hist.bounds, "counts": hist.counts, "total": hist.total}, separators=(",", ":"))


def decode_histogram(text: str) -> Histogram:
    """A Histogram from JSON; ValueError when its buckets are not this version's (the old counts cannot be split)."""
    data = json.loads(text)
    hist = Histogram(tuple(map(float, data["bounds"])), tuple(map(int, data["counts"])), float(data["total"]))
    if hist.bounds != Histogram().bounds or len(hist.counts) != len(hist.bounds) + 1:
        raise ValueError("histogram buckets differ from this version's")
    return hist


def encode_event(event: Event) -> str:
    """An Event as JSON, for the outbox, with the timestamp it is written with."""
    return json.dumps(
        [event.name, event.level, event.batch_id, event.seq, event.fields, event.timestamp],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def decode_event(text: str) -> Event:
    """An Event from ``encode_event``'s JSON; a row written before timestamps were kept gets its stamp when written.

    The row is checked field by field (ValueError when one is off): a row of another shape, valid JSON or
    not, must be skipped at load rather than fail every start when it is written.
    """
    row = json.loads(text)
    if not isinstance(row, list) or len(row) not in (5, 6):
        raise ValueError("an outbox row is a list of 5 or 6 fields")
    name, level, batch_id, seq, fields, *stamp = row
    if name not in EVENT_NAMES or level not in LEVELS:
        raise ValueError("unknown event name or level")
    if not (batch_id is None or isinstance(batch_id, str)) or not (seq is None or type(seq) is int):
        raise ValueError("batch_id must be a string and seq an integer")
    if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
        raise ValueError("fields must be an object")
    if stamp and not (stamp[0] is None or isinstance(stamp[0], str)):
        raise ValueError("the timestamp must be a string")
    if not stamp and "message" in fields:
        # written before every event had a message: an error's own words were its "message" then
        fields["error_message"] = fields.pop("message")
    return Event(name, level, batch_id, seq, fields, stamp[0] if stamp else None)


def _shared(snap: Snapshot | None, window: Window) -> Window:
    """The snapshot's own window when the track's is the same, so a loaded track holds the text once."""
    return snap.log if snap is not None and snap.log == window else window
