"""A Livy-compatible gateway's own terminal state, mapped by ``[api] state_map``, finishes the batch end to end."""

from __future__ import annotations

import anyio
import pytest

from tests.helpers import make_config, simulator, start_watch

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mapped", [True, False])
async def test_a_gateway_finished_state_ends_polling_only_when_mapped(mapped):
    """'finished' mapped to success: batch.finished, then no polls after the grace. Unmapped: unknown, polled on."""
    with simulator("livy") as server:
        world = server.world
        bid = world.add_batch(name="gateway-job", state="running")
        state_map = (("finished", "success"),) if mapped else ()
        cfg = make_config(server, [bid], api={"state_map": state_map}, watch={"terminal_grace_seconds": 0.4})
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            await run.wait_for(lambda: run.of(bid, "batch.discovered"))
            world.set_state(bid, "finished")
            await anyio.sleep(1.2)  # the grace and then some
            before = server.requests["details"]
            await anyio.sleep(0.6)
            run.stopped.set()
        polled_on = server.requests["details"] > before
    if mapped:
        [finished] = run.of(bid, "batch.finished")
        assert (finished.fields["state"], finished.fields["outcome"]) == ("success", "succeeded")
        assert run.of(bid, "batch.state_changed")[-1].fields["to_state"] == "success"
        assert not polled_on
    else:
        assert not run.of(bid, "batch.finished")
        assert run.of(bid, "batch.unknown_state")[0].fields["state"] == "finished"
        assert polled_on
