"""The API client keeps no cookie jar (dropped connections as connect errors are covered end to end)."""

from __future__ import annotations

import httpx
import pytest

from watcher.api.transport import ApiClient

pytestmark = pytest.mark.anyio


async def test_cookies_from_responses_are_never_kept_or_sent():
    """A Set-Cookie answer leaves the jar empty and the next request carries no Cookie header."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json={}, headers={"Set-Cookie": "session=abc; Path=/"})

    async with ApiClient(transport=httpx.MockTransport(handler)) as client:
        await client.get("http://api.test/a")
        await client.get("http://api.test/b")
        assert len(client.cookies) == 0
    assert seen == [None, None]
