"""The cheaper request path sends what httpx's own would: the same request, the same headers to aiohttp."""

from __future__ import annotations

import httpx
import pytest

from watcher.api.client import BatchApi
from watcher.api.transport import ApiClient, _plain
from watcher.config.settings import ApiConfig

DLI = ApiConfig(flavor="dli", endpoint="https://dli.example.com/", project_id="p1", timeout_seconds=3)


@pytest.fixture
def anyio_backend() -> str:
    """The client runs on asyncio only."""
    return "asyncio"


def test_headers_reach_aiohttp_as_headers_items_gives_them() -> None:
    """Lowercase names, a repeated name joined by ", ", a UTF-8 value decoded as UTF-8: as ``Headers.items()``."""
    pairs = [
        ("User-Agent", "w/1"),
        ("X-Sdk-Date", "20260101T000000Z"),
        ("X-Two", "a"),
        ("x-two", "b"),
        ("X-Name", "née"),
    ]
    headers = httpx.Headers([(k.encode(), v.encode()) for k, v in pairs])
    assert _plain(headers) == dict(headers.items())
    assert (_plain(headers)["x-two"], _plain(headers)["x-name"]) == ("a, b", "née")


@pytest.mark.anyio
async def test_a_get_is_the_request_build_request_makes() -> None:
    """Method, URL with its query, every header and the timeout extension equal the client's build_request."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b'{"log": [], "from": 0, "total": 0}')

    async with ApiClient(transport=httpx.MockTransport(answer), headers={"User-Agent": "w/1"}, timeout=3) as http:
        await BatchApi(http, DLI).log("b1", 5, 10)
        expected = http.build_request("GET", str(sent[0].url).split("?")[0], params={"from": 5, "size": 10}, timeout=3)
    got = sent[0]
    assert (got.method, got.url) == (expected.method, expected.url)
    assert got.headers.raw == expected.headers.raw
    assert got.extensions["timeout"] == expected.extensions["timeout"]


@pytest.mark.anyio
async def test_a_reload_changes_the_timeout_of_the_next_request() -> None:
    """``configure`` with a new timeout: the next request carries it."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b'{"log": [], "from": 0, "total": 0}')

    async with ApiClient(transport=httpx.MockTransport(answer)) as http:
        api = BatchApi(http, DLI)
        api.configure(ApiConfig(flavor="dli", endpoint=DLI.endpoint, project_id="p1", timeout_seconds=7))
        await api.log("b1", None, 10)
    assert sent[0].extensions["timeout"] == {"connect": 7, "read": 7, "write": 7, "pool": 7}
