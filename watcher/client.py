"""The DLI/Livy batch API over an injected httpx.AsyncClient; the one place HTTP errors are mapped."""

from __future__ import annotations

import json
import math
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

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
from watcher.model import Snapshot, decode_snapshot
from watcher.states import normalise

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from watcher.config import ApiConfig

THROTTLE_CODES = frozenset({"APIG.0308"})
NOT_FOUND_CODES = frozenset({"DLI.0002", "DLI.0023"})
MAX_MESSAGE = 200
_INT_TEXT = re.compile(r"-?[0-9]+", re.ASCII)


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
    """Read-only operations on batches, for either API flavor."""

    def __init__(self, http: httpx.AsyncClient, api: ApiConfig) -> None:
        self._http = http
        self._api = api
        prefix = f"/v2.0/{api.project_id}/batches" if api.flavor == "dli" else "/batches"
        self._base = api.endpoint.rstrip("/") + prefix
        self._urls: dict[str, httpx.URL] = {}

    async def details(self, batch_id: str) -> Snapshot:
        """``GET .../batches/{id}``: state, fields and the last-10-lines log window."""
        return decode_snapshot(await self._get(self._details_url(batch_id)))

    def _details_url(self, batch_id: str) -> httpx.URL:
        # parsing the URL was ~10% of a poll's CPU (tests/bench), and a batch's never changes
        url = self._urls.get(batch_id)
        if url is None:
            url = self._urls[batch_id] = httpx.URL(f"{self._base}/{batch_id}")
        return url

    def forget(self, batch_ids: Iterable[str]) -> None:
        """Drop what is cached for batches no longer watched."""
        for batch_id in batch_ids:
            self._urls.pop(batch_id, None)

    async def state(self, batch_id: str) -> str:
        """``GET .../batches/{id}/state``: just the (normalised) state."""
        body = _object(await self._get(f"{self._base}/{batch_id}/state"))
        state = body.get("state")
        if not isinstance(state, str) or not state.strip():
            raise DecodeError("field 'state' is missing or not a string")
        return normalise(state)

    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage:
        """``GET .../batches/{id}/log?from=&size=``: a slice of the full log; without ``from``, its tail."""
        params: dict[str, str | int] = {"size": size} if start is None else {"from": start, "size": size}
        if log_type:
            params["type"] = log_type
        body = _object(await self._get(f"{self._base}/{batch_id}/log", params))
        lines = body.get("log")
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise DecodeError("field 'log' is not a list of strings")
        return LogPage(_int(body, "from", start or 0), _int(body, "total", len(lines)), tuple(lines))

    async def list(self, start: int, size: int, /, **filters: str) -> ListPage:
        """``GET .../batches``: a page of batches, filtered by queue_name/state/job_name."""
        params: dict[str, str | int] = {"from": start, "size": size}
        params.update({k: v for k, v in filters.items() if v})
        body = _object(await self._get(self._base, params))
        sessions = body.get("sessions")
        if not isinstance(sessions, list):
            raise DecodeError("field 'sessions' is not a list")
        decoded = tuple(decode_snapshot(s) for s in sessions)
        return ListPage(_int(body, "from", start), _int(body, "total", len(decoded)), decoded)

    async def _get(self, url: str | httpx.URL, params: dict[str, str | int] | None = None) -> object:
        with map_errors():
            resp = await self._http.get(url, params=params, timeout=self._api.timeout_seconds)
            await resp.aread()
        if resp.status_code >= 400:
            raise error_from_response(resp.status_code, resp.content, resp.headers.get("Retry-After"))
        try:
            return json.loads(resp.content)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise DecodeError(f"response is not JSON ({len(resp.content)} bytes)") from None


@contextmanager
def map_errors() -> Iterator[None]:
    """Translate httpx transport exceptions into the watcher's error tree."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TimeoutApiError(f"request timed out ({type(exc).__name__})") from None
    except httpx.DecodingError as exc:  # a Content-Encoding (gzip, br...) body that does not decode
        raise DecodeError(f"response body could not be decoded ({type(exc).__name__})") from None
    except httpx.RequestError as exc:  # TransportError and the rest: TooManyRedirects...
        raise ConnectApiError(f"connection failed ({type(exc).__name__})") from None


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise DecodeError(f"expected a JSON object, got {type(body).__name__}")
    return body


def _int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()) and len(value) < 100:
        value = int(value)  # the docs type "from" as a string in one copy
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"field {key!r} is not an integer")
    return value


def parse_error_body(content: bytes) -> tuple[str | None, str]:
    """(error code, message) from a DLI, APIG, IAM, Livy or plain-text error body."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return None, content[:MAX_MESSAGE].decode("utf-8", "replace").strip()
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
                return (str(code) if code else None), str(candidate.get(msg_key, ""))[:MAX_MESSAGE]
    return None, str(body.get("msg", ""))[:MAX_MESSAGE]


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


def error_from_response(status: int, content: bytes, retry_after: str | None) -> ApiError:
    """Classify an error response: retry, refresh auth, not found, or give up."""
    code, message = parse_error_body(content)
    kwargs: dict[str, Any] = {"status_code": status, "error_code": code}
    text = message or f"HTTP {status}"
    if status == 429 or code in THROTTLE_CODES:
        return ThrottledError(text, retry_after=parse_retry_after(retry_after), **kwargs)
    if status >= 500:
        return TransientApiError(text, retry_after=parse_retry_after(retry_after), **kwargs)
    if status in (401, 403):
        return AuthError(text, **kwargs)
    if status == 404 or code in NOT_FOUND_CODES:
        return NotFoundError(text, **kwargs)
    return PermanentApiError(text, **kwargs)
