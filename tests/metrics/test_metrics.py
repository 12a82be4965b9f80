"""/metrics, /healthz and /readyz of a running watcher, checked sample by sample."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import anyio
import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import make_config, start_watch
from tests.tools import SPEC_METRICS
from watcher.core.states import FLAVOR_STATES, METRIC_STATES
from watcher.metrics.collectors import transitions_family

pytestmark = pytest.mark.anyio
# today's full per-batch families (one-hot state, every timestamp, age, up): the default is "compact"
ALL = {"per_batch": "all"}


async def scrape(run) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient() as client:
        resp = await client.get(run.metrics_url + "/metrics")
    resp.raise_for_status()
    samples = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def series(samples, name, batch_id):
    return [k for k in samples if k[0] == name and ("batch_id", batch_id) in k[1]]


async def test_samples_follow_the_batch_through_its_life(sim):
    """State one-hot, timestamps, age, up (0 during a fault), transitions and per-job series are exact."""
    world = sim.world
    bid = world.add_batch(name="etl", queue="q1", owner="alice")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid], watch={"terminal_grace_seconds": 5.0}, metrics=ALL))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        world.set_state(bid, "running")
        await run.wait_for(lambda: run.of(bid, "batch.state_changed"))
        samples = await scrape(run)
        for state in FLAVOR_STATES["dli"]:
            assert value(samples, "dli_batch_state", batch_id=bid, state=state) == (1.0 if state == "running" else 0.0)
        # a DLI batch gets no series for Livy-only states
        assert value(samples, "dli_batch_state", batch_id=bid, state="idle") is None
        assert set(METRIC_STATES) > set(FLAVOR_STATES["dli"])
        details = world.details(bid)
        assert value(samples, "dli_batch_created_timestamp_seconds", batch_id=bid) == details["create_time"] / 1000
        assert value(samples, "dli_batch_updated_timestamp_seconds", batch_id=bid) == details["update_time"] / 1000
        age = value(samples, "dli_batch_update_age_seconds", batch_id=bid)
        assert 0 <= age < time.time() - details["update_time"] / 1000 + 1
        since = value(samples, "dli_batch_state_since_timestamp_seconds", batch_id=bid)
        assert details["update_time"] / 1000 - 1 < since <= time.time()
        assert (
            value(
                samples,
                "dli_batch_info",
                batch_id=bid,
                job_name="etl",
                queue="q1",
                owner="alice",
                kind=details["kind"],
                sc_type=details["sc_type"],
            )
            == 1.0
        )
        assert value(samples, "dli_batch_up", batch_id=bid) == 1.0
        assert value(samples, "dli_batch_transitions_total", queue="q1", to_state="running") == 1.0

        world.inject("status", bid, None, status=502)
        await run.wait_for(lambda: run.of(bid, "batch.poll_failed"))
        assert value(await scrape(run), "dli_batch_up", batch_id=bid) == 0.0
        world.clear_faults()
        await run.wait_for(lambda: run.of(bid, "batch.poll_recovered"))
        assert value(await scrape(run), "dli_batch_up", batch_id=bid) == 1.0

        world.set_state(bid, "success")
        await run.wait_for(lambda: run.of(bid, "batch.finished"))
        samples = await scrape(run)
        run.stopped.set()
    finish = world.details(bid)["update_time"] / 1000
    assert value(samples, "dli_job_last_success_timestamp_seconds", job_name="etl") == finish
    assert value(samples, "dli_job_last_outcome", job_name="etl", outcome="succeeded") == 1.0
    assert value(samples, "dli_job_last_outcome", job_name="etl", outcome="failed") == 0.0
    assert value(samples, "dli_batch_transitions_total", queue="q1", to_state="success") == 1.0
    assert value(samples, "dli_watcher_poll_failures_total", reason="http") >= 1
    assert value(samples, "dli_watcher_events_total", event="batch.finished") == 1.0
    assert value(samples, "dli_watcher_watched_batches") == 1.0
    assert value(samples, "dli_watcher_last_successful_poll_timestamp_seconds") > time.time() - 10


async def test_job_series_count_batches_already_finished_when_first_seen(sim):
    """A batch first seen dead still sets its job's last outcome to failed, once the terminal grace is over."""
    bid = sim.world.add_batch(name="legacy", state="dead")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid], watch={"terminal_grace_seconds": 0.3}))
        await run.wait_for(lambda: "legacy" in run.daemon.board.jobs)
        samples = await scrape(run)
        run.stopped.set()
    assert value(samples, "dli_job_last_outcome", job_name="legacy", outcome="failed") == 1.0
    assert value(samples, "dli_job_last_success_timestamp_seconds", job_name="legacy") is None


async def test_finished_batches_leave_after_retention_and_removed_ones_at_once(sim):
    """No stale series: a finished batch's series go after the retention, an unwatched one's immediately."""
    world = sim.world
    done = world.add_batch(name="done", state="success")
    kept = world.add_batch(name="kept", state="running")
    cfg = make_config(sim, [done, kept], watch={"terminal_grace_seconds": 0.2}, metrics=ALL)
    # the retention is applied on reload: lowered, it is over for `done` without waiting out a long one
    shorter = replace(cfg, watch=replace(cfg.watch, retention_seconds=0.3))
    smaller = replace(shorter, watch=replace(shorter.watch, batch_ids=(done,)))
    configs = iter([shorter, smaller])
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg, reload=lambda: next(configs))
        await run.wait_for(lambda: run.of(done, "batch.finished") and run.of(kept, "batch.discovered"))
        assert series(await scrape(run), "dli_batch_state", done)
        await reload_once(run)
        samples = await scrape(run)
        while series(samples, "dli_batch_state", done):  # younger than 0.3 s still: its retention is not over
            await run.wait_polls(1)
            samples = await scrape(run)
        assert not series(samples, "dli_batch_state", done) and not series(samples, "dli_batch_up", done)
        assert value(samples, "dli_job_last_outcome", job_name="done", outcome="succeeded") == 1.0
        assert series(samples, "dli_batch_state", kept)
        await reload_once(run)
        assert not series(await scrape(run), "dli_batch_state", kept)
        run.stopped.set()


async def reload_once(run) -> None:
    """SIGHUP, and wait until that reload is done."""
    before = sum(e.name == "watcher.reloaded" for e in run.events)
    os.kill(os.getpid(), signal.SIGHUP)
    await run.wait_for(lambda: sum(e.name == "watcher.reloaded" for e in run.events) > before)


async def test_openmetrics_when_asked(sim):
    """An OpenMetrics Accept header gets the OpenMetrics format, ending in # EOF, that an OpenMetrics parser reads."""
    bid = sim.world.add_batch(name="om")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid], metrics=ALL))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        async with httpx.AsyncClient() as client:
            resp = await client.get(
                run.metrics_url + "/metrics",
                headers={"Accept": "application/openmetrics-text; version=1.0.0"},
            )
        run.stopped.set()
    assert resp.headers["content-type"].startswith("application/openmetrics-text")
    assert resp.text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics_families(resp.text)}
    # OpenMetrics names a counter's family without its _total suffix
    assert {name.removesuffix("_total") for name in SPEC_METRICS} <= families.keys()
    assert families["dli_watcher_polls"].type == "counter"
    assert [s.name for s in families["dli_watcher_polls"].samples] == ["dli_watcher_polls_total"]
    assert families["dli_watcher_polls"].samples[0].value >= 1
    assert families["dli_watcher_poll_duration_seconds"].type == "histogram"
    states = {s.labels["state"]: s.value for s in families["dli_batch_state"].samples if s.labels["batch_id"] == bid}
    assert [state for state, v in states.items() if v == 1] == ["starting"]
    info = [s for s in families["dli_batch_info"].samples if s.labels["batch_id"] == bid]
    assert [(s.labels["job_name"], s.value) for s in info] == [("om", 1)]


async def test_health_ready_and_landing(sim):
    """/readyz is 503 until the first poll cycle completes, then 200; /healthz is 200; / links the rest."""
    bid = sim.world.add_batch(name="slow")
    sim.world.inject("latency", bid, 1, seconds=1.0)
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid]))
        async with httpx.AsyncClient(base_url=run.metrics_url) as client:
            before = (await client.get("/readyz")).status_code
            await run.wait_for(lambda: run.daemon.board.ready)  # the first cycle is complete
            after = (await client.get("/readyz")).status_code
            health = (await client.get("/healthz")).status_code
            landing = await client.get("/")
            missing = (await client.get("/nope")).status_code
        run.stopped.set()
    assert (before, after, health, missing) == (503, 200, 200, 404)
    assert 'href="/metrics"' in landing.text


async def test_throttling_is_not_ready_but_still_healthy(sim):
    """While a 429's Retry-After pauses the client, /readyz is 503 and dli_watcher_throttled 1; /healthz stays 200."""
    bid = sim.world.add_batch(name="busy")
    api = {"backoff_max_seconds": 3.0, "max_attempts": 2}
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid], api=api))
        async with httpx.AsyncClient(base_url=run.metrics_url) as client:
            await run.wait_for(lambda: run.daemon.board.ready)
            sim.world.inject("throttle", bid, None, retry_after=3600)
            await run.wait_for(lambda: run.daemon.board.throttled(time.monotonic()))
            ready = await client.get("/readyz")
            health = (await client.get("/healthz")).status_code
            throttled = _value(await client.get("/metrics"), "dli_watcher_throttled")
            # once the API stops throttling, its hour-long Retry-After (capped at 3 s) ends the pause soon
            sim.world.clear_faults()
            await run.wait_for(lambda: not run.daemon.board.throttled(time.monotonic()), timeout=5)
        run.stopped.set()
    reason = ready.text.splitlines()[0]  # the second line counts the batches
    assert (ready.status_code, reason, health, throttled) == (503, "throttled by the API", 200, 1.0)


def _value(response: httpx.Response, name: str) -> float:
    """The value of an unlabelled sample in a /metrics response."""
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} not in /metrics")


def test_transitions_to_different_unknown_states_share_one_series():
    """Two undocumented target states count into one to_state="unknown" series, never two with one label set."""
    family = transitions_family({("q", "weird"): 1, ("q", "odd"): 2, ("q", "running"): 4})
    assert sorted((s.labels["to_state"], s.value) for s in family.samples) == [("running", 4.0), ("unknown", 3.0)]


async def test_runs_count_once_across_restarts_and_batches_final_while_stopped_count_at_start(sim, tmp_path):
    """A counted success is not counted again after a restart; a batch that became final while stopped counts once."""
    world = sim.world
    ok = world.add_batch(name="etl", queue="q1", state="starting")
    dead = world.add_batch(name="etl", queue="q1", state="running")
    state = {"path": str(tmp_path / "state.db")}
    cfg = make_config(sim, [ok, dead], state=state, watch={"terminal_grace_seconds": 30.0}, metrics=ALL)
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: run.of(ok, "batch.discovered") and run.of(dead, "batch.discovered"))
        world.set_state(ok, "running")
        await run.wait_for(lambda: run.of(ok, "batch.state_changed"))
        world.set_state(ok, "success")
        world.set_state(dead, "dead")
        # both seen final (each batch has its own slot in the interval): the dead one within its grace
        await run.wait_for(lambda: run.daemon.board.jobs.get("etl") is not None and run.of(dead, "batch.finished"))
        run.stopped.set()  # the dead batch is still within its grace: not counted yet
    assert run.daemon.board.jobs["etl"].runs == (("succeeded", 1),)
    # restarted with a grace the dead batch is past: it became final while the watcher was stopped
    past = replace(cfg, watch=replace(cfg.watch, terminal_grace_seconds=0.01))
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, past)
        await run.wait_for(lambda: run.daemon.board.ready)
        samples = await scrape(run)
        run.stopped.set()
    assert value(samples, "dli_job_runs_total", job_name="etl", outcome="succeeded") == 1.0
    assert value(samples, "dli_job_runs_total", job_name="etl", outcome="failed") == 1.0
    assert value(samples, "dli_job_duration_seconds_count", queue="q1", outcome="succeeded") == 1.0
    assert value(samples, "dli_job_queue_wait_seconds_count", queue="q1", outcome="succeeded") == 1.0
    assert value(samples, "dli_job_queue_wait_seconds_count", queue="q1", outcome="failed") is None
    assert value(samples, "dli_job_last_outcome", job_name="etl", outcome="failed") == 1.0
    assert value(samples, "dli_job_last_failure_timestamp_seconds", job_name="etl") is not None
    assert value(samples, "dli_batch_started_timestamp_seconds", batch_id=ok) is not None
    assert value(samples, "dli_batch_started_timestamp_seconds", batch_id=dead) is None


async def test_a_never_found_id_is_visible_and_the_standard_families_are_there(sim):
    """A typo'd ID has its watch status from the first poll; process, python_info and build_info are exposed."""
    good = sim.world.add_batch(name="good", state="running")
    typo = "0badc0de-0000-4000-8000-000000000009"
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [good, typo]))
        # each batch's first poll has its own slot in the interval: wait for both, not only the typo's
        await run.wait_for(lambda: run.of(typo, "batch.not_found") and run.of(good, "batch.discovered"))
        samples = await scrape(run)
        run.stopped.set()
    assert value(samples, "dli_batch_watch_status", batch_id=typo, status="not_found") == 1.0
    assert value(samples, "dli_batch_watch_status", batch_id=good, status="ok") == 1.0
    assert value(samples, "dli_watcher_batches", status="not_found") == 1.0
    assert value(samples, "dli_batches", queue="default", state="running") == 1.0
    assert series(samples, "dli_batch_info", typo) == []
    names = {name for name, _ in samples}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"} <= names
    (build,) = [dict(labels) for name, labels in samples if name == "dli_watcher_build_info"]
    assert set(build) == {"version", "revision", "python_version"}


async def test_per_batch_mode_and_denylist_from_the_config(sim):
    """per_batch = "none" leaves only the watch status per batch; a denylisted family is gone, process ones too."""
    bid = sim.world.add_batch(name="quiet", state="running")
    metrics = {"per_batch": "none", "metric_denylist": ("^process_", "^dli_watcher_poll_duration_seconds$")}
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid], metrics=metrics))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        samples = await scrape(run)
        run.stopped.set()
    assert [name for name, labels in samples if ("batch_id", bid) in labels] == ["dli_batch_watch_status"]
    names = {name for name, _ in samples}
    assert not any(name.startswith(("process_", "dli_watcher_poll_duration_seconds")) for name in names)
    assert {"dli_batches", "dli_watcher_polls_total", "python_info"} <= names
