"""The benchmark's HTTP/2 server process: the same simulated world as server.py, served by Hypercorn.

Hypercorn speaks HTTP/1.1 and cleartext HTTP/2 with prior knowledge on one port, so the bench
can compare the two protocols from the same client library against the same server. Like
server.py it answers ``GET /_bench/stats``, prints one JSON line ``{"url", "ids_file",
"project_id", "batches"}`` once listening, and stops when stdin closes. Needs the ``bench``
extra (hypercorn, h2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from server import StatsApp, build_world

from watcher.simulator import SimAuth
from watcher.simulator.app import SimApp
from watcher.simulator.wire import Request

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from watcher.simulator.wire import Response

    Scope = dict[str, Any]
    Message = dict[str, Any]


class AsgiApp:
    """A simulator request handler (with server.py's stats route) as an ASGI application, HTTP only."""

    def __init__(self, sim: Callable[[Request], Response]) -> None:
        """Serve ``sim``."""
        self._sim = sim

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        """Read the request, let the simulator answer it, send the answer."""
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        req = Request(scope["method"], scope["path"], scope["query_string"].decode("latin-1"), headers, body)
        resp = self._sim(req)
        out = [(b"content-type", resp.content_type.encode()), *((k.encode(), v.encode()) for k, v in resp.headers)]
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        await send({"type": "http.response.body", "body": resp.body})


async def run(app: AsgiApp, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve on the already bound socket until ``stop`` is set."""
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_timeout = 300
    config.keep_alive_max_requests = 2**31  # its default (1,000) ends a connection mid-run
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


async def main_async(args: argparse.Namespace) -> None:
    """Build the world, listen, print where, serve until stdin closes."""
    world = build_world(args.batches, args.lines, args.queue)
    fd, ids_file = tempfile.mkstemp(prefix="bench-ids-", suffix=".txt")
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(world.batch_ids()) + "\n")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        sim = SimApp(world, SimAuth())
        server = loop.create_task(run(AsgiApp(StatsApp(sim, sim.requests)), sock, stop))
        port = sock.getsockname()[1]
        info = {"url": f"http://127.0.0.1:{port}", "ids_file": ids_file, "project_id": world.project_id}
        sys.stdout.write(json.dumps({**info, "batches": args.batches}) + "\n")
        sys.stdout.flush()
        await loop.run_in_executor(None, sys.stdin.read)  # the bench closes our stdin when it is done
        stop.set()
        await server
    finally:
        os.unlink(ids_file)


def main() -> int:
    """Parse the options and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, required=True)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--queue", default="bench")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
