"""A DLI API whose one batch has a huge, an endless or a lying log, served from a thread on 127.0.0.1.

For `logs` and `wait` memory and streaming tests: pages are made on demand (nothing the size of the
log is ever held here either), and each log request is counted as it arrives.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

PROJECT = "p1"
BATCH = "44444444-4444-4444-4444-444444444444"
BASE = f"/v2.0/{PROJECT}/batches"
ENDLESS = 10**12


class LogServer:
    """Serves ``BATCH`` with a log of ``total`` lines of ``width`` characters (``mode``: honest, endless, lying).

    ``on_page(start)`` is called as each log request arrives, before it is answered.
    """

    def __init__(
        self,
        mode: str,
        *,
        total: int = 0,
        width: int = 100,
        state: str = "success",
        on_page: Callable[[int], None] = lambda _: None,
    ) -> None:
        self.mode, self.total, self.width, self.state = mode, total, width, state
        self.on_page = on_page
        self.pages = 0
        self._lock = threading.Lock()
        self._server = _Quiet(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LogServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def details(self) -> dict[str, Any]:
        """The batch: finished, with an empty window (the log endpoint has everything)."""
        return {"id": BATCH, "state": self.state, "name": "big", "queue": "q", "owner": "o", "log": []}

    def page(self, query: dict[str, str]) -> dict[str, Any]:
        """The slice asked for (the lying server always answers the first); made on demand."""
        start = int(query.get("from", "0") or 0)
        size = int(query.get("size", "100") or 100)
        with self._lock:
            self.pages += 1
        self.on_page(start)
        if self.mode == "lying":
            start = 0
        total = ENDLESS if self.mode in ("endless", "lying") else self.total
        count = max(0, min(size, total - start))
        pad = "x" * max(0, self.width - 22)
        lines = [f"line {n:015d} {pad}" for n in range(start, start + count)]
        if start == 0:
            lines[:1] = ["stdout: "] if lines else []
        return {"id": BATCH, "from": start, "total": total, "log": lines}


class _Quiet(ThreadingHTTPServer):
    """A client that hangs up mid-page (killed on purpose) is no news."""

    def handle_error(self, request: object, client_address: object) -> None:
        """Nothing to say."""


def _handler(server: LogServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            if parts.path == f"{BASE}/{BATCH}":
                self._json(200, server.details())
            elif parts.path == f"{BASE}/{BATCH}/log":
                self._json(200, server.page(query))
            elif parts.path == BASE:
                self._json(200, {"from": 0, "total": 1, "sessions": [server.details()]})
            else:
                self._json(404, {"error_code": "DLI.0002", "error_msg": "The object does not exist."})

        def _json(self, status: int, obj: object) -> None:
            body = json.dumps(obj, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            """Quiet."""

    return Handler
