"""SimServer: run the simulator's HTTP server in the current event loop or in its own thread."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from typing import TYPE_CHECKING

import anyio

from watcher.simulator.app import SimApp
from watcher.simulator.protocol import Handler, HttpProtocol

if TYPE_CHECKING:
    import ssl
    from collections import Counter
    from types import TracebackType

    from anyio.abc import TaskStatus

    from watcher.simulator.auth import SimAuth
    from watcher.simulator.world import World


class SimServer:
    """The simulated DLI/Livy + IAM endpoint for one world; loopback only unless told otherwise."""

    def __init__(
        self,
        world: World,
        auth: SimAuth | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        admin_routes: bool = True,
        tls: ssl.SSLContext | None = None,
        handler: Handler | None = None,
    ) -> None:
        self.world = world
        self.tls = tls
        self.app = SimApp(world, auth, admin_routes=admin_routes)
        self._handler = handler  # another handler (a recording's) serves instead of the app
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._bound = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8080`` (https with ``tls``; the real port once bound)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def requests(self) -> Counter[str]:
        """Requests served so far, per route (``details``, ``state``, ``log``, ``list``, ``iam``...)."""
        return self.app.requests

    async def serve(self, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled or ``stop()``; needs the asyncio backend; reports the URL once bound."""
        loop = asyncio.get_running_loop()
        self._loop, self._stop = loop, asyncio.Event()
        connections: set[HttpProtocol] = set()
        handler = self._handler or self.app
        server = await loop.create_server(
            lambda: HttpProtocol(handler, connections), self.host, self.port, reuse_address=True, ssl=self.tls
        )
        self.port = server.sockets[0].getsockname()[1]
        try:
            self._bound.set()
            task_status.started(self.url)
            await self._stop.wait()
        finally:
            server.close()
            for conn in list(connections):
                conn.close()
            with anyio.CancelScope(shield=True):
                await asyncio.sleep(0)  # let the transports finish closing
            self._loop = None

    def stop(self) -> None:
        """Stop serving (from any thread); waits for the server thread when there is one."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
            self._thread = None
            if self.tls is not None:
                # a TLS connection still in its handshake when the server stopped is in no connection set;
                # collect what is left of it now, known to be this server's, rather than let the garbage
                # collector warn about it in the middle of whatever runs next
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ResourceWarning)
                    gc.collect()

    def start_in_thread(self) -> str:
        """Serve from a daemon thread with its own event loop; returns the base URL once bound."""
        self._bound.clear()
        self._error = None
        self._thread = threading.Thread(target=self._thread_main, name="dli-sim", daemon=True)
        self._thread.start()
        self._bound.wait(timeout=10)
        if self._error is not None:
            raise self._error
        if not self._bound.is_set():
            raise RuntimeError("simulator did not start within 10 s")
        return self.url

    def _thread_main(self) -> None:
        """Run ``serve`` in a fresh event loop; hand failures to the starter."""
        try:
            asyncio.run(self.serve())
        except BaseException as exc:  # noqa: BLE001
            self._error = exc
            self._bound.set()

    def __enter__(self) -> str:
        return self.start_in_thread()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimServer({self.world.flavor}, {self.url})"
