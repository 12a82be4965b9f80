"""The status pages of a running daemon: what it keeps per batch comes from its events and leaves with the batch."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from tests.config.test_reload import reload_to, start, with_section
from tests.helpers import make_config
from watcher.core.tracker import Track

if TYPE_CHECKING:
    from watcher.simulator import SimServer

pytestmark = pytest.mark.anyio


class Text(HTMLParser):
    """A page's text as a browser shows it."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.feed(document)

    def handle_data(self, data):
        self.parts.append(data)

    def __str__(self) -> str:
        return "".join(self.parts)


async def test_a_batch_page_shows_events_polls_and_log_and_forgets_them_when_unwatched(sim: SimServer):
    """State changes and failures reach the batch page; an unwatched batch's record is dropped, not kept."""
    world = sim.world
    keep, drop = world.add_batch(name="keep"), world.add_batch(name="drop")
    world.append_stdout(keep, ["first line"])
    async with anyio.create_task_group() as tg:
        run, holder = await start(tg, make_config(sim, [keep, drop]))
        await run.wait_for(lambda: run.daemon.board.ready)
        world.set_state(keep, "running")
        world.inject("status", drop, count=None, status=503)
        await run.wait_for(lambda: run.of(keep, "batch.state_changed") and run.of(drop, "batch.poll_failed"))
        async with httpx.AsyncClient(base_url=run.metrics_url) as client:
            kept = str(Text((await client.get(f"/batches/{keep}")).text))
            failing = str(Text((await client.get(f"/batches/{drop}")).text))
            index = str(Text((await client.get("/", params={"watch": "failing"})).text))
        assert "batch.state_changed" in kept and "from_state=starting to_state=running" in kept
        assert "batch.discovered" in kept and "first line" in kept and "stdout" in kept
        assert "Last poll" in kept and "ago · ok" in kept
        assert "http (status 503" in failing and "ago · failed" in failing
        assert "batches 1\N{EN DASH}1 of 1 matching (2 watched)" in index and "drop" in index
        assert len(run.daemon.recent) == 2
        await reload_to(run, with_section(holder[0], "watch", batch_ids=(keep,)), holder)
        assert run.daemon.recent.events(drop) == () and run.daemon.recent.error(drop) is None
        assert run.daemon.recent.last_poll(Track(drop)) is None
        async with httpx.AsyncClient(base_url=run.metrics_url) as client:
            gone = await client.get(f"/batches/{drop}")
        assert gone.status_code == 404
        run.stopped.set()
