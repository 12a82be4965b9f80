"""The HTTP transport under httpx: aiohttp's (several times less CPU per request) or httpx's own.

The watcher keeps the httpx API (auth flows, timeouts, errors); only the wire I/O changes.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
import yarl
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Callable, Iterator

    from watcher.core.vocabulary import Transport


# a request extension: the request's URL as aiohttp's ``yarl.URL``, made once for a URL requested again and again
WIRE_URL = "dli_watcher.wire_url"


def wire_url(url: httpx.URL) -> yarl.URL:
    """What aiohttp makes of ``str(url)`` (kept by the caller, neither is done per request)."""
    return yarl.URL(str(url))


class _Transport(AiohttpTransport):
    """httpx-aiohttp that raises only httpx errors, as httpx's own transport does.

    httpx-aiohttp maps a few aiohttp exceptions and lets the rest through: a bad status line,
    a header without a colon or over 8,190 bytes arrive as ``aiohttp.ClientResponseError``, which
    no httpx caller expects. Here they are protocol errors, and a dropped connection is a connect
    error rather than the ``ConnectTimeout`` httpx-aiohttp makes of it.

    A proxy's login goes out as a ``Proxy-Authorization`` header of our own: httpx-aiohttp would
    make an ``aiohttp.BasicAuth`` of it, which aiohttp deprecates with a warning on every request.
    """

    def __init__(self, *, proxy: httpx.Proxy | None = None, **kwargs: Any) -> None:
        self._proxy_login = _basic(*proxy.auth) if proxy is not None and proxy.auth else None
        if proxy is not None and self._proxy_login is not None:
            # on the CONNECT request for https; plain http requests carry it themselves (below)
            proxy = httpx.Proxy(proxy.url, headers={"Proxy-Authorization": self._proxy_login})
        super().__init__(proxy=proxy, **kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through aiohttp, with every failure as an httpx exception (the body's too)."""
        return as_response(await self.open(request), request)

    async def open(self, request: httpx.Request) -> aiohttp.ClientResponse:
        """Send through aiohttp: the response, its body unread; every failure an httpx exception.

        httpx-aiohttp's ``handle_async_request`` with less work per request, the same request on the
        wire. Its ``headers=request.headers`` made aiohttp read them through ``Headers.items()``, which
        looks the encoding up twice per header (~15% of a detail poll's client CPU); here they are
        decoded once, as that would (lowercase names, repeated names joined by ", ").
        """
        if self._proxy_login is not None and request.url.scheme == "http":
            # added after signing: hop-by-hop, for the proxy alone, never part of an AK/SK signature
            request.headers["Proxy-Authorization"] = self._proxy_login
        data: bytes | httpx.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # handled by aiohttp
        url = request.extensions.get(WIRE_URL) or str(request.url)
        extensions = request.extensions
        return await self._send(request.method, url, _plain(request.headers), data, extensions, request)

    async def get(self, url: yarl.URL, headers: dict[str, str], timeouts: dict[str, Any]) -> aiohttp.ClientResponse:
        """``open`` of a GET without a body whose headers as aiohttp takes them are known already."""
        return await self._send("GET", url, headers, None, {"timeout": timeouts}, None)

    async def _send(
        self,
        method: str,
        url: yarl.URL | str,
        headers: dict[str, str],
        data: bytes | httpx.AsyncByteStream | None,
        extensions: dict[str, Any],
        request: httpx.Request | None,
    ) -> aiohttp.ClientResponse:
        """The request through aiohttp; its aiohttp timeout is made once per distinct httpx timeout."""
        timeout = extensions.get("timeout", {})
        try:
            if not isinstance(self.client, aiohttp.ClientSession):
                self.client = self.get_client()
            with map_aiohttp_exceptions():
                return await self.client.request(
                    method=method,
                    url=url,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    auto_decompress=False,
                    compress=False,
                    timeout=_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
                    server_hostname=extensions.get("sni_hostname"),
                    proxy=str(self.proxy.url) if self.proxy else None,
                    proxy_auth=aiohttp.BasicAuth(*self.proxy.auth) if self.proxy and self.proxy.auth else None,
                    proxy_headers=self.proxy.headers if self.proxy else None,
                ).__aenter__()
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, asyncio.TimeoutError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            raise
        except httpx.HTTPError:
            raise
        except Exception as exc:  # the transport's contract is httpx errors only
            raise _protocol_error(exc, request) from exc


def as_response(response: aiohttp.ClientResponse, request: httpx.Request | None) -> httpx.Response:
    """An aiohttp response as httpx's, its body streamed through ``_Body``."""
    extensions = {"http_version": b"HTTP/1.1"}
    if response.reason:
        extensions["reason_phrase"] = response.reason.encode()
    return httpx.Response(
        status_code=response.status,
        headers=response.raw_headers,
        stream=_Body(response, request),
        request=request,
        extensions=extensions,
    )


def _plain(headers: httpx.Headers) -> dict[str, str]:
    """The headers as ``Headers.items()`` gives them: lowercase names, repeated ones joined, one encoding."""
    encoding = headers.encoding
    out: dict[str, str] = {}
    for key, value in headers.raw:
        name, text = key.lower().decode(encoding), value.decode(encoding)
        out[name] = f"{out[name]}, {text}" if name in out else text
    return out


@functools.lru_cache(maxsize=16)
def _timeout(connect: float | None, read: float | None, pool: float | None) -> aiohttp.ClientTimeout:
    """The aiohttp timeout of an httpx one (a few distinct values per process: the configured timeouts)."""
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _protocol_error(exc: Exception, request: httpx.Request | None) -> httpx.RemoteProtocolError:
    message = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    return httpx.RemoteProtocolError(f"{type(exc).__name__}: {message}", request=request)


@contextmanager
def _httpx_errors(request: httpx.Request | None) -> Iterator[None]:
    """Only httpx errors leave: aiohttp's mapped as httpx-aiohttp maps them, anything else a protocol error."""
    try:
        with map_aiohttp_exceptions():
            yield
    except httpx.HTTPError:
        raise
    except Exception as exc:
        raise _protocol_error(exc, request) from exc


class _Body(httpx.AsyncByteStream):
    """A response body read from aiohttp whose read errors are httpx errors.

    aiohttp's are mapped as httpx-aiohttp maps them, anything else is a protocol error: one layer
    where httpx-aiohttp's stream and a wrapper around it were two.
    """

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request | None) -> None:
        self._response, self._request = response, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body's chunks."""
        with _httpx_errors(self._request):
            async for chunk in self._response.content.iter_chunked(AiohttpResponseStream.CHUNK_SIZE):
                yield chunk

    async def aclose(self) -> None:
        """Release the connection."""
        with _httpx_errors(self._request):
            await self._response.__aexit__(None, None, None)


class Answer:
    """A response on the direct path: status, raw headers, the body's chunks as httpx would decode them.

    A body without ``Content-Encoding`` is aiohttp's bytes as they arrive; a compressed one goes
    through httpx's decoders, as on httpx's path (so a gzip bomb meets the same cap).
    """

    __slots__ = ("_request", "_response", "coded", "raw_headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request | None) -> None:
        self._response, self._request = response, request
        self.status, self.raw_headers = response.status, response.raw_headers
        self.coded = "Content-Encoding" in response.headers  # decoded by httpx's decoders, as on its path

    def header(self, name: str) -> str:
        """A header's values joined as httpx joins them; "" when absent."""
        return ", ".join(self._response.headers.getall(name, ()))

    async def whole(self) -> bytes:
        """An uncompressed body in one read, its ``Content-Length`` within the cap (aiohttp reads no further)."""
        with _httpx_errors(self._request):
            return await self._response.content.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks; a read failure is an httpx exception."""
        if self.coded:
            async for chunk in as_response(self._response, self._request).aiter_bytes():
                yield chunk
            return
        content = self._response.content
        with _httpx_errors(self._request):
            while chunk := await content.readany():
                yield chunk

    async def aclose(self) -> None:
        """Release the connection."""
        await _Body(self._response, self._request).aclose()


class Direct:
    """Requests on the aiohttp transport without httpx's client around them: the auth applied here.

    httpx's ``send`` (its auth flow generator, a ``Response`` and its ``Headers``, ``aiter_bytes``
    and its decoder chain) was most of a detail poll's client CPU. Only an auth that sets headers
    and needs no answer (none, a token, AK/SK signing) goes this way; the request on the wire and its
    errors are the ones httpx's path makes, through the same transport. With an auth that sets the
    same headers every time (none, a token), a GET to an origin sent once has its headers kept, and
    the next GETs there are sent with them, no ``httpx.Request`` made (~12% of the client's CPU).
    """

    def __init__(self, transport: _Transport, sign: Callable[[httpx.Request], None] | None, *, steady: bool) -> None:
        self._transport, self._sign = transport, sign
        # by origin: a GET's headers as aiohttp was given them (an auth whose headers change: None)
        self._kept: dict[tuple[str, str], dict[str, str]] | None = {} if steady else None

    def kept(self, url: yarl.URL) -> dict[str, str] | None:
        """The headers every GET of ``url`` carries, once one to its origin has been sent."""
        return None if self._kept is None else self._kept.get((url.scheme, url.raw_authority))

    async def open(self, request: httpx.Request) -> Answer:
        """Sign and send; the answer, its body unread."""
        if self._sign is not None:
            self._sign(request)
        answer = Answer(await self._transport.open(request), request)
        url = request.extensions.get(WIRE_URL)
        if self._kept is not None and url is not None and request.method == "GET":
            self._kept.setdefault((url.scheme, url.raw_authority), _plain(request.headers))
        return answer

    async def get(self, url: yarl.URL, headers: dict[str, str], timeouts: dict[str, Any]) -> Answer:
        """A GET with the headers ``kept`` gave; ``timeouts`` as httpx's ``timeout`` extension has them."""
        return Answer(await self._transport.get(url, headers, timeouts), None)


def direct(
    transport: httpx.AsyncBaseTransport, sign: Callable[[httpx.Request], None] | None, *, steady: bool = False
) -> Direct | None:
    """The direct path over ``transport`` when it is the aiohttp one (None for httpx's own); ``steady``: see Direct."""
    return Direct(transport, sign, steady=steady) if isinstance(transport, _Transport) else None


def build_transport(
    kind: Transport, *, limits: httpx.Limits, verify: ssl.SSLContext | bool, proxy: httpx.Proxy | None = None
) -> httpx.AsyncBaseTransport:
    """The configured transport with its connection limits, TLS context and proxy (HTTPS through it: CONNECT)."""
    if kind == "aiohttp":
        return _Transport(limits=limits, verify=verify, proxy=proxy, trust_env=False)
    return httpx.AsyncHTTPTransport(limits=limits, verify=verify, proxy=proxy, trust_env=False)


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
