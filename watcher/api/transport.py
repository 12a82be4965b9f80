"""The HTTP transport under httpx: aiohttp's (several times less CPU per request) or httpx's own.

The watcher keeps the httpx API (auth flows, timeouts, errors); only the wire I/O changes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from watcher.core.vocabulary import Transport


class _Transport(AiohttpTransport):
    """httpx-aiohttp that raises only httpx errors, as httpx's own transport does.

    httpx-aiohttp maps a few aiohttp exceptions and lets the rest through: a bad status line,
    a header without a colon or over 8,190 bytes arrive as ``aiohttp.ClientResponseError``, which
    no httpx caller expects. Here they are protocol errors, and a dropped connection is a connect
    error rather than the ``ConnectTimeout`` httpx-aiohttp makes of it.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through aiohttp, with every failure as an httpx exception (the body's too)."""
        try:
            response = await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, asyncio.TimeoutError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            raise
        except httpx.HTTPError:
            raise
        except Exception as exc:  # the transport's contract is httpx errors only
            raise _protocol_error(exc, request) from exc
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _MappedStream(response.stream, request)
        return response


def _protocol_error(exc: Exception, request: httpx.Request) -> httpx.RemoteProtocolError:
    message = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    return httpx.RemoteProtocolError(f"{type(exc).__name__}: {message}", request=request)


class _MappedStream(httpx.AsyncByteStream):
    """A response body whose read errors are httpx errors too."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner, self._request = inner, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body's chunks."""
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.HTTPError:
            raise
        except Exception as exc:
            raise _protocol_error(exc, self._request) from exc

    async def aclose(self) -> None:
        """Release the connection."""
        try:
            await self._inner.aclose()
        except httpx.HTTPError:
            raise
        except Exception as exc:
            raise _protocol_error(exc, self._request) from exc


def build_transport(kind: Transport, *, limits: httpx.Limits, verify: bool) -> httpx.AsyncBaseTransport:
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
