"""The HTTP endpoints: /metrics, /healthz, /readyz and a landing page, served from worker threads.

Rendering a large exposition takes milliseconds to a second; doing it off the event loop keeps a
scrape from ever delaying a poll. The serving thread is owned by a task in the app's task group.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import anyio
from prometheus_client.exposition import ThreadingWSGIServer

from watcher import __version__
from watcher.metrics.exposition import body

if TYPE_CHECKING:
    from anyio.abc import TaskStatus
    from prometheus_client import CollectorRegistry

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

LANDING = """<!doctype html><html><head><title>dli-watcher</title></head><body>
<h1>dli-watcher {version}</h1><p>Watches Huawei Cloud DLI / Apache Livy batch jobs.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li>
<li><a href="/readyz">/readyz</a></li></ul></body></html>
"""


class _Quiet(WSGIRequestHandler):
    """No access log on stderr: the event stream is the watcher's only output."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Drop it."""


def _text(start: StartResponse, status: str, body: str, kind: str = "text/plain; charset=utf-8") -> list[bytes]:
    data = body.encode()
    start(status, [("Content-Type", kind), ("Content-Length", str(len(data)))])
    return [data]


def make_app(
    registry: CollectorRegistry,
    batches: Callable[[], str],
    healthy: Callable[[], bool],
    not_ready: Callable[[], str | None],
) -> Callable[..., Iterable[bytes]]:
    """The WSGI application routing the four endpoints; ``batches`` renders the per-batch families.

    ``not_ready`` says why the watcher is not ready (None when it is).
    """

    def app(environ: Environ, start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            data, headers = body(
                registry, batches(), environ.get("HTTP_ACCEPT", ""), environ.get("HTTP_ACCEPT_ENCODING", "")
            )
            start("200 OK", [*headers, ("Content-Length", str(len(data)))])
            return [data]
        if path == "/healthz":
            return _text(start, "200 OK", "ok\n") if healthy() else _text(start, "503 Service Unavailable", "stalled\n")
        if path == "/readyz":
            reason = not_ready()
            return (
                _text(start, "200 OK", "ready\n")
                if reason is None
                else _text(start, "503 Service Unavailable", reason + "\n")
            )
        if path == "/":
            return _text(start, "200 OK", LANDING.format(version=__version__), "text/html; charset=utf-8")
        return _text(start, "404 Not Found", "not found\n")

    return app


def _server_class(host: str) -> type[ThreadingWSGIServer]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingWSGIServer):
        address_family = family

    return Server


class _Serving:
    """Whether the serving thread entered ``serve_forever``, decided under a lock against a stop.

    ``socketserver.shutdown()`` waits for ``serve_forever`` to end: called when the thread never got
    to it (the daemon failed right after binding), it waits forever, and the process hangs alive and
    silent. So the stop asks only a loop that started, and a thread that starts after the stop
    does not serve at all.
    """

    def __init__(self, server: ThreadingWSGIServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._started = self._stopped = False

    def run(self) -> None:
        """The serving thread: serve until shut down, unless the stop came first."""
        with self._lock:
            if self._stopped:
                return
            self._started = True
        self._server.serve_forever(0.5)

    def stop(self) -> None:
        """Shut the loop down if it started; in any case, make sure it never starts now."""
        with self._lock:
            self._stopped = True
            started = self._started
        if started:
            self._server.shutdown()


async def serve(
    host: str,
    port: int,
    app: Callable[..., Iterable[bytes]],
    *,
    task_status: TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Bind (failing fast if the port is taken), report the address, serve until cancelled."""
    server = make_server(host, port, app, server_class=_server_class(host), handler_class=_Quiet)
    address = server.server_address
    serving = _Serving(server)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, serving.run)
            task_status.started((str(address[0]), int(address[1])))
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(serving.stop)
    finally:
        server.server_close()
