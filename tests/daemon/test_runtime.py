"""The composition root: a frozen runtime built in one place and closed in reverse; reload asks served one at a time."""

from __future__ import annotations

import dataclasses
import io
import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.helpers import make_config
from watcher.config.settings import Config
from watcher.daemon.app import Daemon
from watcher.daemon.live import LiveConfig
from watcher.daemon.runtime import build_runtime
from watcher.daemon.signals import STOPPING, ReloadRequests
from watcher.daemon.store import Store
from watcher.output.writer import EventWriter
from watcher.web.server import bind

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from watcher.simulator import SimServer

pytestmark = pytest.mark.anyio


async def until_true(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait for progress, not for a time: the predicate is checked until it holds (or the test fails)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "no progress"
        await anyio.sleep(0.01)


async def test_the_runtime_is_frozen_and_its_parts_are_closed_in_reverse(sim: SimServer, tmp_path: Path) -> None:
    """Built in one place (port, state file, API, server); frozen; on exit the port and the state file are free."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid], state={"path": str(tmp_path / "state.db")})
    out = io.StringIO()
    daemon = Daemon(cfg, lambda: cfg, {}, writer=EventWriter.for_format("json", "info", out))
    async with build_runtime(daemon.basis, time.monotonic()) as runtime:
        with pytest.raises(dataclasses.FrozenInstanceError):
            runtime.store = None  # type: ignore[misc]
        assert runtime.store is not None and not runtime.started.is_set()
        host, port = runtime.server.address
        await runtime.start()
        assert runtime.started.is_set()
        await until_true(lambda: daemon.board.ready)
        runtime.tg.cancel_scope.cancel()
    names = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert names[0] == "watcher.started" and names[-1] == "watcher.stopped"
    bind(host, port).close()  # the listening socket was closed
    store, problem = Store.open(str(tmp_path / "state.db"), wait_seconds=0)  # and the state file's lock released
    store.close()
    assert problem is None


async def test_sighups_during_a_reload_make_one_more_and_a_post_gets_its_own_answer() -> None:
    """Three SIGHUPs while a reload runs make one reload after it; a POST then runs the next and gets its line."""
    live = LiveConfig(lifecycle_on())
    runs: list[int] = []
    gate = anyio.Event()

    async def reload() -> str | None:
        runs.append(len(runs) + 1)
        if len(runs) == 1:
            await gate.wait()
        return f"reload {len(runs)}"

    async with anyio.from_thread.BlockingPortal() as portal, anyio.create_task_group() as tg:
        reloads = ReloadRequests(live, portal)
        reloads.serve(tg, reload)
        reloads.hup()
        await until_true(lambda: runs == [1])
        for _ in range(3):
            reloads.hup()
        gate.set()
        await until_true(lambda: runs == [1, 2])
        post = reloads.lifecycle()
        assert post is not None
        assert await anyio.to_thread.run_sync(post) == "reload 3"  # not 4: the three SIGHUPs made one reload
        tg.cancel_scope.cancel()
    reloads.close()


async def test_a_post_waiting_when_the_watcher_stops_is_answered_stopping() -> None:
    """POSTs queued behind a stuck reload are not left hanging when SIGTERM cancels it: each is told it is stopping."""
    live = LiveConfig(lifecycle_on())
    answers: list[str | None] = []

    async def stuck() -> str | None:
        await anyio.sleep_forever()
        return None

    async with anyio.from_thread.BlockingPortal() as portal:
        reloads = ReloadRequests(live, portal)

        async def post() -> None:
            ask = reloads.lifecycle()
            assert ask is not None
            answers.append(await anyio.to_thread.run_sync(ask))

        async with anyio.create_task_group() as posts, anyio.create_task_group() as watcher:
            reloads.serve(watcher, stuck)
            posts.start_soon(post)
            posts.start_soon(post)
            # one reload stuck, the other POST queued behind it
            await until_true(lambda: reloads._asks.statistics().current_buffer_used == 1)
            watcher.cancel_scope.cancel()
        reloads.close()
    assert answers == [STOPPING, STOPPING]


async def test_the_lifecycle_api_off_gives_no_reload() -> None:
    """With metrics.enable_lifecycle off, POST /-/reload has nothing to call (the server answers 405)."""
    live = LiveConfig(Config())
    assert live.cfg.metrics.enable_lifecycle is False
    async with anyio.from_thread.BlockingPortal() as portal:
        reloads = ReloadRequests(live, portal)
        assert reloads.lifecycle() is None
        reloads.close()


def lifecycle_on() -> Config:
    """A config with POST /-/reload on; it never reaches a server (the reload asks need none)."""
    cfg = Config()
    return replace(cfg, metrics=replace(cfg.metrics, enable_lifecycle=True))


async def test_the_process_step_after_start_runs_once_after_watcher_ready(sim: SimServer) -> None:
    """``after_start`` (the run command's heap freeze) is called once, after watcher.ready is said, not before."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid])
    said: list[str] = []
    seen: list[list[str]] = []
    writer = EventWriter.for_format("json", "info", io.StringIO())
    daemon = Daemon(
        cfg, lambda: cfg, {}, lambda e: said.append(e.name), writer=writer, after_start=lambda: seen.append([*said])
    )
    async with build_runtime(daemon.basis, time.monotonic()) as runtime:
        await runtime.start()
        await until_true(lambda: seen)
        await until_true(lambda: daemon.basis.stats.polls >= 3)  # later polls call it no more
        runtime.tg.cancel_scope.cancel()
    assert len(seen) == 1
    assert "watcher.ready" in seen[0]
