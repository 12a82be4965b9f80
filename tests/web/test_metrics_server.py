"""The metrics HTTP server over real sockets: bounded under floods, one shared render, GET/HEAD only, busy ports."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import asynccontextmanager, closing
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from tests.sockets import half_open
from watcher.errors import SetupError
from watcher.web import occupant
from watcher.web import server as server_module
from watcher.web.endpoints import Endpoints
from watcher.web.server import MetricsServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from watcher.web.webconfig import WebConfig

pytestmark = pytest.mark.anyio
BATCH_LINE = 'dli_batch_up{batch_id="b"} 1\n'


def endpoints(batches: Callable[[], str] = lambda: BATCH_LINE, healthy: bool = True) -> Endpoints:
    registry = CollectorRegistry()
    Counter("demo_total", "A counter.", registry=registry).inc()
    return Endpoints(registry, batches, lambda: healthy, lambda: None)


@asynccontextmanager
async def serving(
    ends: Endpoints | None = None, web: WebConfig | None = None
) -> AsyncIterator[tuple[MetricsServer, str]]:
    """A MetricsServer on a free loopback port, stopped on exit."""
    server = MetricsServer("127.0.0.1", 0, ends or endpoints(), web)
    async with anyio.create_task_group() as tg:
        host, port = await tg.start(server.run)
        yield server, f"http://{host}:{port}"
        tg.cancel_scope.cancel()


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await anyio.sleep(0.02)


async def test_get_head_and_other_methods():
    """GET answers; HEAD gets the same status and headers without a body; anything else is 405 with Allow."""
    async with serving() as (_, url), httpx.AsyncClient(base_url=url) as client:
        get = await client.get("/metrics")
        head = await client.head("/metrics")
        post = await client.post("/metrics", content=b"x" * 1000)
        delete = await client.delete("/healthz")
        missing = await client.get("/nope")
    assert get.status_code == head.status_code == 200
    assert BATCH_LINE in get.text and "demo_total 1.0" in get.text
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["content-type"] == get.headers["content-type"]
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
    assert (delete.status_code, delete.headers["allow"]) == (405, "GET, HEAD")
    assert missing.status_code == 404
    assert get.headers["server"] == "dli-watcher"


async def test_head_without_body_on_the_wire():
    """A raw HEAD request reads back as headers alone, the connection closed after them."""
    async with serving() as (_, url):
        (sock,) = half_open(url, 1)
        with closing(sock):
            sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: 3" in head
    assert rest == b""


async def test_bad_requests_get_4xx():
    """A head that is not HTTP gets 400, one too large 431; neither takes the server down."""
    async with serving() as (_, url):
        answers = []
        for raw in (b"HELLO\r\n\r\n", b"GET / HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n"):
            (sock,) = half_open(url, 1)
            with closing(sock):
                sock.sendall(raw)
                answers.append(sock.recv(100).split(b"\r\n")[0])
        async with httpx.AsyncClient(base_url=url) as client:
            health = (await client.get("/healthz")).status_code
    assert answers == [b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 431 Request Header Fields Too Large"]
    assert health == 200


async def test_concurrent_scrapes_share_one_render_and_probes_do_not_wait():
    """Scrapes arriving during a render wait for it and get its result; /healthz answers while it runs."""
    release = threading.Event()
    calls = []

    def slow_batches() -> str:
        calls.append(1)
        release.wait(20)
        return BATCH_LINE

    async with serving(endpoints(slow_batches)) as (server, url), httpx.AsyncClient(base_url=url, timeout=30) as client:
        results: list[httpx.Response] = []

        async def scrape(headers: dict[str, str]) -> None:
            results.append(await client.get("/metrics", headers=headers))

        async with anyio.create_task_group() as tg:
            for n in range(16):
                tg.start_soon(scrape, {"Accept-Encoding": "gzip" if n % 2 else "identity"})
            await wait_until(lambda: server.connections[1] == 16)
            with anyio.fail_after(10):
                health = await client.get("/healthz")
            assert (health.status_code, health.text) == (200, "ok\n")
            release.set()
    assert [r.status_code for r in results] == [200] * 16
    assert all(BATCH_LINE in r.text for r in results)
    # one render per variant (gzip or not), never one per scrape
    assert server.renders.renders == len(calls) == 2


async def test_half_open_flood_keeps_threads_bounded_and_probes_answered():
    """1,000 connections that never finish their head add no thread; /healthz still answers; stop is prompt."""
    async with serving() as (server, url):
        before = threading.active_count()
        socks = half_open(url, 1000, partial=b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        try:
            await wait_until(lambda: server.connections[0] >= 1000)
            during = threading.active_count()
            async with httpx.AsyncClient(base_url=url) as client:
                with anyio.fail_after(10):
                    health = await client.get("/healthz")
                    scrape = await client.get("/metrics")
            started = time.monotonic()
            await anyio.to_thread.run_sync(server.stop)
            stopping = time.monotonic() - started
        finally:
            for sock in socks:
                sock.close()
    assert during <= before + 1
    assert (health.status_code, scrape.status_code) == (200, 200)
    assert stopping < server_module.STOP_TIMEOUT_SECONDS  # generous: it does not wait for the clients


async def test_a_full_server_pushes_out_the_oldest_half_open_connection(monkeypatch):
    """At the connection cap a new client pushes out the oldest one still sending its head."""
    monkeypatch.setattr(server_module, "max_connections", lambda: 8)
    async with serving() as (server, url):
        socks = half_open(url, 20)
        try:
            await wait_until(lambda: server.connections[0] == 8)
            async with httpx.AsyncClient(base_url=url) as client:
                with anyio.fail_after(10):
                    health = await client.get("/healthz")
            first = socks[0]
            first.settimeout(5)
            pushed_out = first.recv(10)
        finally:
            for sock in socks:
                sock.close()
        assert server.connections[0] <= 8
    assert health.status_code == 200
    assert pushed_out == b""


async def test_a_client_that_never_sends_its_head_is_dropped(monkeypatch):
    """After the head timeout the server closes a silent connection."""
    monkeypatch.setattr(server_module, "HEAD_TIMEOUT_SECONDS", 0.3)
    async with serving() as (_, url):
        (sock,) = half_open(url, 1)
        with closing(sock):
            sock.settimeout(10)
            assert sock.recv(10) == b""


async def test_a_busy_port_names_the_watcher_holding_it():
    """Binding where a dli-watcher listens is a SetupError naming the address and the other watcher."""
    async with serving() as (server, _):
        host, port = server.address
        with pytest.raises(SetupError) as caught:
            await anyio.to_thread.run_sync(MetricsServer, host, port, endpoints())
    assert caught.value.subject == f"127.0.0.1:{port}"
    assert "address already in use" in caught.value.problem
    assert "another dli-watcher seems to listen there" in caught.value.problem


def test_a_busy_port_held_by_another_program(monkeypatch):
    """A port held by something that does not speak HTTP is named as another program's."""
    # it never answers: each of the two probes (HTTP, HTTPS) waits out its whole timeout, 2 s in production
    monkeypatch.setattr(occupant, "TIMEOUT_SECONDS", 0.2)
    with socket.create_server(("127.0.0.1", 0)) as other:
        port = other.getsockname()[1]
        with pytest.raises(SetupError) as caught:
            MetricsServer("127.0.0.1", port, endpoints())
    assert "address already in use; another program" in str(caught.value)


def test_stop_before_run_releases_the_port():
    """A server bound but never run (the daemon failed in between) closes its socket on stop."""
    server = MetricsServer("127.0.0.1", 0, endpoints())
    server.stop()
    with socket.create_server(server.address):
        pass
