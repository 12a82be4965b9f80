"""promtool reads the exposition of a running watcher and finds nothing to say."""

from __future__ import annotations

import re

import anyio
import httpx
import pytest

from tests.helpers import make_config, start_watch

pytestmark = pytest.mark.anyio


def series(samples, name, batch_id):
    return [k for k in samples if k[0] == name and ("batch_id", batch_id) in k[1]]


async def test_promtool_finds_nothing_to_say(sim):
    """``promtool check metrics`` is silent on the default exposition (4 series a batch), batches in several states."""
    world = sim.world
    ids = [world.add_batch(name=f"job-{i}", state=s) for i, s in enumerate(["running", "dead", "Weird"])]
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, ids))
        await run.wait_for(lambda: all(run.of(b, "batch.discovered") for b in ids))
        # the dead batch counted (after the grace): the job families and histograms have samples too
        await run.wait_for(lambda: "job-1" in run.daemon.board.jobs)
        async with httpx.AsyncClient() as client:
            text = (await client.get(run.metrics_url + "/metrics")).text
        run.stopped.set()
    with anyio.fail_after(30):
        result = await anyio.run_process(["promtool", "check", "metrics"], input=text.encode(), check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, b"")
    assert f'dli_batch_state{{batch_id="{ids[2]}",state="unknown"}} 1\n' in text
    # the default (compact) exposition: at most 4 series a batch, the current state alone
    for bid in ids:
        assert len(re.findall(rf'^dli_batch_\w+\{{batch_id="{bid}"', text, re.MULTILINE)) == 4, bid
    assert not re.search(r"^dli_batch_state\{.*\} 0$", text, re.MULTILINE)
    assert 'dli_job_duration_seconds_bucket{le="+Inf",outcome="failed",queue="default"} 1.0' in text
    assert "process_cpu_seconds_total" in text
