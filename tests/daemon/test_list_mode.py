"""List polling gives the event stream of detail polling for a fraction of the requests, from a cold start too."""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import replace

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import assert_seq_gapless, make_config, simulator, start_watch

pytestmark = pytest.mark.anyio
IDS = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, 9)]
VOLATILE = {"previous_state_seconds", "duration_seconds", "update_time", "create_time", "failed_seconds", "app_id"}


def normalised(events):
    out = []
    for e in events:
        if e.batch_id is None:
            continue
        fields = {k: v for k, v in e.fields.items() if k not in VOLATILE}
        if "changes" in fields:
            fields["changes"] = sorted(fields["changes"])
        out.append((e.batch_id, e.seq, e.name, fields))
    return sorted(out, key=lambda t: (t[0], t[1]))


async def story(mode: str):
    """A fixed story over 8 batches in two queues; returns the events and the server's request counts."""
    with simulator("dli") as server:
        world = server.world
        for n, bid in enumerate(IDS):
            world.add_batch(bid, name=f"job-{n}", queue="q1" if n % 2 else "q2", state="starting")
        cfg = make_config(server, IDS, watch={"mode": mode, "list_page_size": 3, "terminal_grace_seconds": 30.0})
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)

            async def step(action, done):
                action()
                await run.wait_for(done)

            await run.wait_for(lambda: all(run.of(b, "batch.discovered") for b in IDS))
            for bid in IDS:
                world.set_state(bid, "running")
            await run.wait_for(lambda: all(run.of(b, "batch.state_changed") for b in IDS))
            await step(lambda: world.append_stdout(IDS[0], ["a", "b"]), lambda: len(run.lines(IDS[0])) == 2)
            burst = [f"burst {i}" for i in range(30)]
            await step(lambda: world.append_stdout(IDS[1], burst), lambda: len(run.lines(IDS[1])) == 30)
            await step(lambda: world.set_field(IDS[2], "name", "renamed"), lambda: run.of(IDS[2], "batch.changed")[1:])
            await step(lambda: world.remove(IDS[3]), lambda: run.of(IDS[3], "batch.gone"))
            world.set_diagnostics(IDS[4], ["boom"])
            await step(lambda: world.set_state(IDS[4], "dead"), lambda: run.of(IDS[4], "batch.finished"))
            await step(lambda: world.set_state(IDS[5], "success"), lambda: run.of(IDS[5], "batch.finished"))
            await run.wait_polls(len(IDS))
            run.stopped.set()
        return run.events, dict(server.requests)


async def test_list_mode_stream_equals_detail_mode_stream():
    """The same story polled by details and by list pages gives the same per-batch events, seq for seq."""
    details, detail_requests = await story("details")
    listed, list_requests = await story("list")
    assert normalised(listed) == normalised(details)
    assert_seq_gapless(listed)
    assert list_requests.get("list", 0) > 0 and detail_requests.get("list", 0) == 0
    assert list_requests.get("details", 0) < detail_requests["details"] / 3


QUEUES = ("etl", "ml", "adhoc")
COLD_PAGE = 5


def fixed_id(n: int) -> str:
    return f"{n:08x}-1111-4000-8000-{n:012x}"


def cold_world(world) -> list[str]:
    """24 batches in three queues at every stage of life, one created before the look-back, one ID nobody knows."""
    ids = [fixed_id(n) for n in range(1, 25)]
    for n, bid in enumerate(ids):
        world.add_batch(bid, name=f"job-{n % 4}", queue=QUEUES[n % 3], state="starting")
    for bid in ids[::4]:
        world.set_state(bid, "running")
        world.append_stdout(bid, [f"{bid[:8]} step {i}" for i in range(30)])  # past the 10-line window
    world.set_state(ids[1], "success")
    world.set_diagnostics(ids[2], ["boom"])
    world.set_state(ids[2], "dead")
    old = fixed_id(100)
    world.add_batch(old, name="old", queue="etl", state="running", create_time=world.now_ms() - 10 * 86400 * 1000)
    return [*ids, old, fixed_id(200)]


async def metric_samples(run, name: str) -> dict[str, float]:
    """One family's samples by their only label's value."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(run.metrics_url + "/metrics")).text
    family = next(f for f in text_string_to_metric_families(text) if f.name == name)
    return {next(iter(s.labels.values())): s.value for s in family.samples}


def ready_event(run):
    return next(e for e in run.events if e.name == "watcher.ready")


async def cold_start(mode: str):
    """A first cycle without a state file; the events, watcher.ready, the request metric and the server's counts."""
    with simulator("dli") as server:
        ids = cold_world(server.world)
        # a grace far longer than the first cycle: the dead batch's outcome never races readiness
        watch = {"mode": mode, "list_page_size": COLD_PAGE, "terminal_grace_seconds": 30.0}
        cfg = make_config(server, ids, watch=watch)
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            await run.wait_for(lambda: any(e.name == "watcher.ready" for e in run.events))
            before = dict(server.requests)
            requests = await metric_samples(run, "dli_watcher_api_requests")
            run.stopped.set()
        # the server's counts on both sides of the scrape: polls go on while it is read
        return run.events, ready_event(run).fields, requests, (before, dict(server.requests))


async def test_cold_first_cycle_in_list_mode_equals_detail_mode():
    """A cold first cycle gives the same events by pages as by details; details serve only what no page has."""
    # only the batch created before the look-back and the ID nobody knows are read by details; the
    # world does not change, so later cycles add nothing to compare
    details, detail_ready, _, _ = await cold_start("details")
    listed, list_ready, metric, (served_before, served) = await cold_start("list")
    assert normalised(listed) == normalised(details)
    assert_seq_gapless(listed)
    assert detail_ready["batches"] == list_ready["batches"] == 26
    # detail polling may have begun second polls by then; list mode runs one cycle at a time
    assert detail_ready["details_requests"] >= 26
    assert detail_ready["list_requests"] == 0
    assert list_ready["details_requests"] == 2
    assert list_ready["list_requests"] == math.ceil(24 / COLD_PAGE)
    assert list_ready["log_requests"] == detail_ready["log_requests"] > 0
    # the metric counts on after readiness, as the server does
    assert list_ready["list_requests"] <= metric["list"] <= served["list"]
    assert served_before["details"] <= metric["details"] <= served["details"]


async def test_discovery_first_run_is_part_of_the_first_cycle_and_read_by_queue(sim):
    """Readiness waits for discovery's first run; what it found is read from its queues' pages, not by details."""
    ids = [fixed_id(n) for n in range(1, 13)]
    for n, bid in enumerate(ids):
        sim.world.add_batch(bid, name=f"etl-{n}", queue=("q1", "q2")[n % 2], state="running")
    discovery = {"enabled": True, "interval_seconds": 60.0}
    cfg = make_config(sim, [], watch={"mode": "list", "list_page_size": COLD_PAGE}, discovery=discovery)
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: any(e.name == "watcher.ready" for e in run.events))
        run.stopped.set()
    ready = ready_event(run).fields
    assert ready["batches"] == len(ids)
    assert all(run.of(b, "batch.discovered") for b in ids)
    # discovery's three pages, then two pages per queue
    assert (ready["details_requests"], ready["list_requests"]) == (0, 3 + 2 + 2)


async def test_reload_adding_many_ids_sweeps_instead_of_reading_details(sim):
    """Batches a reload adds are found by a sweep too: the reload costs list pages, no details."""
    ids = [fixed_id(n) for n in range(1, 17)]
    for bid in ids:
        sim.world.add_batch(bid, queue="q1", state="running")
    cfg = make_config(sim, ids[:1], watch={"mode": "list", "list_page_size": COLD_PAGE})
    bigger = replace(cfg, watch=replace(cfg.watch, batch_ids=tuple(ids)))
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg, reload=lambda: bigger)
        await run.wait_for(lambda: any(e.name == "watcher.ready" for e in run.events))
        before = sim.requests["details"]
        os.kill(os.getpid(), signal.SIGHUP)
        await run.wait_for(lambda: all(run.of(b, "batch.discovered") for b in ids))
        after = sim.requests["details"]
        run.stopped.set()
    assert after == before


async def test_livy_cold_first_cycle_reads_one_unfiltered_listing(livy_sim):
    """On Livy the never-polled batches are found in the plain listing, with no details."""
    world = livy_sim.world
    ids = [world.add_batch(name=f"job-{n}", state="running") for n in range(12)]
    cfg = make_config(livy_sim, ids, watch={"mode": "list", "list_page_size": COLD_PAGE})
    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: any(e.name == "watcher.ready" for e in run.events))
        run.stopped.set()
    ready = ready_event(run).fields
    assert (ready["batches"], ready["details_requests"], ready["list_requests"]) == (12, 0, 3)
    assert 0 <= ready["seconds"] <= time.monotonic() - started


async def test_a_restart_with_a_state_file_reads_only_the_watched_queues(sim, tmp_path):
    """Cold, the sweep pages through every queue; restarted over the state file, only the watched batches' queue."""
    for n in range(20):
        sim.world.add_batch(fixed_id(500 + n), queue="other", state="running")  # older, and not watched
    ids = [fixed_id(n) for n in range(1, 13)]
    for bid in ids:
        sim.world.add_batch(bid, queue="q1", state="running")
    cfg = make_config(
        sim, ids, watch={"mode": "list", "list_page_size": COLD_PAGE}, state={"path": str(tmp_path / "s")}
    )
    readies = []
    for _ in ("cold", "warm"):
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            await run.wait_for(lambda: any(e.name == "watcher.ready" for e in run.events))  # noqa: B023
            run.stopped.set()
        readies.append(ready_event(run).fields)
    cold, warm = readies
    assert (cold["list_requests"], cold["details_requests"]) == (math.ceil(32 / COLD_PAGE), 0)
    assert (warm["list_requests"], warm["details_requests"]) == (math.ceil(12 / COLD_PAGE), 0)
