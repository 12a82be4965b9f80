"""CPU per batch-poll of list mode's own work, against ``json.loads`` of the same pages, in one run.

Run by hand: ``python tests/bench/list_cpu.py --batches 100000``. N running batches with a 10-line
stdout window of ~100 characters are rendered as list pages of 100 (as the simulator serves them);
then, cycle after cycle with nothing changed, every item goes through what list mode does with it
(``decode_listed``: a comparison with the kept snapshot, or a decode; the log diff and the decision
to read the log endpoint; ``observe``). Reported: CPU seconds per batch-poll (``time.process_time``) of
that work and of ``json.loads`` of the same pages, and their ratio, each the median of ``--cycles``.
HTTP and the event loop are left out: ``run.py`` measures the whole watcher.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import TYPE_CHECKING

from memory import LINE
from server import build_world

from watcher.core.listed import decode_listed, reusable
from watcher.core.log.poll import after_read, before_read
from watcher.core.model import with_details_only
from watcher.core.states import FLAVOR_STATES, is_terminal
from watcher.core.tracker import LogResult, Track, observe
from watcher.simulator.render import session

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.core.model import Snapshot


def pages(n: int) -> list[bytes]:
    """The list pages of N running batches, 100 a page, as JSON bytes."""
    world = build_world(n, 0, "default")
    ids = world.batch_ids()
    for bid in ids:
        world.append_stdout(bid, [LINE.format(n=k) for k in range(10)])
    sims = world._batches  # the bench renders list items itself, without the HTTP server
    now_ms = int(time.time() * 1000)
    return [json.dumps([session("dli", sims[b], now_ms) for b in ids[s : s + 100]]).encode() for s in range(0, n, 100)]


def cycle(raw: list[bytes], tracks: dict[str, Track]) -> None:
    """One list-mode cycle over the pages, as the daemon takes an item: decode (or compare), log diff, observe, keep."""
    states = {s: s for s in FLAVOR_STATES["dli"]}
    now = time.time()

    def known(bid: str) -> Snapshot | None:
        return reusable(tracks.get(bid))

    for page in raw:
        for item in json.loads(page):
            listed = decode_listed(item, states, known)
            track = tracks.get(listed.batch_id) or Track(listed.batch_id)
            snap = with_details_only(listed, track.snapshot)
            plan = before_read(track.log, snap.log, terminal=is_terminal(snap.state), now=now, every=60.0)
            out = after_read(plan, None)  # the log endpoint is not read for an unchanged running batch
            result = LogResult(out.lines, tuple((s, None) for s in out.gaps), out.track, unavailable=out.gave_up)
            tracks[snap.batch_id], _ = observe(track, snap, now, result)


def cpu(work: Callable[[], object]) -> float:
    """CPU seconds of one call of ``work``."""
    start = time.process_time()
    work()
    return time.process_time() - start


def main() -> int:
    """Measure both, interleaved, and print µs per batch-poll and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    raw = pages(args.batches)
    tracks: dict[str, Track] = {}
    cycle(raw, tracks)  # the first sight of every batch: not what a steady cycle costs
    ours, floor = [], []
    for _ in range(args.cycles):  # interleaved, so both see the same load on a shared machine
        ours.append(cpu(lambda: cycle(raw, tracks)))
        floor.append(cpu(lambda: [json.loads(p) for p in raw]))
    per = 1e6 / args.batches
    a, b = statistics.median(ours) * per, statistics.median(floor) * per
    print(f"{args.batches:,} unchanged running batches, median of {args.cycles} cycles")
    print(f"list mode's work: {a:.1f} µs per batch-poll; json.loads of the same pages: {b:.1f} µs; ratio {a / b:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
