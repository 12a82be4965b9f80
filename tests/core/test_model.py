"""decode_snapshot: strict where it matters (id, state, types), tolerant of the docs' variations."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.props import examples
from watcher.core.model import TRACKED_FIELDS, Snapshot, decode_snapshot, with_details_only
from watcher.core.window import unpack
from watcher.errors import DecodeError


def test_minimal_object_decodes_with_defaults():
    """Only id and state are required; everything else defaults to None or an empty log."""
    snap = decode_snapshot({"id": "b1", "state": "starting"})
    assert snap == Snapshot(batch_id="b1", state="starting", raw_state="starting")
    assert unpack(snap.log) == ()
    assert snap.create_time is None


def test_full_dli_object():
    """Every documented DLI field lands on its attribute."""
    obj = {
        "id": "b1",
        "state": "Running",
        "appId": "batch-session-1:30663",
        "name": "etl",
        "owner": "u",
        "queue": "q",
        "cluster_name": "old",
        "kind": "spark",
        "sc_type": "CUSTOMIZED",
        "spark_version": "3.3.1",
        "image": "swr/img:1",
        "proxyUser": "p",
        "create_time": 1700000000123,
        "update_time": 1700000001456.9,
        "req_body": '{"file": "a.jar"}',
        "log": ["stdout: ", "x"],
        "feature": "basic",
        "duration": 5,
    }
    snap = decode_snapshot(obj)
    assert (snap.state, snap.raw_state) == ("running", "Running")
    assert snap.queue == "q"
    assert snap.update_time == 1700000001456
    assert snap.req_body == '{"file": "a.jar"}'
    assert snap.tracked() == {
        "appId": "batch-session-1:30663",
        "name": "etl",
        "queue": "q",
        "owner": "u",
        "kind": "spark",
        "sc_type": "CUSTOMIZED",
        "spark_version": "3.3.1",
        "image": "swr/img:1",
        "proxyUser": "p",
    }


def test_tracked_fields_name_real_attributes():
    """Every tracked wire field maps to a Snapshot attribute."""
    names = {f.name for f in dataclasses.fields(Snapshot)}
    assert set(TRACKED_FIELDS.values()) <= names


@pytest.mark.parametrize(
    ("queue", "cluster_name", "expected"),
    [("q", "c", "q"), (None, "c", "c"), ("", "c", "c"), (None, None, None)],
)
def test_queue_falls_back_to_cluster_name(queue, cluster_name, expected):
    """The legacy cluster_name fills in when queue is absent or empty."""
    obj = {"id": 1, "state": "dead", "queue": queue, "cluster_name": cluster_name}
    assert decode_snapshot(obj).queue == expected


@pytest.mark.parametrize(
    ("app_id", "expected"),
    [("", None), (None, None), ([], None), (["a"], "a"), (["a", "b"], "a,b"), ("app_1_1", "app_1_1")],
)
def test_app_id_variants(app_id, expected):
    """The appId may be a string, '', null or (in one copy of the docs) a list of strings."""
    assert decode_snapshot({"id": "b", "state": "running", "appId": app_id}).app_id == expected


def test_unknown_state_is_kept_normalised():
    """A state nobody documents is kept (lower-cased, trimmed) for the tracker to report as unknown."""
    snap = decode_snapshot({"id": "b", "state": " Weird_State "})
    assert snap.state == "weird_state"
    assert snap.raw_state == " Weird_State "


def test_numbers_for_string_fields_are_stringified():
    """A numeric name or owner (Livy allows anything) becomes its string, not an error."""
    snap = decode_snapshot({"id": 7, "state": "idle", "name": 12, "owner": 3.5})
    assert (snap.batch_id, snap.name, snap.owner) == ("7", "12", "3.5")


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        "running",
        3,
        {"state": "running"},
        {"id": "b"},
        {"id": "b", "state": ""},
        {"id": "b", "state": "\t"},
        {"id": "", "state": "running"},
        {"id": False, "state": "running"},
        {"id": ["b"], "state": "running"},
        {"id": "b", "state": {"name": "running"}},
        {"id": 10**30, "state": "running"},
        {"id": "\ud800", "state": "running"},
        {"id": "b" * 5000, "state": "running"},
    ],
)
def test_untrustworthy_objects_raise_decode_error(obj):
    """An answer without a usable id or state cannot be trusted as a whole: DecodeError."""
    with pytest.raises(DecodeError):
        decode_snapshot(obj)


@pytest.mark.parametrize(
    ("extra", "field", "attr", "value"),
    [
        ({"log": "text"}, "log", "log", ()),
        ({"log": [1, "a"]}, "log", "log", ("a",)),
        ({"create_time": "1700000000000"}, "create_time", "create_time", None),
        ({"create_time": math.nan}, "create_time", "create_time", None),
        ({"update_time": -math.inf}, "update_time", "update_time", None),
        ({"update_time": False}, "update_time", "update_time", None),
        ({"update_time": 10**400}, "update_time", "update_time", None),
        ({"name": True}, "name", "name", None),
        ({"queue": {"name": "q"}}, "queue", "queue", None),
        ({"appId": [1]}, "appId", "app_id", None),
        ({"appId": 10**30}, "appId", "app_id", None),
        ({"owner": "x" * 5000}, "owner", "owner", "x" * 1024),
        ({"state": "Weird\udcff"}, "state", "raw_state", "Weird\ufffd"),
    ],
)
def test_one_bad_field_is_repaired_and_noted(extra, field, attr, value):
    """A mistyped, out-of-range, too long or invalid-Unicode field is repaired and noted; id and state stand."""
    snap = decode_snapshot({"id": "b", "state": "running", **extra})
    got = getattr(snap, attr)
    assert (unpack(got) if attr == "log" else got) == value
    assert [name for name, _ in snap.repairs] == [field]
    assert snap.batch_id == "b"


LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
VALUES = st.recursive(
    LEAVES,
    lambda v: st.lists(v, max_size=3) | st.dictionaries(st.text(max_size=4), v, max_size=3),
    max_leaves=6,
)
TIME_KEYS = st.sampled_from(["create_time", "update_time"])
TIMES = st.dictionaries(TIME_KEYS, st.floats() | st.integers(), max_size=2)
WIRE = st.sampled_from(
    [
        "id",
        "state",
        "appId",
        "name",
        "owner",
        "queue",
        "cluster_name",
        "kind",
        "sc_type",
        "spark_version",
        "image",
        "proxyUser",
        "create_time",
        "update_time",
        "req_body",
        "log",
    ]
)


@settings(max_examples=examples(200), deadline=None)
@given(
    st.dictionaries(WIRE, VALUES, max_size=10),
    TIMES,
    st.sampled_from(["b", 5]),
    st.text(min_size=1, max_size=8),
)
def test_decode_never_raises_anything_but_decode_error(extra, times, batch_id, state):
    """Whatever the field values, decoding yields a consistent Snapshot or raises DecodeError."""
    obj = {"id": batch_id, "state": state, **extra, **times}
    try:
        snap = decode_snapshot(obj)
    except DecodeError:
        return
    assert snap.batch_id == str(obj["id"])
    assert snap.state == obj["state"].strip().lower()
    assert snap.state
    for attr in ("create_time", "update_time"):
        assert getattr(snap, attr) is None or isinstance(getattr(snap, attr), int)
    assert all(isinstance(line, str) for line in unpack(snap.log))


def test_state_map_names_a_gateway_state_by_the_documented_one():
    """A Livy-compatible gateway's 'FINISHED' is success once mapped; the raw value is kept for events."""
    snap = decode_snapshot({"id": 7, "state": "FINISHED"}, {"finished": "success"})
    assert (snap.state, snap.raw_state) == ("success", "FINISHED")
    assert decode_snapshot({"id": 7, "state": "FINISHED"}).state == "finished"


def test_a_list_page_keeps_the_details_only_fields_it_does_not_carry():
    """DLI list items have no spark_version (SDK SparkJob): a listed snapshot keeps the last one, never nulls it."""
    prev = Snapshot("b", "running", "running", spark_version="3.3.1", name="etl")
    listed = Snapshot("b", "success", "success", name="etl")
    assert with_details_only(listed, prev) == dataclasses.replace(listed, spark_version="3.3.1")
    assert with_details_only(listed, None) is listed
    newer = dataclasses.replace(listed, spark_version="3.4.0")
    assert with_details_only(newer, prev) is newer
