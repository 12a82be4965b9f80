"""What the watcher holds per watched batch, part by part, at N running batches in list mode.

Run by hand: ``python tests/bench/memory.py --batches 100000``. It builds a DLI world of N running
batches with a 10-line stdout window of ~100 characters each, renders their list items as the
simulator serves them, and takes every batch through what list mode does with an answer: decode
(``decode_snapshot``), log diff, ``observe``, the board, the status page's ring (4 events each),
the poll schedule (the poller's timetable) and a /metrics render. Bytes per batch of each part are
counted object by object (``sys.getsizeof``, every object once, in the order listed, so a string two
parts share counts in the first); tracemalloc's total over the same work is the check.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from dataclasses import replace
from typing import Any

from server import build_world

from watcher.core.board import Board
from watcher.core.log.diff import LogTrack, diff_log
from watcher.core.model import decode_snapshot
from watcher.core.recent import Recent
from watcher.core.states import FLAVOR_STATES
from watcher.core.timetable import Timetable
from watcher.core.tracker import Failure, LogResult, Track, observe, observe_failure
from watcher.metrics.exposition import BatchText, BatchView
from watcher.output.messages import message
from watcher.simulator.render import session

ALIVE: list[Any] = []
NO_LOG = LogResult((), (), LogTrack())
FAILURE = Failure("http", "503 Service Unavailable: APIG.0201 Backend unavailable", 503, "APIG.0201", 3)
LINE = "INFO scheduler.TaskSetManager: Finished task {n} in stage 3.0 (TID {n}) on executor 7 (12/40) step {n}"


def deep(roots: list[Any], seen: set[int]) -> int:
    """Bytes of the roots and everything they refer to that ``seen`` has not counted yet (the list itself not)."""
    ALIVE.append(roots)  # ids in ``seen`` must not be reused by a later object
    total, stack = 0, list(roots)
    while stack:
        o = stack.pop()
        if id(o) in seen or o is None or isinstance(o, bool | type):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, tuple | list | set | frozenset):
            stack.extend(o)
        elif hasattr(o, "__slots__"):
            stack.extend(getattr(o, s) for c in type(o).__mro__ for s in getattr(c, "__slots__", ()) if hasattr(o, s))
        elif hasattr(o, "__dict__"):
            stack.append(o.__dict__)
    return total


def fleet(n: int) -> tuple[Board, Recent, Timetable, BatchText]:
    """N running batches through list mode's steps: the board, ring, schedule and exposition cache."""
    world = build_world(n, 0, "default")
    now_ms = int(time.time() * 1000)
    board, recent = Board(), Recent(per_batch=4, describe=message)  # as the daemon makes it
    timetable = Timetable()
    states = FLAVOR_STATES["dli"]
    ids = world.batch_ids()
    sims = world._batches
    for bid in ids:
        world.append_stdout(bid, [LINE.format(n=k) for k in range(10)])
    now = time.time()
    when = now + 60.0  # the cycle's one slot: one float and one bucket of the timetable, as the poller keeps it
    for start in range(0, n, 100):  # a page at a time, decoded from JSON as the client does
        items = [session("dli", sims[b], now_ms) for b in ids[start : start + 100]]
        page = json.loads(json.dumps(items))
        for item in page:
            snap = decode_snapshot(item, {s: s for s in states})
            track = board.tracks.get(snap.batch_id) or Track(snap.batch_id)
            diff = diff_log(track.log, snap.log)
            result = LogResult(diff.lines, tuple((s, None) for s in diff.uncertain), diff.track)
            # four events a batch, each a different one, as the real tracker makes them: found starting,
            # a failed poll, then running (the poll's recovery and the state change)
            first, found = observe(track, replace(snap, state="starting"), now - 90, NO_LOG, include_req_body=False)
            failed, failure = observe_failure(first, FAILURE, now - 30)
            new, events = observe(failed, snap, now, result, include_req_body=False)
            board.tracks[snap.batch_id] = new
            for said in (found, failure, events):
                recent.record([e for e in said if e.name != "batch.log"], now, board.tracks)
            recent.polled(new, now)
            timetable.put(snap.batch_id, when)
    text = BatchText(BatchView(labels=board.labels))
    text.render(list(board.tracks.values()), now)
    return board, recent, timetable, text


def parts(board: Board, recent: Recent, timetable: Timetable, text: BatchText) -> dict[str, int]:
    """Bytes of each part, every object counted once (log lines first, then the tracks that hold them...)."""
    seen: set[int] = set()
    tracks = list(board.tracks.values())
    windows = [t.snapshot.log for t in tracks if t.snapshot] + [t.log for t in tracks]
    out = {"log window": deep(windows, seen)}
    out["track (Track, Snapshot, strings)"] = deep([board.tracks], seen)
    out["recent-events ring"] = deep([recent._events, recent._polls, recent._errors], seen)
    out["label values (LabelCap)"] = deep([board.labels], seen)
    out["schedule (timetable)"] = deep([timetable], seen)
    out["/metrics cache (info line per batch)"] = deep([text._cache, text._groups], seen)
    return out


def main() -> int:
    """Measure and print bytes per batch of each part, and tracemalloc's total."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=100_000)
    args = parser.parse_args()
    n = args.batches
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = fleet(n)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    sizes = parts(*held)
    for name, size in sizes.items():
        print(f"{name:>36}: {size / n:8.0f} B/batch")
    print(f"{'sum of parts':>36}: {sum(sizes.values()) / n:8.0f} B/batch")
    print(f"{'tracemalloc, everything kept':>36}: {traced / n:8.0f} B/batch  ({n:,} batches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
