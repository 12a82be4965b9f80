"""The HTTP transport under httpx: aiohttp's (several times less CPU per request) or httpx's own.

The watcher keeps the httpx API (auth flows, timeouts, errors); only the wire I/O changes.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

TRANSPORTS = ("aiohttp", "httpx")


class _Transport(AiohttpTransport):
    """httpx-aiohttp with one mapping fixed: a dropped connection is a connect error, not a timeout."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through aiohttp; see the class docstring for the remapped error."""
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            # httpx-aiohttp maps every aiohttp.ClientConnectionError to ConnectTimeout
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, asyncio.TimeoutError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            raise


def build_transport(kind: str, *, limits: httpx.Limits, verify: bool) -> httpx.AsyncBaseTransport:
    """The configured transport with its connection limits and TLS verification."""
    if kind == "aiohttp":
        return _Transport(limits=limits, verify=verify)
    return httpx.AsyncHTTPTransport(limits=limits, verify=verify)


class _NoJar(httpx.Cookies):
    """A cookie jar that keeps nothing: the batch API sets no cookie a read-only poller needs."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Skip it: httpx builds urllib request objects for every response just to look (~6% of a poll)."""


class ApiClient(httpx.AsyncClient):
    """httpx.AsyncClient without a cookie jar."""

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty."""
        return _NO_JAR

    @cookies.setter
    def cookies(self, _: object) -> None:
        """Ignored."""


_NO_JAR = _NoJar()
