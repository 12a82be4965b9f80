"""An unchanged list item is compared, not decoded: the shortcut gives exactly what the full path gives."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from watcher.core.listed import COMPARED, decode_listed, reusable
from watcher.core.log.diff import LogTrack, unmarked_stream
from watcher.core.log.fetch import hides_output
from watcher.core.log.layout import WINDOW_SIZE, output_hidden, split_window
from watcher.core.model import MAX_LINE_CHARS, MAX_REQ_BODY_CHARS, Snapshot, decode_snapshot, with_details_only
from watcher.core.tracker import LogResult, Track, observe

STATES = {"success": "success"}
ITEM: dict[str, Any] = {
    "id": "b-1",
    "appId": "application_1_0001",
    "name": "etl",
    "owner": "ops",
    "proxyUser": "ops",
    "state": "Running",
    "kind": "spark",
    "log": ["stdout: ", "line 1", "line 2"],
    "sc_type": "A",
    "cluster_name": "c1",
    "queue": "q1",
    "create_time": 1_700_000_000_000,
    "update_time": 1_700_000_001_000,
    "req_body": '{"file":"x.jar"}',
    "image": "",
    "duration": 1000,
}
ODD: list[object] = [None, "", "other", 5, 2**70, 1.5, True, [], ["a", "b"], {}, "\ud800", "x" * 2000]


class Reading(dict[str, Any]):
    """A dict that notes every key read from it."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def kept(item: dict[str, Any], prev: Snapshot | None = None) -> Snapshot:
    """What the full path keeps of an item: decoded, with the details-only fields of ``prev``."""
    return with_details_only(decode_snapshot(item, STATES), prev)


def same(a: Snapshot, b: Snapshot) -> bool:
    """Equal in every field, the repairs (not part of ==) included."""
    return a == b and a.repairs == b.repairs


def test_the_comparison_reads_every_key_the_decode_reads() -> None:
    """A key decode reads but the comparison skipped would let a change through unseen."""
    for item in (ITEM, {**ITEM, "queue": None}):  # without a queue, decode reads cluster_name
        decoded, compared = Reading(item), Reading(item)
        prev = replace(kept(item), req_body=None)
        decode_snapshot(decoded, STATES)
        assert decode_listed(compared, STATES, {"b-1": prev}.get) is prev
        assert decoded.read <= COMPARED
        assert compared.read == decoded.read


def test_an_unchanged_item_is_the_kept_snapshot_itself() -> None:
    """Same fields (the ever-growing duration aside): the kept snapshot, not a new one."""
    prev = replace(kept(ITEM), req_body=None)
    assert decode_listed({**ITEM, "duration": 99_999}, STATES, lambda _: prev) is prev
    assert decode_listed(ITEM, STATES, lambda _: None) is not prev


@pytest.mark.parametrize("key", sorted(COMPARED - {"id"}))
@pytest.mark.parametrize("value", ODD, ids=repr)
def test_any_change_of_a_field_gives_what_the_full_decode_gives(key: str, value: object) -> None:
    """Each field set to each odd value: the shortcut's answer equals the full path's, repairs included."""
    prev = replace(kept(ITEM), req_body=None)
    item = {**ITEM, key: value}
    try:
        full = kept(item, prev)
    except Exception as exc:  # noqa: BLE001 - the shortcut must raise the same
        with pytest.raises(type(exc)):
            decode_listed(item, STATES, lambda _: prev)
        return
    got = with_details_only(decode_listed(item, STATES, lambda _: prev), prev)
    # req_body aside: the kept snapshot never holds it, and only a first sight (never reused) reports it
    assert same(replace(got, req_body=None), replace(full, req_body=None))


@pytest.mark.parametrize(
    "change",
    [
        {"state": "running"},
        {"log": ["stdout: ", "line 1", "line 2", "line 3"]},
        {"log": ["stdout: ", "line 1", "x" * (MAX_LINE_CHARS + 1)]},
        {"req_body": "x" * (MAX_REQ_BODY_CHARS + 1)},
        {"id": 7},
        {"update_time": 1_700_000_001_000.0},
    ],
    ids=repr,
)
def test_changes_the_comparison_must_not_miss(change: dict[str, Any]) -> None:
    """A case each: a new state spelling, a line more, a line or body decode would cut, another ID, a float time."""
    prev = replace(kept(ITEM), req_body=None)
    assert decode_listed({**ITEM, **change}, STATES, lambda _: prev) is not prev


def test_a_state_map_changed_by_a_reload_decodes_again() -> None:
    """The kept state was mapped with the old map: the new map's reading wins."""
    prev = replace(kept(ITEM), req_body=None)
    got = decode_listed(ITEM, {"running": "starting"}, lambda _: prev)
    assert got is not prev
    assert got.state == "starting"


def test_a_livy_integer_id_is_compared_too() -> None:
    """Livy's IDs are integers on the wire: an unchanged item still costs only a comparison."""
    item = {**ITEM, "id": 42}
    prev = replace(kept(item), req_body=None)
    assert decode_listed(item, STATES, lambda _: prev) is prev


def test_only_a_present_batch_is_reused() -> None:
    """A batch never read, or seen missing, reports a first sight: decoded afresh (req_body and all)."""
    snap = kept(ITEM)
    assert reusable(Track("b-1", snapshot=snap, presence="present")) is snap
    assert reusable(Track("b-1", snapshot=snap, presence="gone")) is None
    assert reusable(None) is None


def tracks() -> list[Track]:
    """Tracks in the situations observe treats apart: fresh, running, waited, failing, finished, unknown state."""
    snap = replace(kept(ITEM), req_body=None)
    base = Track("b-1", seq=3, snapshot=snap, presence="present", first_seen=1.0, state_since=2.0, up=True)
    done = replace(snap, state="success", raw_state="success")
    odd = replace(snap, state="paused", raw_state="paused")
    return [
        Track("b-1", snapshot=snap),
        base,
        replace(base, waited=True),
        replace(base, waited=True, started_at=5.0),
        replace(base, up=False, failing_since=4.0, last_failure_report=4.0),
        replace(base, snapshot=done, terminal_at=None),
        replace(base, snapshot=done, terminal_at=6.0),
        replace(base, snapshot=odd),
        replace(base, snapshot=odd, warned_states=frozenset({"paused"})),
        replace(base, first_seen=None),
        replace(base, snapshot=replace(snap, state="recovering", raw_state="recovering")),
        replace(base, snapshot=replace(snap, repairs=(("name", "invalid unicode"),))),
    ]


@pytest.mark.parametrize("track", tracks(), ids=[f"track{n}" for n in range(len(tracks()))])
@pytest.mark.parametrize("log", [LogResult(), LogResult((("stdout", "new"),)), LogResult(gaps=(("stdout", None),))])
def test_observing_the_tracks_own_snapshot_equals_observing_a_copy(track: Track, log: LogResult) -> None:
    """The shortcut for a snapshot seen again gives the very track and events the full path gives."""
    assert track.snapshot is not None
    copy = replace(track.snapshot)
    assert copy is not track.snapshot
    short, short_events = observe(track, track.snapshot, 100.0, log)
    full, full_events = observe(track, copy, 100.0, log)
    assert short == full
    assert short.repaired_fields == full.repaired_fields
    assert [(e.name, e.fields) for e in short_events] == [(e.name, e.fields) for e in full_events]


@pytest.mark.parametrize(
    "window",
    [
        ("stdout: ", *(f"o{n}" for n in range(9))),
        (*(f"e{n}" for n in range(8)), "YARN Diagnostics: ", "d"),
        tuple(f"x{n}" for n in range(10)),
        ("a", "b"),
    ],
)
@pytest.mark.parametrize("layout", ["plain", "sectioned", "local", "legacy"])
def test_the_kept_hidden_flag_is_what_the_window_says(window: tuple[str, ...], layout: Any) -> None:
    """``LogTrack.hidden``, worked out once, answers as splitting the window afresh does."""
    track = LogTrack(window=window, layout=layout)
    complete = len(window) < WINDOW_SIZE
    sections = split_window(window, layout, complete, unmarked_stream(layout, window, track.streams))
    fresh = output_hidden(sections, layout, complete)
    assert hides_output(track, window) == hides_output(track, list(window)) == track.hidden == fresh
