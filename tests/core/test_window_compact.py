"""A log window kept as one joined string gives back exactly its lines, and the state file stays as it was."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watcher.core.listed import unchanged
from watcher.core.log.diff import LogTrack, diff_log
from watcher.core.model import Snapshot, decode_snapshot
from watcher.core.tracker import LogResult, Track, observe
from watcher.core.window import pack, same_lines, size, unpack
from watcher.daemon.codec import decode_track, encode_track

# any text, line feeds and empty lines included: the kept form must hold what a misbehaving server sends too
LINES = st.lists(st.text(alphabet=st.sampled_from(["a", "é", " ", "\n", "\r", "\x00", "😀"]), max_size=6), max_size=12)
PLAIN = st.lists(st.text(st.characters(exclude_characters="\n", exclude_categories=["Cs"]), max_size=20), max_size=12)

WINDOW = ["stdout: ", "out 1", "", "out \u00e9 3", "stderr: ", "err 1", "YARN Diagnostics: "]
# encode_track's bytes for TRACK, written by the code before windows were kept joined
EXPECTED = (
    '{"batch_id":"b7","seq":2,"snapshot":{"batch_id":"b7","state":"running","raw_state":"running","app_id":null,'
    '"name":null,"owner":null,"queue":"q","kind":null,"sc_type":null,"spark_version":null,"image":null,'
    '"proxy_user":null,"create_time":null,"update_time":null,'
    '"log":["stdout: ","out 1","","out é 3","stderr: ","err 1","YARN Diagnostics: "]},'
    '"presence":"present","first_seen":null,"state_since":null,"terminal_at":null,'
    '"log":{"streams":{"stdout":[["out 1","","out é 3"],3],"stderr":[["err 1"],1],"diagnostics":[[],0]},'
    '"window":["stdout: ","out 1","","out é 3","stderr: ","err 1","YARN Diagnostics: "],'
    '"layout":"sectioned","settled":false,"read_at":null,"misses":0},'
    '"up":false,"last_success":null,"failing_since":null,"last_failure_report":null,"warned_states":[],'
    '"repaired_fields":[],"waited":false,"started_at":null,"outcome":null,"revived":false,'
    '"not_found_status":null,"not_found_code":null,"not_found_message":null}'
)


@given(LINES)
def test_any_lines_round_trip_exactly(lines):
    """Whatever the lines (line feeds, empty ones, none), the kept window gives them back, and its size."""
    kept = pack(lines)
    assert unpack(kept) == tuple(lines)
    assert size(kept) == len(lines)
    assert pack(unpack(kept)) == kept
    assert pack(kept) is kept


@given(LINES, LINES)
def test_kept_windows_are_equal_exactly_when_their_lines_are(a, b):
    """One kept form per list of lines: comparing kept windows is comparing lines."""
    assert (pack(a) == pack(b)) == (a == b)


@given(PLAIN)
def test_a_window_without_line_feeds_is_one_string(lines):
    """The usual window is one str object (only a lone empty line needs the tuple form)."""
    assert isinstance(pack(lines), str) == (lines != [""])


def test_the_windows_the_join_cannot_tell_apart():
    """No lines, one empty line, two empty lines and a line holding a line feed are four different windows."""
    forms = [pack([]), pack([""]), pack(["", ""]), pack(["a\nb"]), pack(["a", "b"])]
    assert [unpack(f) for f in forms] == [(), ("",), ("", ""), ("a\nb",), ("a", "b")]
    assert len(set(map(repr, forms))) == 5


@given(LINES, LINES)
def test_a_list_item_matches_a_kept_window_only_with_the_same_lines(kept, item):
    """The list-mode comparison of an item's ``log`` with the kept window says "the same" only for equal lines."""
    assert same_lines(list(item), pack(kept)) == (item == kept)


def test_a_list_item_whose_lines_join_to_the_window_is_not_the_same():
    """A line holding a line feed joins to the text of two lines but is one; a non-string line is never the same."""
    assert not same_lines(["a\nb"], pack(["a", "b"]))
    assert not same_lines(["a", 1], pack(["a", "1"]))
    assert not same_lines([""], pack([]))


@given(PLAIN)
def test_a_decoded_window_round_trips_and_an_unchanged_item_is_recognised(lines):
    """Decoding keeps the lines as they came; the same item again is unchanged, one line more is not."""
    item = {"id": "b1", "state": "running", "log": lines}
    snap = decode_snapshot(item)
    assert unpack(snap.log) == tuple(lines)
    assert unchanged(item, snap, {})
    assert not unchanged({**item, "log": [*lines, "x"]}, snap, {})


def test_a_snapshot_given_lines_keeps_them_joined():
    """A Snapshot made with a tuple of lines equals one decoded from the same lines."""
    made = Snapshot("b1", "running", "running", log=("a", "", "b"))
    assert made == decode_snapshot({"id": "b1", "state": "running", "log": ["a", "", "b"]})
    assert made.log == "a\n\nb"


def _track() -> Track:
    snap = decode_snapshot({"id": "b7", "state": "running", "queue": "q", "log": WINDOW})
    return Track("b7", seq=2, snapshot=snap, presence="present", log=diff_log(LogTrack(), snap.log).track)


def test_the_snapshot_and_the_log_track_share_one_window():
    """The diff keeps the snapshot's own string as its window and as the stdout stream's text: the text once."""
    track = _track()
    assert track.snapshot is not None
    assert track.log.window is track.snapshot.log
    stdout = track.log.streams["stdout"]
    assert stdout.text is track.snapshot.log
    assert stdout.tail == ("out 1", "", "out é 3")


def test_a_window_read_afresh_unchanged_is_kept_once():
    """Detail mode decodes a new, equal window every poll: the track keeps the string it already had, not a copy."""
    track = Track("b7")
    for _ in range(2):
        snap = decode_snapshot({"id": "b7", "state": "running", "log": WINDOW})
        diff = diff_log(track.log, snap.log)
        track, _ = observe(track, snap, 1.0, LogResult(diff.lines, (), diff.track))
    assert track.snapshot is not None
    assert snap.log is not track.snapshot.log
    assert track.snapshot.log is track.log.window
    assert unpack(track.snapshot.log) == tuple(WINDOW)


def test_the_state_file_bytes_are_unchanged():
    """A track encodes to the bytes the code wrote before windows were kept joined, and loads back sharing them."""
    track = _track()
    assert encode_track(track) == EXPECTED
    loaded = decode_track(EXPECTED)
    assert loaded == track
    assert encode_track(loaded) == EXPECTED
    assert loaded.snapshot is not None
    assert loaded.log.window is loaded.snapshot.log
    assert loaded.log.streams["stdout"].text is loaded.log.window
