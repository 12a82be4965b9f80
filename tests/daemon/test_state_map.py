"""A Livy-compatible gateway's own terminal state, mapped by ``[api] state_map``, finishes the batch end to end."""

from __future__ import annotations

import time
from datetime import datetime

import anyio
import pytest

from tests.helpers import DetailsReads, make_config, simulator, start_watch

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mapped", [True, False])
async def test_a_gateway_finished_state_ends_polling_only_when_mapped(mapped):
    """'finished' mapped to success: batch.finished, then no polls after the grace. Unmapped: unknown, polled on."""
    with simulator("livy") as server:
        world = server.world
        bid = world.add_batch(name="gateway-job", state="running")
        witness = world.add_batch(name="still-running", state="running")
        reads = DetailsReads(world, bid)
        state_map = (("finished", "success"),) if mapped else ()
        watch = {"interval_seconds": 0.1, "terminal_grace_seconds": 0.3}
        cfg = make_config(server, [bid, witness], api={"state_map": state_map}, watch=watch)
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            await run.wait_for(lambda: run.of(bid, "batch.discovered"))
            world.set_state(bid, "finished")
            await run.wait_for(lambda: run.of(bid, "batch.finished") or run.of(bid, "batch.unknown_state"))
            seen = (run.of(bid, "batch.finished") or run.of(bid, "batch.unknown_state"))[0].timestamp
            assert seen is not None
            over = datetime.fromisoformat(seen).timestamp() + 0.3 + 0.1  # the grace and the poll it may have queued
            await run.wait_for(lambda: time.time() > over)
            await run.wait_polls(1)  # one under way when the grace ran out
            before = reads.count
            await run.wait_polls(6)  # the witness's (and the unmapped batch's): slots it would have had
            run.stopped.set()
        polled_on = reads.count > before
    if mapped:
        [finished] = run.of(bid, "batch.finished")
        assert (finished.fields["state"], finished.fields["outcome"]) == ("success", "succeeded")
        assert run.of(bid, "batch.state_changed")[-1].fields["to_state"] == "success"
        assert not polled_on
    else:
        assert not run.of(bid, "batch.finished")
        assert run.of(bid, "batch.unknown_state")[0].fields["state"] == "finished"
        assert polled_on
