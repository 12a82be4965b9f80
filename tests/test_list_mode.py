"""List polling gives exactly the event stream of detail polling, for a fraction of the requests."""

from __future__ import annotations

import anyio
import pytest

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
            await anyio.sleep(0.5)
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
