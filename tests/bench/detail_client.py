"""The detail poll's client layer alone, in one process: ``BatchApi.details`` vs bare aiohttp GET + json.loads.

    python tests/bench/detail_client.py [--batches 1000] [--requests 5000] [--concurrency 50] [--profile]

The bench simulator (server.py, its own process) serves N running batches. In this process, the same
``--requests`` GETs of their details URLs run ``--concurrency`` at a time, in rounds alternating
between the watcher's API client (``open_api``: the aiohttp transport under httpx, the body cap, the
error mapping, ``decode_snapshot``) and a bare ``aiohttp.ClientSession`` + ``json.loads``. Printed:
the best round's CPU µs per request of each and their ratio. ``--profile`` prints the top functions
of one more round of the client.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from typing import TYPE_CHECKING

import aiohttp
from run import Server

from watcher.api.http import open_api
from watcher.config.settings import ApiConfig, Config, WatchConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from watcher.api.client import BatchApi


async def spread(work: Callable[[str], Awaitable[object]], ids: list[str], concurrency: int) -> float:
    """Run ``work`` over the IDs, ``concurrency`` at a time; the process CPU seconds it took."""
    queue = list(reversed(ids))

    async def worker() -> None:
        while queue:
            await work(queue.pop())

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - start


async def measure(args: argparse.Namespace, server: Server) -> int:
    """Alternate rounds of both clients; print the best of each."""
    ids = server.ids
    work_ids = [ids[i % len(ids)] for i in range(args.requests)]
    cfg = Config(
        api=ApiConfig(endpoint=server.url, project_id=server.project_id, transport="aiohttp"),
        watch=WatchConfig(batch_ids=tuple(ids), concurrency=args.concurrency),
    )
    base = server.url.rstrip("/") + cfg.api.flavor_spec.batches_path(cfg.api.project_id)
    best: dict[str, float] = {}
    async with open_api(cfg) as api, aiohttp.ClientSession() as session:

        async def bare(bid: str) -> object:
            async with session.get(f"{base}/{bid}") as resp:
                return json.loads(await resp.read())

        clients: dict[str, Callable[[str], Awaitable[object]]] = {"watcher client": api.details, "bare aiohttp": bare}
        for _ in range(args.rounds):
            for name, work in clients.items():
                seconds = await spread(work, work_ids, args.concurrency)
                best[name] = min(best.get(name, seconds), seconds)
        for name, seconds in best.items():
            print(f"{name:>15}: {seconds / args.requests * 1e6:7.1f} µs per request (best of {args.rounds})")
        print(f"{'ratio':>15}: {best['watcher client'] / best['bare aiohttp']:.2f}x")
        if args.profile:
            await profiled(api, work_ids, args)
    return 0


async def profiled(api: BatchApi, ids: list[str], args: argparse.Namespace) -> None:
    """One more round of the watcher's client under cProfile; its top functions by own time."""
    prof = cProfile.Profile()
    prof.enable()
    await spread(api.details, ids, args.concurrency)
    prof.disable()
    pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)


def main() -> int:
    """Start the simulator, measure, stop it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", help="the profile's order: tottime, cumulative, ncalls...")
    args = parser.parse_args()
    server = Server(args.batches)
    try:
        return asyncio.run(measure(args, server))
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
