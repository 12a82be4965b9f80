"""The recording format (version 1): JSON lines, a header then exchanges and clock readings; checked on the way in.

A recording is a user's attachment, so reading one trusts nothing: every line is capped, every field
typed and bounded, and nothing in it names a file to open. ``check_header`` and ``check_line`` raise
``RecordingError`` with a one-line reason; the caller refuses the whole file.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

FORMAT = "dli-watcher-recording"
VERSION = 1
# the response headers a recording keeps; every other one (and every request header) is left out
KEPT_HEADERS = ("Content-Type", "Content-Encoding", "Content-Length", "Retry-After", "X-Request-Id", "Date")
MAX_LINE_BYTES = 16 * 1024 * 1024  # one exchange: the largest answer the client accepts is 8 MiB by default
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_PATH = 4096
MAX_QUERY_PAIRS = 32
MAX_HEADER_VALUE = 1024
PAIR = 2
ERROR_KINDS = ("timeout", "connect", "decode")


class RecordingError(ValueError):
    """A recording that cannot be replayed: its reason is one line, its ``line`` the 1-based line number."""

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line

    def __str__(self) -> str:
        """The reason, with the line it was found on."""
        return f"line {self.line}: {self.reason}" if self.line else self.reason


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request the watcher made and what came back (or how it failed)."""

    index: int  # the line's position in the file: order of exchanges and clock readings alike
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    error: tuple[str, str] | None = None  # (kind, message) when the request failed without an answer
    iam: bool = False
    wall: float = 0.0


@dataclass(frozen=True, slots=True)
class Clock:
    """One reading of the wall clock the poller made."""

    index: int
    wall: float


@dataclass(frozen=True, slots=True)
class Header:
    """What the run started from."""

    flavor: str
    version: str
    config: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    continued: bool = False  # a rotated segment: its first poll depends on what an earlier segment held


def exchange_line(  # noqa: PLR0913, PLR0917 - one line's fields
    method: str,
    path: str,
    query: list[tuple[str, str]],
    status: int,
    headers: dict[str, str],
    body: bytes,
    wall: float,
    mono: float,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """An exchange as the dict one line holds (JSON-safe); a body that is not UTF-8 goes as base64."""
    line: dict[str, Any] = {"t": "exchange", "method": method, "path": path, "query": [list(p) for p in query]}
    line["status"] = status
    line["headers"] = headers
    try:
        line["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        line["body_b64"] = base64.b64encode(body).decode("ascii")
    if error is not None:
        line["error"] = {"kind": error[0], "message": error[1]}
    line["wall"], line["mono"] = wall, mono
    return line


def check_header(obj: object) -> Header:
    """The header line, or RecordingError."""
    if not isinstance(obj, dict) or obj.get("t") != "header" or obj.get("format") != FORMAT:
        raise RecordingError("the first line is not a dli-watcher recording header", 1)
    if obj.get("format_version") != VERSION:
        raise RecordingError(f"format version {_short(obj.get('format_version'))} is not {VERSION}", 1)
    flavor, config, state = obj.get("flavor"), obj.get("config"), obj.get("state", {})
    if flavor not in ("dli", "livy") or not isinstance(config, dict) or not isinstance(state, dict):
        raise RecordingError("the header's flavor, config or state is missing or misshapen", 1)
    return Header(flavor, _text(obj.get("watcher_version", ""), 64, 1), config, state, obj.get("continued") is True)


def check_line(obj: object, index: int) -> Exchange | Clock | None:
    """An exchange or a clock reading; None for a note (``recording_stopped``); RecordingError otherwise."""
    if not isinstance(obj, dict):
        raise RecordingError("not a JSON object", index)
    kind = obj.get("t")
    if kind == "clock":
        return Clock(index, _number(obj.get("wall"), index))
    if kind == "note":
        return None
    if kind not in ("exchange", "iam"):
        raise RecordingError(f"unknown line type {_short(kind)}", index)
    method, path, status = obj.get("method"), obj.get("path"), obj.get("status")
    if method not in ("GET", "POST", "DELETE", "PUT", "HEAD"):
        raise RecordingError(f"unknown method {_short(method)}", index)
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH:
        raise RecordingError("the path is not an absolute URL path", index)
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 999:
        raise RecordingError("the status is not an HTTP status", index)
    wall = _number(obj.get("wall", 0.0), index)
    if kind == "iam":
        return Exchange(index, method, path, (), status, iam=True, wall=wall)
    return Exchange(
        index, method, path, _query(obj.get("query", []), index), status,
        _headers(obj.get("headers", {}), index), _body(obj, index), _error(obj.get("error"), index), wall=wall,
    )  # fmt: skip


def _query(raw: object, index: int) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or len(raw) > MAX_QUERY_PAIRS:
        raise RecordingError("the query is not a short list of pairs", index)
    pairs = []
    for pair in raw:
        if not isinstance(pair, list) or len(pair) != PAIR:
            raise RecordingError("the query is not a list of [name, value] pairs", index)
        pairs.append((_text(pair[0], MAX_PATH, index), _text(pair[1], MAX_PATH, index)))
    return tuple(pairs)


def _headers(raw: object, index: int) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        raise RecordingError("the headers are not an object", index)
    kept = {h.lower(): h for h in KEPT_HEADERS}
    out = []
    for name, value in raw.items():
        if name.lower() not in kept:
            raise RecordingError(f"header {_short(name)} is not one a recording keeps", index)
        text = _text(value, MAX_HEADER_VALUE, index)
        if any(c in text for c in "\r\n\0"):
            raise RecordingError(f"header {name} holds a line break", index)
        out.append((kept[name.lower()], text))
    return tuple(out)


def _body(obj: dict[str, Any], index: int) -> bytes:
    if "body_b64" in obj:
        try:
            return base64.b64decode(_text(obj["body_b64"], MAX_LINE_BYTES, index), validate=True)
        except binascii.Error:
            raise RecordingError("body_b64 is not base64", index) from None
    return _text(obj.get("body", ""), MAX_LINE_BYTES, index).encode("utf-8", "replace")


def _error(raw: object, index: int) -> tuple[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("kind") not in ERROR_KINDS:
        raise RecordingError("the error is not one of " + ", ".join(ERROR_KINDS), index)
    return raw["kind"], _text(raw.get("message", ""), 1024, index)


def _text(value: object, limit: int, index: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise RecordingError(f"a text field is not a string of at most {limit} characters", index)
    return value


def _number(value: object, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e11:
        raise RecordingError("a time is not a number of seconds", index)
    return float(value)


def _short(value: object) -> str:
    """A value from the file, quoted and cut short for a message (the caller escapes the line)."""
    return repr(value)[:40]
