"""The state file's JSON for tracks and outbox events: what is kept survives, older rows still load."""

from __future__ import annotations

import dataclasses
import json

import pytest

from watcher.core.events import Event
from watcher.core.log.diff import LogTrack, StreamTrack
from watcher.core.tracker import Track
from watcher.daemon.codec import decode_event, decode_track, encode_event, encode_track


def test_layout_and_final_read_round_trip():
    """A Livy <= 0.3 track whose final read is done loads back the same."""
    track = Track("7", log=LogTrack({"log": StreamTrack(("o1",), 1)}, window=("o1",), layout="legacy", settled=True))
    assert decode_track(encode_track(track)) == track


def test_a_local_layout_and_the_endpoint_pacing_round_trip():
    """Livy without YARN: the layout, when the endpoint was last read and its misses in a row survive a restart."""
    track = Track("7", log=LogTrack(window=("x",) * 10, layout="local", read_at=1_700_000_000.5, misses=3))
    assert decode_track(encode_track(track)) == track


def test_a_track_written_before_the_layout_keys_loads():
    """Rows from before legacy/settled existed (a sectioned flag only): no legacy layout, the final read still owed."""
    data = json.loads(encode_track(Track("7", log=LogTrack(layout="sectioned"))))
    del data["log"]["layout"], data["log"]["settled"], data["log"]["read_at"], data["log"]["misses"]
    data["log"]["sectioned"] = True
    log = decode_track(json.dumps(data)).log
    assert (log.layout, log.settled, log.read_at, log.misses) == ("sectioned", False, None, 0)


def test_an_unknown_layout_is_damage():
    """A layout name this version does not know is a damaged row, not a guess."""
    data = json.loads(encode_track(Track("7")))
    data["log"]["layout"] = "mesos"
    with pytest.raises(ValueError, match="mesos"):
        decode_track(json.dumps(data))


def test_outbox_events_keep_their_timestamp():
    """An event goes into the outbox with the time it is written with, so a replay writes the same bytes."""
    event = Event("batch.log", "info", "b", 3, {"stream": "stdout", "line": "x"}, "2026-11-28T11:17:26.890Z")
    assert decode_event(encode_event(event)) == event


def test_an_outbox_row_from_before_timestamps_loads_unstamped():
    """Rows written before the timestamp was kept (five items) load; the writer stamps them when it writes."""
    old = json.dumps(["batch.log", "info", "b", 3, {"line": "x"}])
    assert decode_event(old) == Event("batch.log", "info", "b", 3, {"line": "x"})


def test_revival_and_not_found_answer_round_trip_and_older_rows_load_without_them():
    """The revival mark and batch.not_found's API answer are kept; a row from before them loads with none."""
    track = Track("7", presence="not_found", revived=True, not_found_status=400, not_found_code="DLI.0002")
    track = dataclasses.replace(track, not_found_message="The job does not exist.", outcome="succeeded")
    assert decode_track(encode_track(track)) == track
    data = json.loads(encode_track(Track("7")))
    for key in ("revived", "not_found_status", "not_found_code", "not_found_message"):
        del data[key]
    assert decode_track(json.dumps(data)) == Track("7")
