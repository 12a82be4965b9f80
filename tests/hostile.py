"""A raw-socket HTTP/1.1 server answering the DLI batch API with one hostile reply per mode, for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import TracebackType

PROJECT = "p1"
GOOD = "11111111-1111-1111-1111-111111111111"
BAD = "22222222-2222-2222-2222-222222222222"
OTHER = "33333333-3333-3333-3333-333333333333"  # the batch whose data id-mismatch passes off as BAD's
BASE = f"/v2.0/{PROJECT}/batches"
IAM_PATH = "/v3/auth/tokens"
WINDOW = 10
HUGE_TOTAL = 10**12
EVIL_IDS = ("/admin/secrets?x=", "../x", "../../evil/path?x=")
LATE_AFTER_SECONDS = 1.0
MIB = 1 << 20
GZIP_BOMB_BYTES = 1 << 30  # what the bomb's body decompresses to, at least
MAX_HEAD = 64 * 1024

# Out-of-range update_time values, as raw JSON number text.
BAD_TIMES = {
    "time-1e20": "1e20",
    "time-negative": str(-(10**15)),
    "time-year-10000": "253402300800000",
    "time-4000-digits": "1" + "0" * 3999,
}
LATE_TIME = "9" * 400

MALFORMED = ("bad-status", "not-http", "header-no-colon", "header-too-long")
SIZES = ("body-5mb", "body-10mb", "body-10mb-chunked", "gzip-bomb")
LISTS = ("list-total", "discovery-total", "discovery-ids")
RETRIES = ("retry-429-seconds", "retry-429-date", "retry-503-seconds")
AUTH = ("iam-401", "iam-500", "api-401")
IDS = ("id-traversal", "id-mismatch")
ECHOES = ("echo-text", "echo-json", "echo-proxy")
# echo-proxy: this server is the watcher's forward proxy ($HTTP_PROXY with credentials) and, for BAD,
# the gateway that answers with the request headers as JSON in its message, Proxy-Authorization first
PROXY_USER = "proxyuser"
PROXY_PASSWORD = "PLANTED-proxy-pw-7Hq2"
PROXIED_ENDPOINT = "http://dli-api.test"
MODES = (
    "good",
    *MALFORMED,
    *BAD_TIMES,
    "late-huge-time",
    "surrogates",
    *SIZES,
    *LISTS,
    *RETRIES,
    *AUTH,
    *IDS,
    *ECHOES,
    "redirect",
    "u2028",
    "unknown-states",
)
# Modes in which BAD's /log endpoint answers a valid page (BAD's details are readable, if odd).
_READABLE = frozenset(
    {"good", *BAD_TIMES, "late-huge-time", "surrogates", "body-5mb", *LISTS, "u2028", "unknown-states"}
)
_MARK = "\x00raw\x00"  # a placeholder string replaced by raw JSON text after dumping


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as it arrived: method, raw target (path and query), headers, arrival (monotonic)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    at: float

    @property
    def path(self) -> str:
        """The target's path, undecoded."""
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        """The target's query parameters."""
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))


@dataclass(slots=True)
class Reply:
    """What goes back on the wire: chunks of raw bytes, and whether to close the connection after."""

    chunks: Iterable[bytes]
    close: bool = False


def http(
    status: int,
    body: bytes = b"",
    *,
    reason: str = "",
    headers: Iterable[tuple[str, str]] = (),
    content_type: str = "application/json",
    close: bool = False,
) -> Reply:
    """A well-formed HTTP/1.1 response with a Content-Length."""
    lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Whatever')}", f"Content-Type: {content_type}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return Reply([("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body], close)


def json_reply(status: int, obj: object, **kw: Any) -> Reply:
    """A JSON response, ASCII-escaped: lone surrogates and U+2028 travel as JSON escapes."""
    return http(status, _dumps(obj), **kw)


_REASONS = {200: "OK", 201: "Created", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
_REASONS |= {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def _dumps(obj: object, raw: str | None = None) -> bytes:
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    if raw is not None:
        text = text.replace(json.dumps(_MARK), raw)
    return text.encode("ascii")


def _now_ms() -> int:
    return int(time.time() * 1000)


def sectioned(stdout: Iterable[str]) -> list[str]:
    """A whole DLI log: the stdout marker and lines, then the (empty) stderr and diagnostics sections."""
    return ["stdout: ", *stdout, "stderr: ", "YARN Diagnostics: "]


def details(
    bid: str, *, name: str, log: list[str], state: str = "running", owner: str = "o", app_id: str | None = None
) -> dict[str, Any]:
    """A DLI details object with the last-10-lines window of ``log``."""
    now = _now_ms()
    return {
        "id": bid,
        "state": state,
        "appId": app_id or f"app-{name}",
        "name": name,
        "queue": "q",
        "owner": owner,
        "kind": "spark",
        "sc_type": "A",
        "create_time": now - 60_000,
        "update_time": now,
        "log": log[-WINDOW:],
    }


def log_page(bid: str, lines: list[str], query: dict[str, str]) -> dict[str, Any]:
    """``.../log?from=&size=``: a slice of the whole log; without ``from``, its tail."""
    size = max(0, min(int(query.get("size", "100") or 100), 100_000))
    start = int(query["from"]) if query.get("from", "").isdigit() else max(0, len(lines) - size)
    return {"id": bid, "from": start, "total": len(lines), "log": lines[start : start + size]}


def filler(start: int, size: int, owner: str) -> list[dict[str, Any]]:
    """``size`` made-up sessions in queue q, as pages of a list the watcher has no business paging through."""
    now = _now_ms()
    return [
        {
            "id": f"99999999-0000-4000-8000-{(start + n) % 10**12:012d}",
            "state": "running",
            "name": "filler",
            "queue": "q",
            "owner": owner,
            "kind": "spark",
            "create_time": now - 3_600_000,
            "update_time": now,
            "log": [],
            "duration": 1000,
        }
        for n in range(max(0, min(size, 1000)))
    ]


@cache
def big_log(megabytes: int) -> tuple[str, ...]:
    """About ``megabytes`` MB of short stdout lines (50 bytes each in JSON)."""
    return tuple(f"bad line {n:09d} " + "x" * 28 for n in range(megabytes * 1_000_000 // 50))


@cache
def big_body(megabytes: int) -> bytes:
    """A valid details body of about ``megabytes`` MB whose ``log`` list holds many short lines."""
    obj = details(BAD, name="bad", log=[])
    obj["log"] = ["stdout: ", *big_log(megabytes)]
    return _dumps(obj)


@cache
def gzip_bomb() -> bytes:
    """A gzip body (about 1 MB) that decompresses to a >= 1 GiB valid JSON details object.

    After a full flush a deflate stream forgets its history, so the block compressing one MiB of
    ``0`` is the same at every position: it is computed once and repeated.
    """
    prefix = b'{"id":"' + BAD.encode() + b'","state":"running","queue":"q","name":"'
    suffix = b'"}'
    chunk = b"0" * MIB
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = raw.compress(prefix) + raw.flush(zlib.Z_FULL_FLUSH)
    block = raw.compress(chunk) + raw.flush(zlib.Z_FULL_FLUSH)
    tail = raw.compress(suffix) + raw.flush(zlib.Z_FINISH)
    count = GZIP_BOMB_BYTES // MIB
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + count * MIB + len(suffix)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little")
    return header + head + block * count + tail + trailer


def _chunked(body: bytes, piece: int = 64 * 1024) -> Iterator[bytes]:
    for at in range(0, len(body), piece):
        part = body[at : at + piece]
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class HostileServer:
    """Serves GOOD (always valid, one new log line per answer) and BAD (hostile as ``mode`` says) on 127.0.0.1."""

    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.seen: list[Seen] = []
        # when the first hostile answer went out (time.monotonic()), None until then
        self.hostile_at: float | None = None
        self._lock = threading.Lock()
        self._good_lines = 0
        self._bad_answers = 0
        self._bad_first: float | None = None
        self._tokens = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._conns: set[socket.socket] = set()
        self._closing = False
        self._thread = threading.Thread(target=self._accept, name=f"hostile-{mode}", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def start(self) -> HostileServer:
        """Start accepting in a background thread."""
        if self.mode == "gzip-bomb":
            gzip_bomb()  # built before the first request, not while the watcher waits on it
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and drop every open connection."""
        self._closing = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        """The requests seen so far, optionally only those with this method and path."""
        with self._lock:
            seen = list(self.seen)
        return [s for s in seen if (method is None or s.method == method) and (path is None or s.path == path)]

    # -- the wire ---------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._closing:
                req, buf = self._read(conn, buf)
                if req is None:
                    return
                with self._lock:
                    self.seen.append(req)
                reply = self._answer(req)
                for chunk in reply.chunks:
                    conn.sendall(chunk)
                if reply.close:
                    return
        except OSError:
            return  # the client gave up (a capped body, a timeout): its business
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    @staticmethod
    def _read(conn: socket.socket, buf: bytes) -> tuple[Seen | None, bytes]:
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                return None, b""
            data = conn.recv(65536)
            if not data:
                return None, b""
            buf += data
        head, _, buf = buf.partition(b"\r\n\r\n")
        at = time.monotonic()
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*request_line.split(" ", 2), "", ""][:3]
        headers = tuple((k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in header_lines))
        length = int(dict(headers).get("content-length", "0") or 0)
        while len(buf) < length:
            data = conn.recv(65536)
            if not data:
                return None, b""
            buf += data
        return Seen(method, target, headers, at), buf[length:]

    def _hostile(self) -> None:
        with self._lock:
            if self.hostile_at is None:
                self.hostile_at = time.monotonic()

    # -- routing ----------------------------------------------------------------------------------

    def _answer(self, req: Seen) -> Reply:
        path = req.path
        if path == IAM_PATH and req.method == "POST":
            return self._iam()
        if self.mode == "api-401" and path.startswith(BASE):
            self._hostile()
            body = {"error_code": "APIG.1002", "error_msg": "Incorrect token or token resolution failed"}
            return json_reply(401, body)
        if req.method == "GET" and path == BASE:
            return self._list(req.query)
        bid, _, sub = path.removeprefix(BASE + "/").partition("/")
        if req.method != "GET" or not path.startswith(BASE + "/") or bid not in (GOOD, BAD) or sub not in ("", "log"):
            return json_reply(404, {"error_code": "DLI.0002", "error_msg": "The object does not exist."})
        if bid == GOOD:
            return self._good(sub, req.query)
        return self._bad(sub, req)

    def _good_details(self) -> dict[str, Any]:
        with self._lock:
            self._good_lines += 1
            n = self._good_lines
        return details(GOOD, name="good", log=sectioned(f"good line {i}" for i in range(max(1, n - 12), n + 1)))

    def _good(self, sub: str, query: dict[str, str]) -> Reply:
        if sub == "":
            return json_reply(200, self._good_details())
        with self._lock:
            n = self._good_lines
        return json_reply(200, log_page(GOOD, sectioned(f"good line {i}" for i in range(1, n + 1)), query))

    def _iam(self) -> Reply:
        if self.mode == "iam-401":
            self._hostile()
            body = {"error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}}
            return json_reply(401, body)
        if self.mode == "iam-500":
            self._hostile()
            return json_reply(500, {"error": {"code": 500, "message": "Internal error", "title": "Error"}})
        with self._lock:
            self._tokens += 1
            token = f"iam-token-{self._tokens}"
        now = datetime.now(UTC)
        body = {"token": {"issued_at": _iso(now), "expires_at": _iso(now + timedelta(days=1))}}
        return json_reply(201, body, headers=[("X-Subject-Token", token)])

    def _list(self, query: dict[str, str]) -> Reply:
        start = int(query["from"]) if query.get("from", "").isdigit() else 0
        size = int(query["size"]) if query.get("size", "").isdigit() else 100
        if self.mode in ("list-total", "discovery-total"):
            self._hostile()
            if self.mode == "list-total" and start == 0:
                sessions = [self._good_details(), self._bad_object()]
            else:  # more pages of batches nobody watches or matches, for as long as the client asks
                sessions = filler(start, size, owner="intruder")
            return json_reply(200, {"from": start, "total": HUGE_TOTAL, "sessions": sessions})
        sessions = [self._good_details(), self._bad_object()] if start == 0 else []
        if self.mode == "discovery-ids" and start == 0:
            self._hostile()
            sessions += [details(bid, name="evil", log=[]) for bid in EVIL_IDS]
        return json_reply(200, {"from": start, "total": len(sessions) if start == 0 else 2, "sessions": sessions})

    # -- BAD --------------------------------------------------------------------------------------

    def _bad_lines(self) -> list[str]:
        if self.mode == "surrogates":
            return sectioned(["x \ud83d y", "z \udcff", "ok"])
        if self.mode == "u2028":
            return sectioned(["sep \u2028 ls \u2029 ps \u0085 nel end"])
        if self.mode == "body-5mb":
            return ["stdout: ", *big_log(5)]
        return sectioned(["bad line 1"])

    def _bad_object(self) -> dict[str, Any]:
        obj = details(
            BAD, name="\ud800" if self.mode == "surrogates" else "bad", log=self._bad_lines(), app_id="app-bad"
        )
        if self.mode == "unknown-states":
            with self._lock:
                obj["state"] = f"state-{self._bad_answers}"
        return obj

    def _bad(self, sub: str, req: Seen) -> Reply:
        with self._lock:
            self._bad_answers += 1
            if self._bad_first is None:
                self._bad_first = time.monotonic()
            first = self._bad_first
        if self.mode == "late-huge-time":
            if time.monotonic() - first >= LATE_AFTER_SECONDS:
                self._hostile()
        elif self.mode not in LISTS:
            self._hostile()
        if sub == "log" and self.mode in _READABLE:
            lines = list(self._bad_lines()) if self.mode != "body-5mb" else ["stdout: ", *big_log(5)]
            return json_reply(200, log_page(BAD, lines, req.query))
        return self._bad_details(req)

    def _bad_details(self, req: Seen) -> Reply:  # noqa: PLR0911 - one branch per mode
        mode = self.mode
        if mode in MALFORMED:
            return self._malformed()
        if mode in BAD_TIMES or (mode == "late-huge-time" and self.hostile_at is not None):
            obj = self._bad_object()
            obj["update_time"] = _MARK
            return http(200, _dumps(obj, BAD_TIMES.get(mode, LATE_TIME)))
        if mode == "body-5mb":
            return http(200, big_body(5))
        if mode == "body-10mb":
            return http(200, big_body(10))
        if mode == "body-10mb-chunked":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            return Reply([head, *_chunked(big_body(10))])
        if mode == "gzip-bomb":
            return http(200, gzip_bomb(), headers=[("Content-Encoding", "gzip")])
        if mode in RETRIES:
            return self._retry()
        if mode == "id-traversal":
            obj = self._bad_object()
            obj["id"] = "../../evil/path?x="
            return json_reply(200, obj)
        if mode == "id-mismatch":
            return json_reply(200, details(OTHER, name="other-job", log=sectioned(["other line 1"]), state="dead"))
        if mode in ECHOES:
            return self._echo(req)
        if mode == "redirect":
            return json_reply(302, self._bad_object(), headers=[("Location", f"/redirected{BASE}/{BAD}")])
        return json_reply(200, self._bad_object())

    def _malformed(self) -> Reply:
        body = _dumps(self._bad_object())
        if self.mode == "bad-status":
            return Reply(
                [
                    b"HTTP/1.1 abc OK\r\nContent-Type: application/json\r\n",
                    b"Content-Length: %d\r\n\r\n" % len(body),
                    body,
                ],
                close=True,
            )
        if self.mode == "not-http":
            noise = random.Random(self._bad_answers).randbytes(512)
            return Reply([b"\x16\x03\x01\x00\xff" + noise], close=True)
        if self.mode == "header-no-colon":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nThis line has no colon\r\n"
            return Reply([head, b"Content-Length: %d\r\n\r\n" % len(body), body], close=True)
        long_header = ("X-Padding: " + "a" * 9000).encode()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + long_header + b"\r\n"
        return Reply([head, b"Content-Length: %d\r\n\r\n" % len(body), body], close=True)

    def _retry(self) -> Reply:
        if self.mode == "retry-503-seconds":
            body = {"error_code": "DLI.0999", "error_msg": "Service unavailable, try again later"}
            return json_reply(503, body, headers=[("Retry-After", "999999999")])
        when = "999999999" if self.mode == "retry-429-seconds" else "Fri, 31 Dec 9999 23:59:59 GMT"
        return json_reply(429, {"error_msg": "Too many requests"}, headers=[("Retry-After", when)])

    def _echo(self, req: Seen) -> Reply:
        """A 400 whose body echoes the request headers, credentials first, padded to 100 KB."""
        first = sorted(req.headers, key=lambda kv: "auth" not in kv[0] and "token" not in kv[0])
        echoed = "\n".join(f"{k}: {v}" for k, v in first)
        if self.mode == "echo-proxy":
            headers: dict[str, list[str]] = {}
            for k, v in first:
                headers.setdefault("-".join(p.capitalize() for p in k.split("-")), []).append(v)
            message = "gateway rejected the request; headers: " + json.dumps(headers, separators=(",", ":"))
            return json_reply(400, {"error_code": "APIG.0201", "error_msg": message, "headers": headers})
        if self.mode == "echo-json":
            token = dict(req.headers).get("x-auth-token", "")
            message = f"invalid header x-auth-token: {token}; request headers: {echoed} " + "x" * 100_000
            return json_reply(400, {"error_code": "DLI.0001", "error_msg": message})
        text = f"400 Bad Request\n{echoed}\n{req.method} {req.target}\n" + "x" * 100_000
        return http(400, text.encode(), content_type="text/plain")
