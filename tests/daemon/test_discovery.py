"""Discovery: batches matching queue, name pattern, owner and creation time are found, capped, and forgotten."""

from __future__ import annotations

import time

import anyio
import pytest

from tests.helpers import make_config, start_watch
from watcher.config.settings import DiscoveryConfig
from watcher.core.flavor import DLI
from watcher.core.model import Snapshot
from watcher.core.selection import chosen, discovery_pages, keep_listed, matches

NOW_MS = 1_800_000_000_000


def snap(bid, *, queue="q1", name="etl-daily", owner="alice", created=NOW_MS, state="running", updated=NOW_MS):
    return Snapshot(bid, state, state, name=name, queue=queue, owner=owner, create_time=created, update_time=updated)


class TestRules:
    def test_each_rule_filters(self):
        """Queue, job-name pattern, owner and created_after each exclude what they should."""
        rules = DiscoveryConfig(enabled=True, queues=("q1",), job_name="etl-*", owner="alice", created_after_ms=NOW_MS)
        assert matches(snap("a"), rules)
        assert not matches(snap("b", queue="q2"), rules)
        assert not matches(snap("c", name="ml-train"), rules)
        assert not matches(snap("d", owner="bob"), rules)
        assert not matches(snap("e", created=NOW_MS - 10), rules)

    def test_listed_ids_must_pass_the_flavor_rule(self):
        """A listed batch whose ID is not a well-formed DLI ID is never kept: it would go into URLs."""
        good = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"
        listed = [snap(good), snap("/admin/secrets?x="), snap("../x")]
        assert [s.batch_id for s in keep_listed(listed, DiscoveryConfig(enabled=True), DLI)] == [good]

    def test_a_cycle_reads_a_bounded_number_of_pages(self):
        """Ten times max_batches at most, and never past watch.max_list_pages, whatever total is claimed."""
        assert discovery_pages(DiscoveryConfig(max_batches=100), 100, 1000) == 10
        assert discovery_pages(DiscoveryConfig(max_batches=1000), 100, 50) == 50

    def test_newest_first_capped_and_old_finished_dropped(self):
        """The newest matches win the cap; a batch finished longer ago than the retention is left out."""
        rules = DiscoveryConfig(enabled=True, max_batches=2)
        snaps = [
            snap("old", created=NOW_MS - 3),
            snap("new", created=NOW_MS),
            snap("mid", created=NOW_MS - 1),
            snap("done", state="success", updated=NOW_MS - 7_200_000, created=NOW_MS + 5),
        ]
        assert [s.batch_id for s in chosen(snaps, rules, NOW_MS / 1000, retention=3600)] == ["new", "mid"]


@pytest.mark.anyio
async def test_discovery_finds_new_matching_batches_and_forgets_finished_ones(sim):
    """A running watcher picks up matching batches as they appear and drops them after the retention."""
    world = sim.world
    wanted = world.add_batch(name="etl-orders", queue="q1", state="running")
    world.add_batch(name="ml-train", queue="q1", state="running")
    world.add_batch(name="etl-other-queue", queue="q2", state="running")
    rules = {"enabled": True, "queues": ("q1",), "job_name": "etl-*", "interval_seconds": 0.3}
    cfg = make_config(sim, [], watch={"retention_seconds": 1.5, "terminal_grace_seconds": 0.3}, discovery=rules)
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: run.of(wanted, "batch.discovered"))
        later = world.add_batch(name="etl-late", queue="q1")
        await run.wait_for(lambda: run.of(later, "batch.discovered"))
        world.set_state(wanted, "success")
        await run.wait_for(lambda: run.of(wanted, "batch.finished"))
        started = time.monotonic()
        await run.wait_for(lambda: wanted not in run.daemon.board.tracks, timeout=10)
        forgotten_after = time.monotonic() - started
        listed = sim.requests["list"]
        await run.wait_for(lambda: sim.requests["list"] >= listed + 2)  # two more discovery cycles
        run.stopped.set()
    discovered = {e.batch_id for e in run.events if e.name == "batch.discovered"}
    assert discovered == {wanted, later}
    assert forgotten_after >= 1.0
    assert len(run.of(wanted, "batch.discovered")) == 1


@pytest.mark.anyio
async def test_discovered_batches_survive_a_restart(sim, tmp_path):
    """After a restart the state file's discovered batches carry on: no second discovery, seq continues."""
    bid = sim.world.add_batch(name="etl-x", queue="q1", state="running")
    rules = {"enabled": True, "queues": ("q1",), "interval_seconds": 0.3}
    cfg = make_config(sim, [], discovery=rules, state={"path": str(tmp_path / "s.db")})
    async with anyio.create_task_group() as tg:
        first = await start_watch(tg, cfg)
        await first.wait_for(lambda: first.of(bid, "batch.discovered"))
        first.stopped.set()
    async with anyio.create_task_group() as tg:
        second = await start_watch(tg, cfg)
        await second.wait_for(lambda: second.daemon.board.ready)
        sim.world.set_state(bid, "success")
        await second.wait_for(lambda: second.of(bid, "batch.finished"))
        second.stopped.set()
    assert not second.of(bid, "batch.discovered")
    last = first.of(bid)[-1].seq
    assert last is not None and second.of(bid)[0].seq == last + 1
