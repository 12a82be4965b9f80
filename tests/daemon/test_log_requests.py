"""What reading the log endpoint costs: a finished batch whose window does not change is read once, not every poll."""

from __future__ import annotations

import anyio
import pytest

from tests.helpers import make_config, simulator, start_watch

pytestmark = pytest.mark.anyio

# a failed job's window: the header and nine lines of YARN diagnostics, stdout out of view
DIAGNOSTICS = [f"Application application_1622515365210_0423 failed: diagnostics line {i}" for i in range(9)]


@pytest.mark.parametrize("mode", ["details", "list"])
async def test_dead_job_costs_one_log_read_over_its_terminal_grace(mode):
    """Ten polls over the grace (the defaults' 15 s / 120 s, scaled): one log read, at the finish, not ten."""
    with simulator("dli") as server:
        world = server.world
        bid = world.add_batch(name="nightly", state="running")
        world.set_diagnostics(bid, DIAGNOSTICS)
        world.set_state(bid, "dead")
        cfg = make_config(server, [bid], watch={"interval_seconds": 0.2, "terminal_grace_seconds": 1.6, "mode": mode})
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            # most of the grace's polls (about nine), counted rather than timed: a slow machine polls less often
            await run.wait_for(lambda: server.requests["details"] + server.requests["list"] >= 8, timeout=30)
            run.stopped.set()
    polls = server.requests["details"] + server.requests["list"]
    assert polls >= 8
    assert server.requests["log"] == 1
    assert run.lines(bid, "diagnostics") == DIAGNOSTICS
    assert not run.of(bid, "batch.log_gap")
