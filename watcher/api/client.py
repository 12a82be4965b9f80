"""The DLI/Livy batch API over an injected httpx.AsyncClient; the one place HTTP errors are mapped."""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote

import anyio
import httpx

from watcher.api.failures import cause, connect_failure
from watcher.api.proxy import Route, host_port
from watcher.api.tap import kept_headers
from watcher.api.transport import WIRE_URL, wire_url
from watcher.core.listed import decode_listed
from watcher.core.model import MAX_LINE_CHARS, MAX_LOG_LINES, Snapshot, decode_snapshot
from watcher.core.untrusted import NO_SECRETS, Scrubber, valid_unicode
from watcher.errors import (
    ApiError,
    AuthError,
    ConnectApiError,
    DecodeError,
    NotFoundError,
    PermanentApiError,
    ThrottledError,
    TimeoutApiError,
    TransientApiError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Mapping, Sequence

    from yarl import URL

    from watcher.api.tap import Tap
    from watcher.api.transport import Answer, Direct
    from watcher.config.settings import ApiConfig
    from watcher.core.listed import Known

THROTTLE_CODES = frozenset({"APIG.0308"})
# "Server-side errors occur": DLI documents it with HTTP 400, but it is the server's trouble, not the request's
TRANSIENT_CODES = frozenset({"DLI.0999"})
NOT_FOUND_CODES = frozenset({"DLI.0002", "DLI.0023"})
# an error body past this is not parsed as JSON: its first characters are message enough
MAX_ERROR_JSON = 64 * 1024
# bodies past this are parsed in a worker thread, so a large answer never stalls the loop
THREAD_PARSE_BYTES = 256 * 1024
MAX_COUNT = 10**15  # "from"/"total" beyond this are not counts of anything real
MAX_LIST_URLS = 4096  # list page URLs kept (a cycle at 300,000 batches reads ~3,000 pages of 100)
NO_ROUTE = Route("")  # a request of unknown destination (unit tests), sent direct
# how a failed request is named in a recording, and raised again when it is replayed
_ERROR_KINDS: dict[type[ApiError], str] = {
    TimeoutApiError: "timeout",
    ConnectApiError: "connect",
    DecodeError: "decode",
}


RawHeaders: TypeAlias = "Sequence[tuple[bytes, bytes]]"  # as they came: parsed only when read


@dataclass(frozen=True, slots=True)
class LogPage:
    """A slice of the full job log from the log endpoint."""

    start: int
    total: int
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of the list endpoint."""

    start: int
    total: int
    sessions: tuple[Snapshot, ...]


class BatchApi:
    """Read-only operations on batches, for either API flavor.

    Everything read here is untrusted: bodies are capped while they stream, URLs are built only
    from the requested (validated) IDs, and server text is scrubbed before it goes anywhere.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        api: ApiConfig,
        scrub: Scrubber = NO_SECRETS,
        route: Route | None = None,
        tap: Tap | None = None,
        direct: Direct | None = None,
    ) -> None:
        self._http = http
        self._direct = direct  # aiohttp without httpx's send around it (the same request), when the auth allows
        self._tap = tap  # a recording's: every answer as read, or how the request failed
        self._api = api
        self._scrub = scrub
        self.mask = scrub.mask  # every secret this client holds, in every shape: for any text it leads to
        self.route = route or Route(host_port(api.endpoint))
        self._flavor = api.flavor_spec
        self._base = api.endpoint.rstrip("/") + self._flavor.batches_path(api.project_id)
        self._urls: dict[str, tuple[httpx.URL, URL]] = {}
        self._list_urls: dict[tuple[object, ...], tuple[httpx.URL, URL]] = {}
        self._states = dict(api.state_map)
        self._timeout = httpx.Timeout(api.timeout_seconds).as_dict()

    def configure(self, api: ApiConfig) -> None:
        """Take reloadable settings (timeout, response cap, state map); the endpoint stays the one it started with."""
        self._api = api
        self._states = dict(api.state_map)
        self._timeout = httpx.Timeout(api.timeout_seconds).as_dict()

    async def details(self, batch_id: str) -> Snapshot:
        """``GET .../batches/{id}``: state, fields and the last-10-lines log window."""
        url, wire = self._details_url(batch_id)
        body, mangled = await self._get(url, None, wire)
        snap = decode_snapshot(body, self._states)
        if snap.batch_id != batch_id:
            if not self._flavor.answer_id_matches(batch_id, snap.batch_id):
                raise DecodeError(f"the answer is for another batch (id {self._scrub(snap.batch_id, 80)!r})")
            snap = replace(snap, batch_id=batch_id)
        if mangled:
            snap = replace(snap, repairs=(("body", "invalid UTF-8"), *snap.repairs))
        return snap

    def _url(self, batch_id: str, tail: str = "") -> str:
        # one percent-encoded path segment, whatever the ID holds
        return f"{self._base}/{quote(batch_id, safe='')}{tail}"

    def _details_url(self, batch_id: str) -> tuple[httpx.URL, URL]:
        # parsing the URL was ~10% of a poll's CPU (tests/bench), and a batch's never changes; nor does
        # aiohttp's parse of it (printing httpx's URL for aiohttp to parse was another ~6%)
        urls = self._urls.get(batch_id)
        if urls is None:
            url = httpx.URL(self._url(batch_id))
            urls = self._urls[batch_id] = (url, wire_url(url))
        return urls

    def _list_url(self, start: int, size: int, filters: Mapping[str, str]) -> tuple[httpx.URL, URL]:
        """A list page's URL, and aiohttp's: the same few pages every cycle, so made once (as ``_details_url``)."""
        key = (start, size, *filters.items())
        urls = self._list_urls.get(key)
        if urls is None:
            params: dict[str, str | int] = {"from": start, "size": size}
            params.update({k: v for k, v in filters.items() if v})
            url = httpx.URL(self._base).copy_merge_params(params)  # what httpx.Request makes of base and params
            if len(self._list_urls) >= MAX_LIST_URLS:  # new filters or page sizes after reloads: start again
                self._list_urls.clear()
            urls = self._list_urls[key] = (url, wire_url(url))
        return urls

    def forget(self, batch_ids: Iterable[str]) -> None:
        """Drop what is cached for batches no longer watched."""
        for batch_id in batch_ids:
            self._urls.pop(batch_id, None)

    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage:
        """``GET .../batches/{id}/log?from=&size=``: a slice of the full log; without ``from``, its tail."""
        size = min(size, MAX_LOG_LINES)
        params: dict[str, str | int] = {"size": size} if start is None else {"from": start, "size": size}
        if log_type:
            params["type"] = log_type
        body = _object((await self._get(self._url(batch_id, "/log"), params))[0])
        lines = body.get("log")
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise DecodeError("field 'log' is not a list of strings")
        first = _int(body, "from", start or 0)
        # a server that sends more than asked for: keep the end, which is where the log continues
        dropped = max(0, len(lines) - size)
        kept = tuple(valid_unicode(x)[:MAX_LINE_CHARS] for x in lines[dropped:])
        return LogPage(first + dropped, _int(body, "total", len(lines)), kept)

    async def list(self, start: int, size: int, /, known: Known | None = None, **filters: str) -> ListPage:
        """``GET .../batches``: a page of batches, filtered by queue_name/state/job_name.

        ``known`` gives a batch's kept snapshot: an item unchanged since is that snapshot, not decoded again.
        """
        url, wire = self._list_url(start, size, filters)
        body = _object((await self._get(url, None, wire))[0])
        sessions = body.get("sessions")
        if not isinstance(sessions, list):
            raise DecodeError("field 'sessions' is not a list")
        decoded = tuple(_listed(s, self._states, known) for s in sessions[: max(size, 1)])
        kept = tuple(s for s in decoded if s is not None)
        return ListPage(_int(body, "from", start), _int(body, "total", len(sessions)), kept)

    async def _get(
        self, url: str | httpx.URL, params: dict[str, str | int] | None = None, wire: URL | None = None
    ) -> tuple[object, bool]:
        """The decoded JSON body, and whether invalid UTF-8 in it had to be replaced; ``wire``: aiohttp's ``url``."""
        status, content, raw = await self._fetch(url, params, wire)
        if not 200 <= status < 300:
            raise error_from_response(status, content, httpx.Headers(raw).get("Retry-After"), self._scrub)
        if len(content) < THREAD_PARSE_BYTES:
            return _parse(content)  # parse_json's own first step, without a coroutine per answer
        return await parse_json(content)

    async def _fetch(
        self, url: str | httpx.URL, params: dict[str, str | int] | None, wire: URL | None
    ) -> tuple[int, bytes, RawHeaders]:
        """Status, body and raw headers; the body is capped while it streams (a gzip bomb stops at the cap)."""
        if wire is not None and self._tap is None and self._direct is not None:
            headers = self._direct.kept(wire)
            if headers is not None:
                return await self._read_direct(self._direct.get(wire, headers, self._timeout))
        # what build_request makes of an absolute URL on a client without params or cookies, at half its CPU
        extensions: dict[str, object] = {"timeout": self._timeout}
        if wire is not None:
            extensions[WIRE_URL] = wire
        request = httpx.Request("GET", url, params=params, headers=self._http.headers, extensions=extensions)
        if self._tap is None:
            return await self._read(request)
        try:
            status, content, raw = await self._read(request)
        except (TimeoutApiError, ConnectApiError, DecodeError) as exc:
            kind = next(name for cls, name in _ERROR_KINDS.items() if isinstance(exc, cls))
            self._tap.exchange(request, 0, {}, b"", (kind, exc.message))
            raise
        self._tap.exchange(request, status, kept_headers(httpx.Headers(raw)), content)
        return status, content, raw

    async def _read(self, request: httpx.Request) -> tuple[int, bytes, RawHeaders]:
        if self._direct is not None:
            return await self._read_direct(self._direct.open(request))
        cap = self._api.max_response_bytes
        with map_errors(self._scrub, self.route):
            resp = await self._http.send(request, stream=True)
            try:
                content = await _capped(resp.headers.get("Content-Length", ""), resp.aiter_bytes(), cap)
            finally:
                await resp.aclose()
        # the headers as they came: only an error (Retry-After) or a recording reads them (~8% of a poll to copy)
        return resp.status_code, content, resp.headers.raw

    async def _read_direct(self, sending: Awaitable[Answer]) -> tuple[int, bytes, RawHeaders]:
        """``_read`` on the direct path: the same request, cap and errors without httpx's client."""
        cap = self._api.max_response_bytes
        with map_errors(self._scrub, self.route):
            answer = await sending
            try:
                declared = answer.header("Content-Length")
                if declared.isdigit() and len(declared) < 20 and int(declared) <= cap and not answer.coded:
                    content = await answer.whole()  # the parser reads no further than the length: no loop to cap
                else:
                    content = await _capped(declared, answer.chunks(), cap)
            finally:
                await answer.aclose()
        return answer.status, content, answer.raw_headers


async def _capped(declared: str, chunks: AsyncIterator[bytes], cap: int) -> bytes:
    """A body read up to ``cap`` bytes: over it (declared, or as it streams), a DecodeError."""
    if declared.isdigit() and len(declared) < 20 and int(declared) > cap:
        raise DecodeError(f"response of {declared} bytes is over the {cap}-byte limit")
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise DecodeError(f"response is over the {cap}-byte limit")
        parts.append(chunk)
    return b"".join(parts)


def _listed(item: object, states: Mapping[str, str], known: Known | None) -> Snapshot | None:
    """A list item, or None when it cannot be trusted (the batch then falls back to its details)."""
    try:
        return decode_listed(item, states, known)
    except DecodeError:
        return None


async def parse_json(content: bytes) -> tuple[object, bool]:
    """Parse a body (a large one off the loop); invalid UTF-8 becomes U+FFFD and is reported."""
    if len(content) < THREAD_PARSE_BYTES:
        return _parse(content)
    return await anyio.to_thread.run_sync(_parse, content)


def _parse(content: bytes) -> tuple[object, bool]:
    try:
        try:
            return json.loads(content), False
        except UnicodeDecodeError:
            return json.loads(content.decode("utf-8", "replace")), True
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise DecodeError(f"response is not JSON ({len(content)} bytes)") from None


@contextmanager
def map_errors(scrub: Scrubber = NO_SECRETS, route: Route | None = None) -> Iterator[None]:
    """The one boundary where whatever a transport raises becomes the watcher's error tree.

    ``route`` names the endpoint (and proxy) in the messages; they never hold a URL, so no credentials.
    """
    try:
        yield
    except ApiError:
        raise
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise TimeoutApiError(f"request{_to(route)} timed out ({type(exc).__name__})") from exc
    except httpx.DecodingError as exc:  # a Content-Encoding (gzip, br...) body that does not decode
        raise DecodeError(f"response body could not be decoded ({type(exc).__name__})") from exc
    except httpx.RemoteProtocolError as exc:
        detail = f"{type(exc).__name__}: {scrub(str(exc), 120)}"
        raise ConnectApiError(f"malformed or broken HTTP response{_to(route, 'from')} ({detail})") from exc
    except httpx.RequestError as exc:  # TransportError and the rest: TooManyRedirects...
        if route is None:
            raise ConnectApiError(f"connection failed ({cause(exc, NO_ROUTE, scrub)})") from exc
        raise ConnectApiError(connect_failure(exc, route, scrub)) from exc
    except Exception as exc:  # anything else a transport raises is one failed request, not a crash
        raise ConnectApiError(f"transport error ({type(exc).__name__}: {scrub(str(exc), 120)})") from exc


def _to(route: Route | None, word: str = "to") -> str:
    if route is None:
        return ""
    return f" {word} {route.target}" + (f" via proxy {route.via}" if route.via else "")


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise DecodeError(f"expected a JSON object, got {type(body).__name__}")
    return body


def _int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 20:
        value = int(value)  # the docs type "from" as a string in one copy
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"field {key!r} is not an integer")
    if not 0 <= value <= MAX_COUNT:
        raise DecodeError(f"field {key!r} is out of range")
    return value


def parse_error_body(content: bytes, scrub: Scrubber = NO_SECRETS) -> tuple[str | None, str]:
    """(error code, message) from a DLI, APIG, IAM, Livy or plain-text error body, both scrubbed and short."""
    try:
        if len(content) > MAX_ERROR_JSON:
            raise ValueError("too large to be a JSON error")  # noqa: TRY301 - same path as unparseable
        body = json.loads(content)
    except (ValueError, RecursionError):
        return None, scrub(content[:MAX_ERROR_JSON].decode("utf-8", "replace"))
    if not isinstance(body, dict):
        return None, ""
    for candidate in (body, *(v for v in body.values() if isinstance(v, dict))):
        for code_key, msg_key in (
            ("error_code", "error_msg"),
            ("errorCode", "errorMsg"),
            ("code", "message"),
        ):
            if code_key in candidate or msg_key in candidate:
                code = candidate.get(code_key)
                return (scrub(str(code), 64) if code else None), scrub(str(candidate.get(msg_key, "")))
    return None, scrub(str(body.get("msg", "")))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds, or an HTTP date relative to ``now``."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):  # "inf" or "nan" must not stall the backoff forever
        return None
    return max(0.0, seconds)


def error_from_response(status: int, content: bytes, retry_after: str | None, scrub: Scrubber = NO_SECRETS) -> ApiError:
    """Classify an error response: retry (5xx, 429, APIG.0308, DLI.0999), refresh auth, not found, or give up."""
    if 300 <= status < 400:  # redirects are not followed: a body beside one is not the answer
        return PermanentApiError(f"unexpected HTTP {status} (redirects are not followed)", status_code=status)
    code, message = parse_error_body(content, scrub)
    kwargs: dict[str, Any] = {"status_code": status, "error_code": code}
    text = message or f"HTTP {status}"
    if status == 429 or code in THROTTLE_CODES:
        return ThrottledError(text, retry_after=parse_retry_after(retry_after), **kwargs)
    if status >= 500 or code in TRANSIENT_CODES:
        return TransientApiError(text, retry_after=parse_retry_after(retry_after), **kwargs)
    if status in (401, 403):
        return AuthError(text, **kwargs)
    if status == 404 or code in NOT_FOUND_CODES:
        return NotFoundError(text, **kwargs)
    return PermanentApiError(text, **kwargs)
