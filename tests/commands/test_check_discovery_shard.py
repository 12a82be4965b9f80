"""``check`` counts what discovery would watch through discovery's own listing, this shard's queues included."""

from __future__ import annotations

import pytest

from tests.helpers import make_config, simulator
from watcher.commands.check import check
from watcher.core.shard import Shard

pytestmark = pytest.mark.anyio
# Shard(0, 2) owns etl and reports, Shard(1, 2) ml and adhoc (tests/core/test_shard.py pins the hash)
BATCHES = {"etl": 3, "ml": 2, "adhoc": 1, "reports": 1}


@pytest.mark.parametrize(("shard", "expected"), [(0, 4), (1, 3)])
async def test_check_counts_only_this_shards_queues(shard: int, expected: int) -> None:
    """With shard_by = "queue", check's count is the shard's batches only, as a run's discovery cycle keeps."""
    with simulator() as server:
        for queue, count in BATCHES.items():
            for _ in range(count):
                server.world.add_batch(queue=queue, state="running")
        watch = {"shard": Shard(shard, 2), "shard_by": "queue"}
        cfg = make_config(server, [], watch=watch, discovery={"enabled": True, "queues": tuple(BATCHES)})
        report = await check(cfg, "c.toml", deadline=20, env={})
    found = next(f for f in report.findings if f.name == "discovery")
    assert (found.status, found.detail) == (
        "ok",
        f"the list endpoint answered; discovery would watch {expected} batches",
    )
