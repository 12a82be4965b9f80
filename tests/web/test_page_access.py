"""The status pages are not public by accident: loopback or authenticated only by default, and only by our names."""

from __future__ import annotations

import socket
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from tests.web.test_status_server import with_pages
from tests.web.test_webconfig import PASSWORD, USERS, web_file
from watcher.commands.preflight import status_pages
from watcher.config.settings import Config, MetricsConfig
from watcher.config.statuslinks import StatusConfig
from watcher.web.access import PageAccess, host_name
from watcher.web.server import MetricsServer
from watcher.web.webconfig import load_web_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from watcher.web.webconfig import WebConfig

pytestmark = pytest.mark.anyio


def outside_address() -> str | None:
    """An address of this host that is not loopback (a peer from it is not a loopback peer), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@asynccontextmanager
async def listening(access: PageAccess, web: WebConfig | None = None) -> AsyncIterator[int]:
    """A server with status pages on every address (as the Kubernetes base listens); yields its port."""
    server = MetricsServer("0.0.0.0", 0, with_pages(), web, access)
    async with anyio.create_task_group() as tg:
        _, port = await tg.start(server.run)
        yield port
        tg.cancel_scope.cancel()


async def fetch(address: str, port: int, path: str, **kw: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://{address}:{port}", **kw) as client:  # type: ignore[arg-type]
        return await client.get(path)


async def test_auto_shows_the_pages_to_loopback_and_refuses_other_peers():
    """auto: a loopback peer sees the pages; a peer from outside gets the landing page and 404s."""
    outside = outside_address()
    if outside is None:
        pytest.skip("this host has no non-loopback address to connect from")
    async with listening(PageAccess("auto")) as port:
        local = await fetch("127.0.0.1", port, "/")
        local_batch = await fetch("127.0.0.1", port, "/batches/b1")
        landing = await fetch(outside, port, "/")
        refused = await fetch(outside, port, "/batches/b1")
        metrics = await fetch(outside, port, "/metrics")
        probes = [await fetch(outside, port, p) for p in ("/healthz", "/readyz")]
    assert local.status_code == local_batch.status_code == 200 and "job b1" in local.text
    assert landing.status_code == 200 and "job b1" not in landing.text
    assert 'pages = "on"' in landing.text and "/metrics" in landing.text and "/readyz" in landing.text
    assert refused.status_code == 404 and "job b1" not in refused.text
    assert metrics.status_code == 200 and [p.status_code for p in probes] == [200, 200]


async def test_on_off_and_authenticated(tmp_path):
    """On shows them to anyone, off to no one, and auto to a request the web config authenticated."""
    outside = outside_address() or "127.0.0.1"
    async with listening(PageAccess("on")) as port:
        shown = await fetch(outside, port, "/batches/b1")
    async with listening(PageAccess("off")) as port:
        hidden = await fetch("127.0.0.1", port, "/batches/b1")
    web = load_web_config(web_file(tmp_path, USERS))
    async with listening(PageAccess("auto"), web) as port:
        authed = await fetch(outside, port, "/batches/b1", auth=("prometheus", PASSWORD))
        anonymous = await fetch(outside, port, "/batches/b1")
    assert shown.status_code == 200 and hidden.status_code == 404
    assert authed.status_code == 200 and "job b1" in authed.text
    assert anonymous.status_code == 401


async def test_a_foreign_host_name_gets_421():
    """DNS rebinding: a page asked for by another site's name is refused; IPs, localhost and allowed names pass."""
    async with listening(PageAccess("auto", frozenset({"watcher.internal"}))) as port:
        codes = {}
        for host in (
            "evil.example",
            "127.0.0.1",
            f"localhost:{port}",
            "[::1]",
            "watcher.internal",
            "WATCHER.internal.",
        ):
            codes[host] = (await fetch("127.0.0.1", port, "/", headers={"Host": host})).status_code
        metrics = await fetch("127.0.0.1", port, "/metrics", headers={"Host": "evil.example"})
    assert codes == {
        "evil.example": 421,
        "127.0.0.1": 200,
        f"localhost:{port}": 200,
        "[::1]": 200,
        "watcher.internal": 200,
        "WATCHER.internal.": 200,
    }
    assert metrics.status_code == 200  # /metrics is unchanged


def test_host_names_are_read_without_ports_or_brackets():
    """What the Host check compares: the name alone, lower case."""
    assert [host_name(h) for h in ("A.b:80", "[::1]:8", "::1", "x.", "")] == ["a.b", "::1", "::1", "x", ""]


def test_check_warns_when_pages_are_on_for_anyone():
    """check: a warning for pages on, on a non-loopback address, without authentication; not otherwise."""
    exposed = Config(metrics=MetricsConfig(host="0.0.0.0"), status=StatusConfig(pages="on"))
    assert status_pages(exposed).status == "warning"
    assert status_pages(Config(metrics=MetricsConfig(host="0.0.0.0"))).status == "ok"
    assert status_pages(Config(status=StatusConfig(pages="on"))).status == "ok"  # loopback
