"""The benchmark's simulator process: a DLI world of N running batches served on 127.0.0.1 until stdin closes.

Prints one JSON line ``{"url", "ids_file", "project_id", "batches"}`` once bound. Besides the
simulator's own routes it answers ``GET /_bench/stats`` with the per-route request counters, when
the first API request since the last stats came (wall time) and this process's CPU seconds, so the bench can count
requests per batch-poll, time a first cycle and check the server is not the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import TYPE_CHECKING

from watcher.simulator import SimAuth, SimServer, World
from watcher.simulator.wire import json_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.simulator.wire import Request, Response

STATS_PATH = "/_bench/stats"
BENCH_AK = "AKBENCH000000000000"
BENCH_SK = "SKBENCHsecret00000000000000000000000000"


class StatsApp:
    """Wraps the simulator's app to add ``GET /_bench/stats``; everything else goes to the simulator."""

    def __init__(self, inner: Callable[[Request], Response], counters: dict[str, int]) -> None:
        """Wrap ``inner``, whose per-route counters are ``counters``."""
        self._inner, self._counters = inner, counters
        self.requests = counters
        self.first_request: float | None = None

    def __call__(self, req: Request) -> Response:
        """Answer the stats route, or pass the request on."""
        if req.path == STATS_PATH:
            stats = {"requests": dict(self._counters), "cpu": time.process_time(), "first_request": self.first_request}
            self.first_request = None  # the next stats say when the first request after these came
            return json_response(200, stats)
        if self.first_request is None and not req.path.startswith("/_sim"):
            self.first_request = time.time()
        return self._inner(req)


def build_world(batches: int, lines: int, queue: str, queues: int = 1, finished: float = 0.0) -> World:
    """A DLI world: ``batches`` batches over ``queues`` queues, ``lines`` stdout lines each, ``finished`` done."""
    world = World("dli")
    names = [queue] if queues == 1 else [f"{queue}-{q}" for q in range(queues)]
    done = int(batches * finished)
    for i in range(batches):
        state = "success" if i < done else "running"
        bid = world.add_batch(name=f"bench-job-{i % 100}", queue=names[i % queues], state=state)
        world.append_stdout(bid, [f"{bid[:8]} step {n} of {lines}" for n in range(lines)])
    return world


def kill(world: World, share: float) -> None:
    """Make the last ``share`` of the batches dead with a YARN report longer than the 10-line window.

    Their windows then show no stdout section: the case where the watcher once read the log endpoint on
    every poll (issue 12, item 4), which the req/poll column shows.
    """
    ids = world.batch_ids()
    for bid in ids[len(ids) - int(len(ids) * share) :]:
        world.set_diagnostics(bid, [f"Diagnostics: container exited with code 137, line {n}" for n in range(12)])
        world.set_state(bid, "dead")


def main() -> int:
    """Build the world, serve it, print where, and stop when stdin reaches EOF."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, required=True)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--queue", default="bench")
    parser.add_argument("--queues", type=int, default=1, help="deal the batches over this many queues")
    parser.add_argument("--auth", choices=["none", "aksk"], default="none")
    parser.add_argument("--finished", type=float, default=0.0, help="the share of batches already succeeded")
    parser.add_argument("--dead", type=float, default=0.0, help="the share of batches dead, windows all diagnostics")
    args = parser.parse_args()
    world = build_world(args.batches, args.lines, args.queue, args.queues, args.finished)
    kill(world, args.dead)
    fd, ids_file = tempfile.mkstemp(prefix="bench-ids-", suffix=".txt")
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(world.batch_ids()) + "\n")
    auth = SimAuth(mode="aksk", keys={BENCH_AK: BENCH_SK}) if args.auth == "aksk" else SimAuth()
    server = SimServer(world, auth)
    server.app = StatsApp(server.app, server.app.requests)  # type: ignore[assignment]
    try:
        url = server.start_in_thread()
        info = {"url": url, "ids_file": ids_file, "project_id": world.project_id, "batches": args.batches}
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # the bench closes our stdin (or dies) when it is done
    finally:
        server.stop()
        os.unlink(ids_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
