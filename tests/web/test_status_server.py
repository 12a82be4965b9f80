"""The status pages served: rendered in the render thread, behind the same TLS and basic auth as /metrics."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote

import anyio
import httpx
import pytest

from tests.web.test_metrics_server import endpoints, serving
from tests.web.test_webconfig import PASSWORD, TLS, USERS, ca, ca_context, pki, web_file  # noqa: F401 - fixtures
from watcher.core.model import Snapshot
from watcher.core.recent import Recent
from watcher.core.tracker import Track
from watcher.web.status.index import About
from watcher.web.status.pages import StatusPages, StatusSource
from watcher.web.webconfig import load_web_config

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio
ODD_ID = "odd/id?#1"


def with_pages(threads: list[str] | None = None, kind: type[StatusPages] = StatusPages):
    """Endpoints with status pages over two batches; ``threads`` collects where the pages read the board."""
    tracks = {
        bid: Track(bid, snapshot=Snapshot(bid, "running", "running", name=f"job {bid}"), presence="present", up=True)
        for bid in ("b1", ODD_ID)
    }

    def board():
        if threads is not None:
            threads.append(threading.current_thread().name)
        return tracks

    about = About("1.0", 1.0, "0/1", "details", None, True)
    return replace(endpoints(), pages=kind(StatusSource(lambda: about, board, Recent())))


async def test_pages_render_in_the_render_thread_not_the_loop():
    """/ and /batches/{id} read the board from the render thread; HEAD gets headers; a missing batch is 404."""
    threads: list[str] = []
    async with serving(with_pages(threads)) as (server, url), httpx.AsyncClient(base_url=url) as client:
        index = await client.get("/", params={"name": "job"})
        batch = await client.get("/batches/" + quote(ODD_ID, safe=""))
        head = await client.head("/batches/b1")
        missing = await client.get("/batches/nope")
        bare = await client.get("/batches/")
    assert (index.status_code, batch.status_code, head.status_code, missing.status_code) == (200, 200, 200, 404)
    assert bare.status_code == 404
    assert "job b1" in index.text and f"job {ODD_ID}" in index.text
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in index.headers["content-security-policy"]
    assert "job odd/id?#1" in batch.text
    assert head.content == b""
    assert set(threads) == {"dli-watcher-render_0"}
    assert server.pages is not None and server.pages.renders == 4  # "/batches/" alone is no page


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds: progress, so a slow machine only takes longer."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "no progress"
        await anyio.sleep(0.01)


async def test_concurrent_loads_of_one_page_share_a_render():
    """Page loads that arrive while the same page renders wait for it instead of rendering again."""
    gate = threading.Event()

    class HeldPages(StatusPages):
        def answer(self, target):
            gate.wait(10)
            return super().answer(target)

    ends = with_pages(kind=HeldPages)
    async with serving(ends) as (server, url), httpx.AsyncClient(base_url=url) as client:
        results: list[int] = []

        async def load():
            results.append((await client.get("/")).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(load)
            pages = server.pages
            assert pages is not None
            await until(lambda: pages.asks >= 5)  # every load waits on the held render now
            probe = await client.get("/healthz")  # probes are answered on the loop meanwhile
            gate.set()
    assert results == [200] * 5 and probe.status_code == 200
    assert server.pages is not None and server.pages.renders == 1


async def test_pages_need_the_password_that_metrics_needs(pki, ca):  # noqa: F811 - fixtures
    """Over TLS with basic auth: / and /batches/{id} are 401 without the password, 200 with it."""
    web = load_web_config(web_file(pki, TLS + USERS))
    async with serving(with_pages(), web) as (_, url):
        https = url.replace("http://", "https://")
        context = ca_context(ca)
        async with httpx.AsyncClient(base_url=https, verify=context) as anonymous:
            denied = [(await anonymous.get(path)).status_code for path in ("/", "/batches/b1", "/batches/nope")]
            probe = await anonymous.get("/readyz")
        async with httpx.AsyncClient(base_url=https, verify=context, auth=("prometheus", PASSWORD)) as client:
            allowed = [(await client.get(path)).status_code for path in ("/", "/batches/b1")]
    assert denied == [401, 401, 401]
    assert probe.status_code == 200
    assert allowed == [200, 200]
