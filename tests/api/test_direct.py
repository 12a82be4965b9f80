"""The direct aiohttp path sends the bytes httpx's send sends and makes the same of every answer."""

from __future__ import annotations

import asyncio
import gzip
import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yarl

from watcher.api.auth import AkSkAuth, HeaderAuth, PasswordAuth, TokenAuth
from watcher.api.client import BatchApi
from watcher.api.http import _direct
from watcher.api.transport import ApiClient, build_transport
from watcher.config.settings import ApiConfig
from watcher.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

PID = "0123456789abcdef0123456789abcdef"
BID = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"
CAP = 4096
DETAILS = json.dumps({"id": BID, "state": "running", "log": ["a", "b"]}).encode()


def _answer(status: str, headers: list[tuple[str, str]], body: bytes, length: int | None = None) -> bytes:
    """A raw HTTP/1.1 response that closes its connection; ``length`` may lie about the body."""
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


ANSWERS = {
    "plain": _answer("200 OK", [("Content-Type", "application/json")], DETAILS, len(DETAILS)),
    "gzip": _answer("200 OK", [("Content-Encoding", "gzip")], gzip.compress(DETAILS), len(gzip.compress(DETAILS))),
    "gzip bomb": _answer("200 OK", [("Content-Encoding", "gzip")], gzip.compress(b" " * 200_000), None),
    "bad gzip": _answer("200 OK", [("Content-Encoding", "gzip")], b"not gzip at all", 15),
    "chunked over the cap": _answer("200 OK", [("Transfer-Encoding", "chunked")], _chunked(b"x" * (CAP + 10))),
    "declared over the cap": _answer("200 OK", [], b"x" * 10, CAP + 1),
    "cut short": _answer("200 OK", [], b'{"id": "', 500),
    "throttled": _answer("429 Too Many", [("Retry-After", "7")], b'{"error_code": "APIG.0308"}', 27),
    "not found": _answer("404 Not Found", [], b'{"error_code": "DLI.0002", "error_msg": "gone"}', 47),
    "redirect": _answer("302 Found", [("Location", "http://127.0.0.1:1/")], b"", 0),
    "not http": b"SSH-2.0-OpenSSH_9.6\r\n",
}


@pytest.fixture
def anyio_backend() -> str:
    """The client runs on asyncio only (aiohttp)."""
    return "asyncio"


class Recorder:
    """A server that answers every connection's one request with ``answer`` and keeps the request's bytes."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.answer = ANSWERS["plain"]
        self.origin = yarl.URL()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read the request head, send the answer, close."""
        self.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(self.answer)
        await writer.drain()
        writer.close()


class TapLog:
    """A recording's tap that keeps what it is told of each exchange."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def exchange(
        self, request: httpx.Request, status: int, headers: dict[str, str], body: bytes, error: Any = None
    ) -> None:
        """Keep the exchange, the request as its URL."""
        self.seen.append((str(request.url), status, headers, body, error))

    def iam(self, method: str, path: str, status: int) -> None:
        """Not called: no IAM here."""


@asynccontextmanager
async def both_paths(
    auth: httpx.Auth | None, *, proxied: bool = False
) -> AsyncIterator[tuple[Recorder, list[BatchApi], TapLog, TapLog]]:
    """A recording server, one aiohttp transport and client, and BatchApi over it three ways.

    Over httpx's send, over the direct path, and over the direct path without a recording (where a
    steady auth's kept headers are used); the first two record. ``proxied``: the server is an HTTP
    proxy with a login in front of an endpoint elsewhere.
    """
    recorder = Recorder()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    endpoint = "http://dli.invalid:8080" if proxied else f"http://127.0.0.1:{port}"
    api = ApiConfig(flavor="dli", endpoint=endpoint, project_id=PID, max_response_bytes=CAP)
    recorder.origin = yarl.URL(api.endpoint)
    proxy = httpx.Proxy(f"http://u:pw@127.0.0.1:{port}") if proxied else None
    transport = build_transport("aiohttp", limits=httpx.Limits(), verify=False, proxy=proxy)
    taps = TapLog(), TapLog()
    try:
        async with ApiClient(auth=auth, transport=transport, headers={"User-Agent": "w/1"}, timeout=2) as http:
            fast = _direct(transport, http.auth)
            assert fast is not None
            apis = [BatchApi(http, api, tap=taps[0]), BatchApi(http, api, tap=taps[1], direct=fast)]
            yield recorder, [*apis, BatchApi(http, api, direct=fast)], *taps
            # the untapped client sent its later GETs with kept headers when, and only when, the auth is steady
            steady = auth is None or (isinstance(auth, HeaderAuth) and auth.steady)
            assert (fast.kept(recorder.origin) is not None) == steady
    finally:
        server.close()
        await server.wait_closed()


async def outcome(api: BatchApi) -> tuple[object, ...]:
    """What reading the batch's details gives: the snapshot's state and log, or the error's class and words."""
    try:
        snap = await api.details(BID)
    except ApiError as exc:
        return type(exc).__name__, exc.message, exc.status_code, getattr(exc, "retry_after", None)
    return snap.state, snap.log


@pytest.mark.anyio
@pytest.mark.parametrize(
    "auth",
    [None, TokenAuth("t0k"), AkSkAuth("AKEXAMPLE", "SKEXAMPLE", project_id=PID, clock=lambda: 1.7e9)],
    ids=["none", "token", "aksk"],
)
@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "http proxy"])
async def test_the_direct_path_sends_the_bytes_httpx_send_sends(auth: HeaderAuth | None, proxied: bool) -> None:
    """Details twice, a log slice and list pages: the request heads on the wire are the same bytes on every path."""
    async with both_paths(auth, proxied=proxied) as (recorder, apis, *_):
        for api in apis:
            await api.details(BID)
            await api.details(BID)
            await api.log(BID, 5, 10, "driver")
            for _ in range(2):  # the page's URL kept from the first: the second goes with it
                with pytest.raises(ApiError, match="sessions"):  # the server answers details to everything
                    await api.list(200, 100, queue_name="q a/é+&=", state="")
    assert len(recorder.requests) == 15
    assert recorder.requests[:5] == recorder.requests[5:10] == recorder.requests[10:]
    assert recorder.requests[4] == recorder.requests[3]
    if auth is not None:
        assert b"\r\nauthorization: " in recorder.requests[3] or b"\r\nx-auth-token: t0k" in recorder.requests[3]
    if proxied:  # the proxy's login on every request (the kept headers' too), the target as an absolute URL
        assert all(b"\r\nproxy-authorization: Basic dTpwdw==" in r for r in recorder.requests)
        assert recorder.requests[7].startswith(b"GET http://dli.invalid:8080/v2.0/")
    target = recorder.requests[3].split(b" ")[1]
    assert target.endswith(f"/v2.0/{PID}/batches?from=200&size=100&queue_name=q+a/%C3%A9%2B%26%3D".encode())


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(ANSWERS))
async def test_the_direct_path_makes_the_same_of_every_answer(name: str) -> None:
    """Decoded bodies, capped bodies, broken ones and error statuses: the same result or error, the same tap.

    The untapped direct client has sent once (its headers kept) before, so it answers from the kept-headers GET.
    """
    async with both_paths(TokenAuth("t0k")) as (recorder, apis, slow_tap, fast_tap):
        await apis[2].details(BID)
        recorder.answer = ANSWERS[name]
        got = [await outcome(api) for api in apis]
    assert got[0] == got[1] == got[2]
    assert slow_tap.seen == fast_tap.seen
    assert recorder.requests[1:] == [recorder.requests[0]] * 3
    if name in ("plain", "gzip"):
        assert got[0][0] == "running"
    else:
        assert str(got[0][0]).endswith("Error")


def test_only_an_auth_that_sets_headers_goes_direct() -> None:
    """The aiohttp transport with none, a token or AK/SK goes direct; password auth or httpx's transport do not."""
    aiohttp_transport = build_transport("aiohttp", limits=httpx.Limits(), verify=False)
    httpx_transport = build_transport("httpx", limits=httpx.Limits(), verify=False)
    password = PasswordAuth.__new__(PasswordAuth)
    assert _direct(aiohttp_transport, None) is not None
    assert _direct(aiohttp_transport, TokenAuth("t")) is not None
    assert _direct(aiohttp_transport, AkSkAuth("a", "s")) is not None
    assert _direct(aiohttp_transport, password) is None
    assert _direct(httpx_transport, TokenAuth("t")) is None


@pytest.mark.anyio
async def test_a_details_url_reaches_the_wire_as_httpx_own_transport_sends_it() -> None:
    """An ID that needs percent-encoding: the kept aiohttp URL makes the request line httpx's transport sends."""
    odd = "a b/é%?#"
    recorder = Recorder()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    api = ApiConfig(flavor="dli", endpoint=f"http://127.0.0.1:{port}", project_id=PID)
    try:
        for kind in ("aiohttp", "httpx"):
            transport = build_transport(kind, limits=httpx.Limits(), verify=False)
            async with ApiClient(transport=transport, timeout=2) as http:
                with pytest.raises(ApiError, match="another batch"):
                    await BatchApi(http, api, direct=_direct(transport, None)).details(odd)
    finally:
        server.close()
        await server.wait_closed()
    lines = [request.split(b"\r\n")[0] for request in recorder.requests]
    assert lines[0] == lines[1] == f"GET /v2.0/{PID}/batches/a%20b%2F%C3%A9%25%3F%23 HTTP/1.1".encode()
