"""HTTP/1.1 on the wire: parse requests from a buffer, encode responses to bytes."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl

from watcher.simulator.render import dumps

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class BadRequestError(Exception):
    """The bytes on the connection are not a request we can serve; answer with ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Request:
    """One parsed request; header names are lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""
    version: str = "HTTP/1.1"

    def params(self) -> list[tuple[str, str]]:
        """Decode the query pairs, in the order sent."""
        return parse_qsl(self.query, keep_blank_values=True) if self.query else []

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the response."""
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"


@dataclass(slots=True)
class Response:
    """What to send back; ``drop`` closes the connection without answering."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    delay: float = 0.0
    drop: bool = False


def json_response(status: int, obj: object, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """Build a JSON response."""
    return Response(status, dumps(obj), headers)


def _head(data: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Split a request head into method, target, version and headers."""
    lines = data.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise BadRequestError(400, "malformed request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequestError(400, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    return method, target, version, headers


def parse_request(buf: bytearray) -> tuple[Request, int] | None:
    """Parse one complete request from the front of ``buf``; None until it is all there."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise BadRequestError(431, "request head too large")
        return None
    method, target, version, headers = _head(bytes(buf[:end]))
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequestError(501, "chunked request bodies are not supported")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadRequestError(400, "bad Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise BadRequestError(413, "body too large")
    total = end + 4 + length
    if len(buf) < total:
        return None
    path, _, query = target.partition("?")
    return Request(method, path, query, headers, bytes(buf[end + 4 : total]), version), total


def encode_response(resp: Response, *, keep_alive: bool) -> bytes:
    """Serialise a response with Content-Length framing."""
    head = [
        f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}",
        f"Content-Type: {resp.content_type}",
        f"Content-Length: {len(resp.body)}",
    ]
    head.extend(f"{name}: {value}" for name, value in resp.headers)
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp.body
