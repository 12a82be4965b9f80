"""batch.outcome end to end: once per run across restarts, never for a revived or unwatched batch; not found said."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from tests.helpers import WatchRun, make_config, start_watch

if TYPE_CHECKING:
    from watcher.config.settings import Config
    from watcher.simulator import SimServer

pytestmark = pytest.mark.anyio


def said(runs: list[WatchRun], bid: str) -> list[dict[str, Any]]:
    return [e.fields for run in runs for e in run.of(bid, "batch.outcome")]


async def watch_once(cfg: Config, until: Any, then: Any = None) -> WatchRun:
    """Run a watcher until ``until(run)`` holds (after ``then()`` once its first poll cycle is done), then stop it."""
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        if then is not None:
            await run.wait_for(lambda: run.daemon.board.ready)
            then()
        await run.wait_for(lambda: until(run), timeout=15)
        run.stopped.set()
    return run


async def test_a_dli_dead_batch_is_said_once_across_restarts_after_its_grace(sim: SimServer, tmp_path):
    """Dead seen before a stop, grace over after a restart: one failed outcome, in the second run; a third: none."""
    dead = sim.world.add_batch(name="etl", state="running")
    done = sim.world.add_batch(name="report", state="running")
    state = {"path": str(tmp_path / "state.db")}
    cfg = make_config(sim, [dead, done], state=state, watch={"terminal_grace_seconds": 5.0})

    def finish() -> None:
        sim.world.set_state(dead, "dead")
        sim.world.set_state(done, "success")

    def both_finished(run: WatchRun) -> bool:
        return bool(run.of(dead, "batch.finished") and run.of(done, "batch.outcome"))

    first = await watch_once(cfg, both_finished, finish)
    assert [e.fields["final"] for e in first.of(dead, "batch.finished")] == [False]
    assert [e.fields["final"] for e in first.of(done, "batch.finished")] == [True]
    assert said([first], dead) == []  # still within the grace: DLI may revive it
    # the grace ends well into the second run (when the poll that saw it dead says so), not 5 s after it
    (died,) = first.of(dead, "batch.finished")
    assert died.timestamp is not None
    age = time.time() - datetime.fromisoformat(died.timestamp).timestamp()
    later = replace(cfg, watch=replace(cfg.watch, terminal_grace_seconds=age + 1.5))
    second = await watch_once(later, lambda run: run.of(dead, "batch.outcome"))
    third = await watch_once(later, lambda run: run.daemon.board.ready)
    assert [(o["outcome"], o["state"], o["recovered"]) for o in said([first, second, third], dead)] == [
        ("failed", "dead", False)
    ]
    assert [o["outcome"] for o in said([first, second, third], done)] == ["succeeded"]
    seqs = [e.seq for run in (first, second) for e in run.of(dead)]
    assert seqs == list(range(1, len(seqs) + 1)), "seq continues across the restart, no repeats"


async def test_a_revived_batch_says_success_only_and_an_unwatched_one_says_nothing(sim: SimServer):
    """Dead, then revived within the grace: one success marked recovered; a dead batch removed by a reload: none."""
    revived = sim.world.add_batch(name="etl", state="running")
    dropped = sim.world.add_batch(name="other", state="running")
    cfg = make_config(sim, [revived, dropped], watch={"terminal_grace_seconds": 30.0})
    holder = [cfg]
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg, lambda: holder[0])
        await run.wait_for(lambda: run.of(revived, "batch.discovered") and run.of(dropped, "batch.discovered"))
        sim.world.set_state(revived, "dead")
        sim.world.set_state(dropped, "dead")
        await run.wait_for(lambda: run.of(revived, "batch.finished") and run.of(dropped, "batch.finished"))
        holder[0] = replace(cfg, watch=replace(cfg.watch, batch_ids=(revived,)))
        os.kill(os.getpid(), signal.SIGHUP)
        await run.wait_for(lambda: [e for e in run.events if e.name == "watcher.reloaded"])
        sim.world.set_state(revived, "recovering")
        await run.wait_for(lambda: any(e.fields.get("to_state") == "recovering" for e in run.of(revived)))
        sim.world.set_state(revived, "success")
        await run.wait_for(lambda: run.of(revived, "batch.outcome"))
        run.stopped.set()
    assert [(o["outcome"], o["recovered"]) for o in said([run], revived)] == [("succeeded", True)]
    assert said([run], dropped) == []


async def test_every_batch_not_found_alike_is_said_once_with_the_api_error(sim: SimServer):
    """Two IDs the API does not know (as with a wrong project): each not found with the API error, said once for all."""
    ids = ["99999999-9999-4999-8999-999999999991", "99999999-9999-4999-8999-999999999992"]
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, ids))
        await run.wait_for(lambda: all(run.of(b, "batch.not_found") for b in ids))
        await run.wait_for(lambda: [e for e in run.events if e.name == "watcher.all_not_found"])
        # a few more not-found polls of both: it is not said again
        asked = run.daemon.stats.requests["details"]
        await run.wait_for(lambda: run.daemon.stats.requests["details"] >= asked + 6)
        run.stopped.set()
    found = [e.fields for b in ids for e in run.of(b, "batch.not_found")]
    # DLI answers an unknown job with HTTP 400 and DLI.0002 (the error code table, dli_02_0056)
    assert [(f["status_code"], f["error_code"]) for f in found] == [(400, "DLI.0002")] * 2
    assert all(f["error_message"] for f in found)
    (common,) = [e for e in run.events if e.name == "watcher.all_not_found"]
    assert (common.level, common.fields["batches"], common.fields["status_code"]) == ("warning", 2, 400)
    assert common.fields["error_code"] == "DLI.0002"


async def test_livy_dead_is_said_and_counted_at_once_whatever_the_grace(livy_sim: SimServer):
    """Livy never revives a batch: its dead is final on the poll that sees it, in the event and the job's runs."""
    bid = livy_sim.world.add_batch(name="nightly", state="running")
    cfg = make_config(livy_sim, [bid], watch={"terminal_grace_seconds": 3600.0})
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        livy_sim.world.set_state(bid, "dead")
        await run.wait_for(lambda: run.of(bid, "batch.outcome"))
        runs = run.daemon.board.jobs["nightly"].runs
        run.stopped.set()
    assert [e.fields["final"] for e in run.of(bid, "batch.finished")] == [True]
    assert [(o["outcome"], o["state"]) for o in said([run], bid)] == [("failed", "dead")]
    assert runs == (("failed", 1),)
