"""The state file's JSON for tracks: the log layout and the final-read flag survive, older files still load."""

from __future__ import annotations

import json

from watcher.core.logdiff import LogTrack, StreamTrack
from watcher.core.tracker import Track
from watcher.daemon.codec import decode_track, encode_track


def test_layout_and_final_read_round_trip():
    """A Livy <= 0.3 track whose final read is done loads back the same."""
    track = Track("7", log=LogTrack({"log": StreamTrack(("o1",), 1)}, window=("o1",), legacy=True, settled=True))
    assert decode_track(encode_track(track)) == track


def test_a_track_written_before_the_layout_keys_loads():
    """State files from before legacy/settled existed: no legacy layout, the final read still owed."""
    data = json.loads(encode_track(Track("7", log=LogTrack(sectioned=True))))
    del data["log"]["legacy"], data["log"]["settled"]
    log = decode_track(json.dumps(data)).log
    assert (log.layout, log.settled) == ("sectioned", False)
