"""HTTP/1.x on the wire for the metrics server: parse a request head, encode a response, nothing more.

The server answers one request per connection and then closes it (``Connection: close``): a scraper
opens a new connection per scrape anyway, and an idle keep-alive connection would hold a slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

# a scraper's head is a few hundred bytes; a long one is a mistake or an attack
MAX_HEAD_BYTES = 16 * 1024
SERVER = "dli-watcher"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class BadRequestError(ValueError):
    """A request head that is not HTTP/1.x."""


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request head; header names are lower-case, repeated headers joined with ", "; the query undecoded."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: str = ""

    def header(self, name: str) -> str:
        """A header's value, or "" when absent."""
        return self.headers.get(name, "")


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response; ``Content-Length``, ``Connection``, ``Date`` and ``Server`` are added on the wire."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())


def text(status: int, body: str, *headers: tuple[str, str], kind: str = "text/plain; charset=utf-8") -> Response:
    """A text response."""
    return Response(status, body.encode(), (("Content-Type", kind), *headers))


def parse_head(head: bytes) -> Request:
    """The request in a head that ends with an empty line; raises BadRequestError."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[2].startswith("HTTP/1."):
        raise BadRequestError("bad request line")
    method, target, _ = parts
    # origin form (/metrics?x) or absolute form (http://host/metrics), as a proxy may send
    if "://" in target:
        split = urlsplit(target)
        path, query = split.path, split.query
    else:
        path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise BadRequestError("bad header line")
        key, value = name.lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return Request(method, path or "/", headers, query)


def encode(response: Response, *, head_only: bool = False, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The response on the wire; HEAD gets the headers a GET would, without the body."""
    status = HTTPStatus(response.status)
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines += [f"{name}: {value}" for name, value in (*response.headers, *extra)]
    lines += [
        f"Content-Length: {len(response.body)}",
        "Connection: close",
        f"Date: {formatdate(usegmt=True)}",
        f"Server: {SERVER}",
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body
