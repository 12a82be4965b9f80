"""Arbitrary JSON through decode, track, events, exposition and the state file: only DecodeError may raise."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.props import examples
from watcher.api.client import _parse
from watcher.core.log.diff import diff_log
from watcher.core.model import decode_snapshot
from watcher.core.tracker import LogResult, Track, observe
from watcher.daemon.codec import decode_track, encode_track
from watcher.daemon.store import Change, Store
from watcher.errors import DecodeError
from watcher.metrics.exposition import BatchText, BatchView, body
from watcher.output.writer import EventWriter

BID = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"
NOW = 1_800_000_000.0
# every code point, lone surrogates included: json.loads makes them from "\ud83d" escapes
TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
HUGE = st.integers(min_value=-(10**400), max_value=10**400)
LEAVES = st.none() | st.booleans() | st.integers() | HUGE | st.floats() | TEXT
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
WIRE = st.sampled_from(
    [
        "appId", "name", "owner", "queue", "cluster_name", "kind", "sc_type", "spark_version",
        "image", "proxyUser", "create_time", "update_time", "req_body", "log",
    ]
)  # fmt: skip
LOGS = st.lists(TEXT | st.sampled_from(["stdout:", "stderr:", "\nYARN Diagnostics: "]), max_size=14)
ANSWERS = st.fixed_dictionaries(
    {"id": st.just(BID) | JSON, "state": TEXT | st.sampled_from(["running", "success", "dead"]) | JSON},
    optional={"log": LOGS | JSON},
).flatmap(lambda base: st.dictionaries(WIRE, JSON, max_size=6).map(lambda extra: {**extra, **base}))


def _poll(track: Track, answer: object, now: float) -> Track:
    """One poll of the pipeline's pure part on ``answer``; DecodeError means one failed poll, nothing else."""
    try:
        snap = decode_snapshot(answer)
    except DecodeError:
        return track
    diff = diff_log(track.log, snap.log)
    result = LogResult(diff.lines, tuple((s, None) for s in diff.uncertain), diff.track)
    new, events = observe(track, snap, now, result, include_req_body=True)
    out = io.StringIO()
    EventWriter.for_format("json", "debug", out).write(events)
    for line in out.getvalue().splitlines():  # splitlines also splits on U+2028/U+2029/U+0085
        line.encode("utf-8")  # strict: a lone surrogate would raise here, as on a real stdout
        assert json.loads(line)["event"].startswith("batch.")
    _expose(new, now)
    return new


def _expose(track: Track, now: float) -> None:
    for mode in ("compact", "all"):
        text = BatchText(BatchView(mode=mode)).render([track], now)
        data, _ = body(CollectorRegistry(), text, "", "")
        families = list(text_string_to_metric_families(data.decode("utf-8")))
        assert families


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANSWERS | JSON, min_size=1, max_size=3))
def test_arbitrary_answers_never_raise_past_decode(answers):
    """Any sequence of answers (any types, huge ints, surrogates, nesting) yields events, metrics and state."""
    track = Track(BID)
    for n, answer in enumerate(answers):
        track = _poll(track, answer, NOW + n)
    text = encode_track(track)
    text.encode("utf-8")
    assert decode_track(text) == track


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANSWERS, min_size=1, max_size=2))
def test_arbitrary_answers_reach_a_real_state_file(answers):
    """What the pipeline makes of any answer commits to a real SQLite file and loads back equal."""
    track, events = Track(BID), []
    for n, answer in enumerate(answers):
        try:
            snap = decode_snapshot(answer)
        except DecodeError:
            continue
        diff = diff_log(track.log, snap.log)
        track, new = observe(track, snap, NOW + n, LogResult(diff.lines, (), diff.track), include_req_body=True)
        events += new
    with tempfile.TemporaryDirectory() as tmp:
        store, problem = Store.open(str(Path(tmp) / "state.db"))
        assert problem is None
        store.commit(Change(tracks=[track], events=events))
        loaded = store.load()
        store.close()
    assert loaded.tracks == {BID: track}
    assert [e.seq for e in loaded.outbox.values()] == [e.seq for e in events]


@pytest.mark.parametrize(
    ("raw", "repaired", "mangled"),
    [
        (b'"log": ["a \\ud83d b"], "name": "\\ud800"', {"log", "name"}, False),
        (b'"update_time": ' + b"9" * 4000, {"update_time"}, False),
        (b'"name": "\xff\xfe"', set(), True),
        (b'"log": ["\\u2028 \\u2029 \\u0085"]', set(), False),
    ],
    ids=["surrogates", "4000-digit-time", "invalid-utf8", "line-separators"],
)
def test_hostile_bodies_through_the_pipeline(raw, repaired, mangled):
    """Bodies as they arrive on the wire, parsed as the client parses them, then through the pipeline."""
    answer, replaced = _parse(b'{"id": "' + BID.encode() + b'", "state": "running", ' + raw + b"}")
    track = _poll(Track(BID), answer, NOW)
    assert track.presence == "present"
    assert track.repaired_fields == repaired
    assert replaced is mangled
