"""The watcher end to end over real HTTP against the simulator: scripted lifecycles, logs, faults."""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import datetime

import anyio
import pytest

from tests.helpers import DetailsReads, WatchRun, assert_seq_gapless, make_config, simulator, start_watch
from watcher.core.shard import Shard

pytestmark = pytest.mark.anyio
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def names(events):
    return [e.name for e in events]


async def test_dli_lifecycle_is_one_event_per_change_in_order(sim):
    """Starting -> running (stdout) -> success gives each transition and line once, in order, seq gapless."""
    world = sim.world
    bid = world.add_batch(name="daily-etl", queue="q1")
    other = world.add_batch(name="other")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid, other]))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        world.set_state(bid, "running")
        await run.wait_for(lambda: run.of(bid, "batch.state_changed"))
        world.append_stdout(bid, ["line one", "line two", "line three"])
        await run.wait_for(lambda: len(run.lines(bid)) == 3)
        world.set_state(bid, "success")
        await run.wait_for(lambda: run.of(bid, "batch.finished"))
        await run.wait_polls(3)  # the other batch's: anything more about this one would have come by now
        run.stopped.set()
    assert names(run.of(bid)) == [
        "batch.discovered",
        "batch.changed",
        "batch.state_changed",
        "batch.log",
        "batch.log",
        "batch.log",
        "batch.state_changed",
        "batch.finished",
        "batch.outcome",
    ]
    changed = run.of(bid, "batch.changed")[0].fields["changes"]
    assert changed["appId"]["old"] is None and changed["appId"]["new"]
    assert [(e.fields["from_state"], e.fields["to_state"]) for e in run.of(bid, "batch.state_changed")] == [
        ("starting", "running"),
        ("running", "success"),
    ]
    assert run.lines(bid, "stdout") == ["line one", "line two", "line three"]
    finished = run.of(bid, "batch.finished")[0]
    assert (finished.fields["outcome"], finished.level) == ("succeeded", "info")
    assert names(run.of(other)) == ["batch.discovered"]
    assert_seq_gapless(run.events)


async def test_json_lines_carry_the_contract_fields(sim):
    """Each line: timestamp (RFC 3339 ms Z), level, event, batch_id, seq, message, then the job's context."""
    bid = sim.world.add_batch(name="job")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid]))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        run.stopped.set()
    lines = run.json_lines()
    assert [line["event"] for line in lines][:2] == ["watcher.started", "batch.discovered"]
    assert lines[-1]["event"] == "watcher.stopped"
    discovered = lines[1]
    assert list(discovered)[:5] == ["timestamp", "level", "event", "batch_id", "seq"]
    assert TIMESTAMP.match(discovered["timestamp"]) and discovered["level"] == "info"
    assert discovered["seq"] == 1 and discovered["job_name"] == "job" and discovered["state"] == "starting"
    assert discovered["message"].startswith("discovered in state starting (queue ")
    assert all(line["job_name"] == "job" for line in lines if "batch_id" in line)
    assert TIMESTAMP.match(discovered["create_time"])


async def test_livy_markers_title_case_and_unknown_state(livy_sim):
    """Livy's newline-prefixed markers split the same way; "Success" is success; an unknown state warns once."""
    world = livy_sim.world
    bid = world.add_batch(name="livy-job", state="running")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(livy_sim, [bid]))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        world.append_stdout(bid, ["out 1", "out 2"])
        world.append_stderr(bid, ["err 1"])
        await run.wait_for(lambda: len(run.lines(bid)) == 3)
        world.set_state(bid, "Weird")
        await run.wait_for(lambda: run.of(bid, "batch.unknown_state"))
        await run.wait_polls(3)  # several more polls of the same unknown state
        world.set_state(bid, "Success")
        await run.wait_for(lambda: run.of(bid, "batch.finished"))
        run.stopped.set()
    assert run.lines(bid, "stdout") == ["out 1", "out 2"] and run.lines(bid, "stderr") == ["err 1"]
    assert len(run.of(bid, "batch.unknown_state")) == 1
    assert run.of(bid, "batch.unknown_state")[0].fields["state"] == "Weird"
    assert run.of(bid, "batch.finished")[0].fields["state"] == "success"
    assert_seq_gapless(run.events)


async def burst_story(server, burst: list[str], done) -> tuple[WatchRun, str]:
    """One running batch: a first line, then ``burst`` at once; returns when ``done(run, bid)`` holds."""
    world = server.world
    bid = world.add_batch(name="bursty", state="running")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(server, [bid]))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        world.append_stdout(bid, ["before"])
        await run.wait_for(lambda: run.lines(bid) == ["before"])
        world.append_stdout(bid, burst)
        await run.wait_for(lambda: done(run, bid))
        run.stopped.set()
    return run, bid


@pytest.mark.parametrize("flavor", ["dli", "livy"])
async def test_burst_beyond_the_window_is_backfilled_from_the_log_endpoint(flavor):
    """A 60-line burst scrolls far past the 10-line window; the log endpoint recovers every line, no gap."""
    with simulator(flavor) as server:
        burst = [*(f"burst {i}" for i in range(60)), "after"]
        run, bid = await burst_story(server, burst, lambda run, bid: "after" in run.lines(bid))
    assert run.lines(bid) == server.world.truth_lines(bid, "stdout")
    assert not run.of(bid, "batch.log_gap")
    assert server.requests["log"] >= 1


async def test_burst_without_log_endpoint_reports_a_gap():
    """With the log endpoint gone, the burst's lost lines are a batch.log_gap; visible lines still arrive once."""
    with simulator("dli", log_endpoint=False) as server:
        burst = [f"burst {i}" for i in range(40)]
        run, bid = await burst_story(server, burst, lambda run, bid: run.of(bid, "batch.log_gap"))
    gap = run.of(bid, "batch.log_gap")[0]
    assert (gap.fields["stream"], gap.level) == ("stdout", "warning")
    emitted, truth = run.lines(bid), server.world.truth_lines(bid, "stdout")
    assert emitted[0] == "before" and emitted[-1] == "burst 39"
    assert len(set(emitted)) == len(emitted) and all(line in truth for line in emitted)


async def test_dead_batch_that_recovers_is_followed_through(sim):
    """Dead -> recovering -> running -> success within the grace period: every transition, two finishes."""
    world = sim.world
    bid = world.add_batch(name="nightly", state="running")
    async with anyio.create_task_group() as tg:
        cfg = make_config(sim, [bid], watch={"terminal_grace_seconds": 3.0})
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        for state in ("dead", "recovering", "running", "success"):
            world.set_state(bid, state)
            await run.wait_for(lambda s=state: any(e.fields.get("to_state") == s for e in run.of(bid)))  # type: ignore[misc]
        run.stopped.set()
    transitions = [e.fields["to_state"] for e in run.of(bid, "batch.state_changed")]
    assert transitions == ["dead", "recovering", "running", "success"]
    assert [e.fields["outcome"] for e in run.of(bid, "batch.finished")] == ["failed", "succeeded"]


async def test_terminal_batch_stops_being_polled_after_grace(sim):
    """After terminal_grace_seconds a finished batch gets no more requests, while a running one goes on."""
    bid = sim.world.add_batch(name="done", state="success")
    witness = sim.world.add_batch(name="still-running", state="running")
    reads = DetailsReads(sim.world, bid)
    cfg = make_config(sim, [bid, witness], watch={"interval_seconds": 0.1, "terminal_grace_seconds": 0.3})
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.finished"))
        (finished,) = run.of(bid, "batch.finished")
        assert finished.timestamp is not None
        # the grace, and the one poll it may have scheduled before it ran out
        over = datetime.fromisoformat(finished.timestamp).timestamp() + 0.3 + 0.1
        await run.wait_for(lambda: time.time() > over)
        await run.wait_polls(1)  # a poll under way when the grace ran out is done
        before = reads.count
        await run.wait_polls(5)  # the witness's: five slots the finished batch would have had
        run.stopped.set()
    assert before >= 1
    assert reads.count == before


async def test_gone_and_not_found(sim):
    """A batch seen and then removed is batch.gone; one the API never knew is batch.not_found, polled rarely."""
    world = sim.world
    bid = world.add_batch(name="short-lived", state="success")
    witness = world.add_batch(name="still-running", state="running")
    ghost = "00000000-0000-4000-8000-000000000000"
    async with anyio.create_task_group() as tg:
        cfg = make_config(
            sim,
            [bid, ghost, witness],
            watch={"interval_seconds": 0.1, "terminal_grace_seconds": 30.0, "not_found_interval_seconds": 30.0},
        )
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered") and run.of(ghost, "batch.not_found"))
        world.remove(bid)
        await run.wait_for(lambda: run.of(bid, "batch.gone"))
        await run.wait_polls(5)  # the witness's: time for a second gone or not_found to show, had there been one
        run.stopped.set()
    assert run.of(bid, "batch.gone")[0].fields["last_state"] == "success"
    assert names(run.of(ghost)) == ["batch.not_found"]
    assert len(run.of(bid, "batch.gone")) == 1


@pytest.mark.parametrize(
    ("kind", "params", "reason"),
    [
        ("status", {"status": 503}, "http"),
        ("throttle", {"retry_after": 0.1}, "throttled"),
        ("apig0308", {}, "throttled"),
        ("malformed", {}, "decode"),
        ("truncated", {}, "decode"),
        ("not_object", {}, "decode"),
        ("missing_field", {}, "decode"),
        ("wrong_type", {}, "decode"),
        ("drop", {}, "connect"),
    ],
)
async def test_faults_on_one_batch_never_stall_the_others(sim, kind, params, reason):
    """While one batch's polls fail, another progresses; the failure is reported once, then recovery."""
    world = sim.world
    bad = world.add_batch(name="flaky", state="running")
    good = world.add_batch(name="steady")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bad, good]))
        await run.wait_for(lambda: run.of(bad, "batch.discovered") and run.of(good, "batch.discovered"))
        world.inject(kind, bad, None, **params)
        await run.wait_for(lambda: run.of(bad, "batch.poll_failed"))
        world.set_state(good, "running")
        world.append_stdout(good, ["progress"])
        await run.wait_for(lambda: run.lines(good) == ["progress"])
        world.set_state(bad, "success")
        world.clear_faults()
        await run.wait_for(lambda: run.of(bad, "batch.finished"))
        run.stopped.set()
    failed = run.of(bad, "batch.poll_failed")
    assert len(failed) == 1
    assert failed[0].fields["reason"] == reason and failed[0].fields["attempts"] >= 1
    order = names(run.of(bad))
    assert order.index("batch.poll_failed") < order.index("batch.poll_recovered") < order.index("batch.finished")
    assert run.of(bad, "batch.state_changed")[-1].fields["from_state"] == "running"
    assert_seq_gapless(run.events)


async def test_two_shards_split_the_batches_between_them(sim):
    """Watchers on shards 0/2 and 1/2 of the same batch list discover disjoint sets whose union is all."""
    ids = [sim.world.add_batch(name=f"job-{i}") for i in range(12)]
    async with anyio.create_task_group() as tg:
        runs = [await start_watch(tg, make_config(sim, ids, watch={"shard": Shard(i, 2)})) for i in range(2)]
        for run in runs:
            await run.wait_for(lambda r=run: r.daemon.board.ready)  # type: ignore[misc]
        seen = [{e.batch_id for e in r.events if e.name == "batch.discovered"} for r in runs]
        for run in runs:
            run.stopped.set()
    assert seen[0].isdisjoint(seen[1])
    assert seen[0] | seen[1] == set(ids)
    assert seen[0] and seen[1]


async def test_restart_with_only_finished_batches_is_ready_and_reload_adds_nothing(sim, tmp_path):
    """Batches restored finished past their grace need no poll: readiness comes at once; a no-op reload adds none."""
    bid = sim.world.add_batch(name="done", state="success")
    cfg = make_config(sim, [bid], watch={"terminal_grace_seconds": 0.2}, state={"path": str(tmp_path / "s.db")})
    async with anyio.create_task_group() as tg:
        first = await start_watch(tg, cfg)
        await first.wait_for(lambda: first.of(bid, "batch.finished"))
        (finished,) = first.of(bid, "batch.finished")
        assert finished.timestamp is not None
        over = datetime.fromisoformat(finished.timestamp).timestamp() + 0.2
        await first.wait_for(lambda: time.time() > over)  # past its grace before the restart
        first.stopped.set()
    async with anyio.create_task_group() as tg:
        second = await start_watch(tg, cfg)
        await second.wait_for(lambda: second.daemon.board.ready, timeout=3)
        os.kill(os.getpid(), signal.SIGHUP)
        await second.wait_for(lambda: any(e.name == "watcher.reloaded" for e in second.events))
        second.stopped.set()
    reloaded = next(e for e in second.events if e.name == "watcher.reloaded")
    assert (reloaded.fields["added"], reloaded.fields["removed"]) == ([], [])
    assert not second.of(bid)
