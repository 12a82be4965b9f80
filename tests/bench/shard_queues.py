"""Sharding by queue vs by ID, by hand: list requests per cycle of 4 shards over 4 queues against one process.

    python tests/bench/shard_queues.py [--per-queue 2500] [--shards 4] [--cycles 3]

One simulator holds 4 queues of ``--per-queue`` running batches each. In one process (the asyncio
event loop of this script) it runs, in turn: one watcher over everything (the baseline), ``--shards``
watchers with ``shard_by = "id"``, and ``--shards`` with ``shard_by = "queue"``; all in list mode
with discovery naming the 4 queues, page size 100. It reports the list requests of the steady
cycles (after every shard is ready) summed over the shards, per cycle (list requests per
batch-poll times the batches: shards finish their cycles at different times), and checks that the union of
the shards' watched batches is every batch exactly once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.helpers import WatchRun, make_config, start_watch
from watcher.core.shard import Shard
from watcher.simulator import SimServer, World
from watcher.simulator.api import Target, resolve
from watcher.simulator.app import SimApp

if TYPE_CHECKING:
    from watcher.core.vocabulary import ShardBy
    from watcher.simulator.wire import Request, Response

QUEUES = ("etl", "ml", "adhoc", "reports")  # over 4 shards by queue they land one per shard


def serve(per_queue: int) -> tuple[SimServer, Counter[str]]:
    """The simulator, and a counter of its list requests by queue_name ("" for none)."""
    world = World("dli")
    for n in range(per_queue * len(QUEUES)):
        world.add_batch(f"{n:08x}-0000-4000-8000-{n:012x}", queue=QUEUES[n % len(QUEUES)], state="running")
    app, listed = SimApp(world), Counter[str]()

    def handler(req: Request) -> Response:
        if resolve(world, req.path) == Target("list"):
            listed[dict(req.params()).get("queue_name", "")] += 1
        return app(req)

    server = SimServer(world, handler=handler)
    server.start_in_thread()
    return server, listed


def discovered(run: WatchRun) -> list[str]:
    """The batches a watcher took on (each once: discovery emits batch.discovered on first sight)."""
    return [e.batch_id for e in run.events if e.name == "batch.discovered" and e.batch_id is not None]


async def measure(server: SimServer, listed: Counter[str], shards: int, by: ShardBy, cycles: int) -> dict[str, float]:
    """List requests per steady cycle summed over ``shards`` watchers, and how many watched each batch."""
    total = len(server.world.batch_ids())
    discovery = {"enabled": True, "queues": QUEUES, "interval_seconds": 3600.0, "max_batches": 1_000_000}
    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        runs: list[WatchRun] = []
        for i in range(shards):
            watch = {
                "mode": "list",
                "list_page_size": 100,
                "shard": Shard(i, shards),
                "shard_by": by,
                "interval_seconds": 1.0,
            }
            runs.append(await start_watch(tg, make_config(server, [], watch=watch, discovery=discovery)))
        for run in runs:
            await run.wait_for(lambda run=run: any(e.name == "watcher.ready" for e in run.events), 600)
        ready = time.monotonic() - started
        before = sum(listed.values()), sum(run.daemon.stats.polls for run in runs)
        for run in runs:
            await run.wait_polls(cycles * len(discovered(run)), 600)
        after = sum(listed.values()), sum(run.daemon.stats.polls for run in runs)
        for run in runs:
            run.stopped.set()
    seen = Counter(b for run in runs for b in discovered(run))
    return {
        "ready_s": ready,
        "per_cycle": (after[0] - before[0]) / (after[1] - before[1]) * total,
        "batches": len(seen),
        "twice": sum(1 for n in seen.values() if n > 1),
        "total": total,
    }


def main() -> None:
    """Run the three set-ups and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-queue", type=int, default=2500)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--cycles", type=int, default=3)
    args = ap.parse_args()
    server, listed = serve(args.per_queue)
    try:
        print(f"{len(QUEUES)} queues x {args.per_queue} running batches, page size 100, {args.cycles} steady cycles")
        print(f"{'set-up':<24} {'list req/cycle':>15} {'ratio':>7} {'batches':>8} {'twice':>6} {'ready s':>8}")
        base = None
        for shards, by in [(1, "id"), (args.shards, "id"), (args.shards, "queue")]:
            out = anyio.run(measure, server, listed, shards, by, args.cycles)
            base = base or out["per_cycle"]
            name = "one process" if shards == 1 else f"{shards} shards by {by}"
            print(
                f"{name:<24} {out['per_cycle']:>15.1f} {out['per_cycle'] / base:>7.2f} "
                f"{out['batches']:>8} {out['twice']:>6} {out['ready_s']:>8.1f}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
