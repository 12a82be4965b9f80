"""SIGHUP, section by section: each changed key is applied to the running watcher or named in restart_required."""

from __future__ import annotations

import json
import os
import re
import signal
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from tests.helpers import DetailsReads, WatchRun, make_config, start_watch
from watcher.config.credentials import AuthConfig
from watcher.config.flags import Flags
from watcher.config.reloadable import APPLIED, LOWER_ONLY, changed_keys, config_keys, restart_required
from watcher.config.settings import Config, DiscoveryConfig
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from watcher.simulator import SimServer

pytestmark = pytest.mark.anyio


def with_section(cfg: Config, section: str, **values: Any) -> Config:
    """``cfg`` with some fields of one section replaced."""
    return replace(cfg, **{section: replace(getattr(cfg, section), **values)})


async def reload_to(run: WatchRun, new: Config, holder: list[Config]) -> dict[str, Any]:
    """Send SIGHUP with ``new`` as the re-read config; the fields of the resulting `watcher.reloaded`."""
    holder[0] = new
    before = sum(1 for e in run.events if e.name == "watcher.reloaded")
    os.kill(os.getpid(), signal.SIGHUP)
    await run.wait_for(lambda: sum(1 for e in run.events if e.name == "watcher.reloaded") > before)
    return [e for e in run.events if e.name == "watcher.reloaded"][-1].fields


async def start(tg: Any, cfg: Config) -> tuple[WatchRun, list[Config]]:
    """A watcher whose reloads read whatever config the returned holder has."""
    holder = [cfg]
    run = await start_watch(tg, cfg, lambda: holder[0])
    return run, holder


def test_the_readme_says_of_every_key_whether_a_reload_applies_it():
    """The README's reload table lists every config key once, under the row that matches the code."""
    rows: dict[str, set[str]] = {}
    for line in (Path(__file__).resolve().parents[2] / "README.md").read_text().splitlines():
        if line.startswith("| reload: "):
            row, listed = line.split("|")[1:3]
            rows[row.strip()] = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", listed))
    keys = config_keys(Config())
    assert rows["reload: applied at once"] == set(APPLIED)
    assert rows["reload: applied when lowered"] == set(LOWER_ONLY)
    assert rows["reload: restart required"] == set(keys) - APPLIED - LOWER_ONLY
    assert set(APPLIED) | LOWER_ONLY <= set(keys)


def test_changed_keys_use_the_config_file_names():
    """Fields stored under another name are reported by the key the operator wrote."""
    old = Config()
    assert changed_keys(old, old) == []
    assert "metrics.listen" in changed_keys(old, with_section(old, "metrics", port=1))
    assert "discovery.created_after" in changed_keys(old, with_section(old, "discovery", created_after_ms=5))
    assert restart_required(old, with_section(old, "watch", concurrency=4)) == []
    assert restart_required(old, with_section(old, "watch", concurrency=64)) == ["watch.concurrency"]
    assert APPLIED.isdisjoint(LOWER_ONLY)


async def test_api_section_applies_retries_and_timeout_and_names_the_endpoint(sim: SimServer):
    """[api]: retry and timeout settings apply at once; a new endpoint needs a restart and the old one is kept."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid])
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        new = with_section(cfg, "api", max_attempts=1, timeout_seconds=1.0, endpoint="http://127.0.0.1:9")
        fields = await reload_to(run, new, holder)
        sim.world.append_stdout(bid, ["still read from the old endpoint"])
        await run.wait_for(lambda: run.lines(bid) == ["still read from the old endpoint"])
        run.stopped.set()
    assert fields["restart_required"] == ["api.endpoint"]


async def test_auth_section_is_named_never_echoed(sim: SimServer):
    """[auth]: credentials are set up once; a changed secret is named by its key, its value never shown."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid])
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        fields = await reload_to(run, replace(cfg, auth=AuthConfig(method="token", token="s3cr3t-tok")), holder)
        run.stopped.set()
    assert fields["restart_required"] == ["auth.method", "auth.token"]
    assert "s3cr3t-tok" not in run.out.getvalue()


async def test_watch_section_applies_the_interval_and_names_a_raised_concurrency(sim: SimServer):
    """[watch]: a longer interval slows polling at once; concurrency above the start value needs a restart."""
    bid = sim.world.add_batch(name="job", state="running")
    reads = DetailsReads(sim.world, bid)
    # a batch the API does not know is re-tried at its own interval, which the reload leaves: the test's clock
    ghost = "00000000-0000-4000-8000-000000000000"
    cfg = make_config(sim, [bid, ghost], watch={"not_found_interval_seconds": 0.1})
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered") and run.of(ghost, "batch.not_found"))
        slow = with_section(cfg, "watch", interval_seconds=30.0, concurrency=cfg.watch.concurrency * 4)
        fields = await reload_to(run, slow, holder)
        await run.wait_polls(2)  # a poll already due may still run
        before = reads.count
        await run.wait_polls(10)  # the ghost's, 1 s: at the old 0.2 s interval about five polls of the batch
        polled = reads.count - before
        lowered = await reload_to(run, with_section(slow, "watch", concurrency=1), holder)
        run.stopped.set()
    assert polled <= 1
    assert fields["restart_required"] == ["watch.concurrency"]
    assert lowered["restart_required"] == []


async def test_metrics_and_state_sections_are_named(sim: SimServer, tmp_path):
    """[metrics] listen and [state] path are bound at start: both are named, the old ones kept."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid], state={"path": str(tmp_path / "a.db")})
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        moved = with_section(with_section(cfg, "metrics", port=1), "state", path=str(tmp_path / "b.db"))
        fields = await reload_to(run, moved, holder)
        run.stopped.set()
    assert fields["restart_required"] == ["metrics.listen", "state.path"]
    assert not (tmp_path / "b.db").exists()


async def test_events_section_applies_the_level_and_names_the_format(sim: SimServer):
    """[events]: a new level filters the stream at once; a new format needs a restart."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid])
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        fields = await reload_to(run, with_section(cfg, "events", level="warning", format="console"), holder)
        sim.world.append_stdout(bid, ["an info event now below the level"])
        await run.wait_for(lambda: run.lines(bid))
        run.stopped.set()  # the stop drains the output: what was queued is in run.out afterwards
    written = [json.loads(line) for line in run.out.getvalue().splitlines()]
    assert fields["restart_required"] == ["events.format"]
    assert not [e for e in written if e["event"] == "batch.log"]


async def test_discovery_section_turns_discovery_on_and_off(sim: SimServer):
    """[discovery]: enabling it finds matching batches at once; disabling it drops them again."""
    listed = sim.world.add_batch(name="listed", state="running")
    found = sim.world.add_batch(name="etl-nightly", state="running")
    cfg = make_config(sim, [listed])
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        await run.wait_for(lambda: run.of(listed, "batch.discovered"))
        rules = DiscoveryConfig(enabled=True, job_name="etl-*", interval_seconds=3600.0)
        on = await reload_to(run, replace(cfg, discovery=rules), holder)
        await run.wait_for(lambda: run.of(found, "batch.discovered"))
        assert found in run.daemon.board.tracks
        off = await reload_to(run, cfg, holder)
        await run.wait_for(lambda: found not in run.daemon.board.tracks)
        run.stopped.set()
    assert on["restart_required"] == [] and off["restart_required"] == []


def metric_value(text: str, name: str) -> float:
    """The value of an unlabelled sample in an exposition."""
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


async def test_two_sighups_in_a_row_still_name_what_waits_for_a_restart(sim: SimServer):
    """restart_required compares with the running process: a second SIGHUP still names the unapplied listen change."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid])
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        moved = with_section(cfg, "metrics", port=1)
        first = await reload_to(run, moved, holder)
        second = await reload_to(run, moved, holder)
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(run.metrics_url + "/metrics")).text  # the old port still serves
        back = await reload_to(run, cfg, holder)
        async with httpx.AsyncClient() as client:
            after = (await client.get(run.metrics_url + "/metrics")).text
        run.stopped.set()
    assert first["restart_required"] == second["restart_required"] == ["metrics.listen"]
    assert metric_value(metrics, "dli_watcher_config_restart_required") == 1
    assert metric_value(metrics, "dli_watcher_config_last_reload_successful") == 1
    assert back["restart_required"] == []
    assert metric_value(after, "dli_watcher_config_restart_required") == 0


async def test_a_lowered_level_never_hides_the_watchers_own_events(sim: SimServer):
    """events.level = "error" filters batch events, never watcher.reloaded (lifecycle events are always written)."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid])
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        await reload_to(run, with_section(cfg, "events", level="error"), holder)
        await reload_to(
            run, with_section(cfg, "events", level="error", buffer_lines=cfg.events.buffer_lines + 1), holder
        )
        run.stopped.set()
    written = [e["event"] for e in run.json_lines()]
    assert written.count("watcher.reloaded") == 2


async def test_a_failed_reload_shows_in_the_metrics_and_post_reload_answers(sim: SimServer, tmp_path):
    """POST /-/reload: 405 while off; on, 200 or 500 with the error line, and the reload gauges follow."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid])
    broken = [False]

    def reread() -> Config:
        if broken[0]:
            raise ConfigError("watch.interval_seconds", "must be > 0, got -1")
        return holder[0]

    holder = [cfg]
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg, reread)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        async with httpx.AsyncClient(base_url=run.metrics_url) as client:
            off = await client.post("/-/reload")
            holder[0] = with_section(cfg, "metrics", enable_lifecycle=True)
            on = await reload_to(run, holder[0], holder)
            ok = await client.post("/-/reload")
            broken[0] = True
            failed = await client.post("/-/reload")
            metrics = (await client.get("/metrics")).text
        run.stopped.set()
    assert on["restart_required"] == []
    assert off.status_code == 405
    assert ok.status_code == 200
    assert failed.status_code == 500
    assert failed.text == "watch.interval_seconds: must be > 0, got -1\n"
    assert metric_value(metrics, "dli_watcher_config_last_reload_successful") == 0
    assert metric_value(metrics, "dli_watcher_config_last_reload_success_timestamp_seconds") > 0


def test_a_flag_beats_the_file_and_is_never_in_restart_required():
    """--web.listen-address and --log.level hold at start and on reload: a file change under them needs no restart."""
    flags = Flags(listen="127.0.0.1:9999", level="warn", enable_lifecycle=True)
    started = flags.apply(Config())
    edited = with_section(with_section(Config(), "metrics", port=1234), "events", level="debug")
    reloaded = flags.apply(edited)
    assert (started.metrics.port, started.events.level, started.metrics.enable_lifecycle) == (9999, "warning", True)
    assert restart_required(started, reloaded) == []
    assert reloaded.events.level == "warning"


async def test_reloaded_names_at_most_100_ids_and_counts_them_all(sim: SimServer):
    """150 IDs added, then removed: each list holds the first 100, the counts say 150, truncated says so."""
    cfg = make_config(sim, [])
    many = tuple(str(uuid.UUID(int=n + 1)) for n in range(150))
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, cfg)
        grown = await reload_to(run, with_section(cfg, "watch", batch_ids=many), holder)
        shrunk = await reload_to(run, cfg, holder)
        run.stopped.set()
    assert grown["added"] == list(many[:100]) and grown["added_count"] == 150 and grown["truncated"] is True
    assert grown["removed"] == [] and grown["removed_count"] == 0
    assert len(shrunk["removed"]) == 100 and shrunk["removed_count"] == 150 and shrunk["truncated"] is True
