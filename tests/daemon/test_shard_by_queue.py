"""Sharding by queue: two shards split four queues, each lists only its own, and every batch is watched once."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.helpers import make_config, start_watch
from watcher.config.settings import DEFAULT_LIST_LOOKBACK, Config, DiscoveryConfig, WatchConfig
from watcher.core.listplan import SweepRules
from watcher.core.shard import Shard
from watcher.daemon.listpoll import sweep_rules
from watcher.simulator import SimServer, World
from watcher.simulator.api import Target, resolve
from watcher.simulator.app import SimApp

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.helpers import WatchRun
    from watcher.simulator.wire import Request, Response

pytestmark = pytest.mark.anyio
# Shard(0, 2) owns etl and reports, Shard(1, 2) ml and adhoc (tests/core/test_shard.py pins the hash)
QUEUES = ("etl", "ml", "adhoc", "reports")
OWNED = {0: {"etl", "reports"}, 1: {"ml", "adhoc"}}
PER_QUEUE = 5


def batch_id(n: int) -> str:
    """A fixed DLI batch ID."""
    return f"{n:08x}-0000-4000-8000-{n:012x}"


BATCHES = {batch_id(n): QUEUES[n % len(QUEUES)] for n in range(1, len(QUEUES) * PER_QUEUE + 1)}


@contextmanager
def recorded_simulator() -> Iterator[tuple[SimServer, list[str | None]]]:
    """A simulator holding BATCHES (all starting) that records each list request's queue_name (None: no filter)."""
    world = World("dli")
    for n, (bid, queue) in enumerate(BATCHES.items()):
        world.add_batch(bid, name=f"job-{n}", queue=queue, state="starting")
    app, queues = SimApp(world), []

    def handler(req: Request) -> Response:
        if resolve(world, req.path) == Target("list"):
            queues.append(dict(req.params()).get("queue_name"))
        return app(req)

    server = SimServer(world, handler=handler)
    server.start_in_thread()
    try:
        yield server, queues
    finally:
        server.stop()


def ready(run: WatchRun) -> bool:
    """Whether the watcher said it is ready."""
    return any(e.name == "watcher.ready" for e in run.events)


def finished(run: WatchRun, batch_ids: list[str]) -> bool:
    """Whether the watcher reported each batch finished."""
    return all(run.of(b, "batch.finished") for b in batch_ids)


async def test_two_shards_split_four_queues_and_list_only_their_own():
    """Each shard (its own copy of the world) watches exactly its queues' batches and names only them in lists."""
    with ExitStack() as stack:
        sims = [stack.enter_context(recorded_simulator()) for _ in range(2)]
        discovery = {"enabled": True, "queues": QUEUES, "interval_seconds": 60.0}
        async with anyio.create_task_group() as tg:
            runs = []
            for i, (server, _) in enumerate(sims):
                watch = {"mode": "list", "list_page_size": 2, "shard": Shard(i, 2), "shard_by": "queue"}
                runs.append(await start_watch(tg, make_config(server, [], watch=watch, discovery=discovery)))
            for run in runs:
                await run.wait_for(partial(ready, run))
            for server, _ in sims:
                for bid in BATCHES:
                    server.world.set_state(bid, "success")
            for i, run in enumerate(runs):
                await run.wait_for(partial(finished, run, [b for b, q in BATCHES.items() if q in OWNED[i]]))
                run.stopped.set()
    watched = [{b for b in BATCHES if runs[i].of(b, "batch.discovered")} for i in range(2)]
    assert watched[0] | watched[1] == set(BATCHES) and not watched[0] & watched[1]
    for i, run in enumerate(runs):
        assert watched[i] == {b for b, q in BATCHES.items() if q in OWNED[i]}
        assert not [b for b in BATCHES if b not in watched[i] and run.of(b)]  # no event of another shard's batch
        listed = sims[i][1]
        assert listed and set(listed) == OWNED[i], listed  # every list request names one of its queues


def test_the_sweep_reads_only_the_shards_named_queues():
    """List mode's sweep reads this shard's queues; a shard none of whose queues is named does not sweep."""
    cfg = Config(
        watch=WatchConfig(shard=Shard(0, 2), shard_by="queue"),
        discovery=DiscoveryConfig(enabled=True, queues=QUEUES),
    )
    assert sweep_rules(cfg) == SweepRules(("etl", "reports"), DEFAULT_LIST_LOOKBACK)
    lonely = replace(cfg, discovery=replace(cfg.discovery, queues=("ml",)))
    assert sweep_rules(lonely).lookback_seconds == 0.0
    assert sweep_rules(replace(cfg, discovery=replace(cfg.discovery, queues=()))).lookback_seconds == 0.0
