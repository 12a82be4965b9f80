"""A small, fast HTTP/1.1 server protocol for asyncio: keep-alive, pipelining, delayed answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import cast

from watcher.simulator.wire import BadRequestError, Request, Response, encode_response, parse_request

Handler = Callable[[Request], Response]


class HttpProtocol(asyncio.Protocol):
    """One connection: parse requests in order, answer each, honour delays and drops."""

    def __init__(self, handler: Handler, connections: set[HttpProtocol]) -> None:
        self._handler = handler
        self._connections = connections
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._waiting = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport and register the connection."""
        self._transport = cast("asyncio.Transport", transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        """Forget the connection."""
        self._transport = None
        self._connections.discard(self)

    def data_received(self, data: bytes) -> None:
        """Buffer bytes and answer every complete request, unless a delayed answer is pending."""
        self._buf += data
        if not self._waiting:
            self._process()

    def close(self) -> None:
        """Close the connection now."""
        if self._transport is not None:
            self._transport.close()

    def _process(self) -> None:
        """Answer buffered requests in order until one is incomplete or delayed."""
        while self._transport is not None and not self._transport.is_closing():
            try:
                parsed = parse_request(self._buf)
            except BadRequestError as exc:
                error = Response(exc.status, str(exc).encode(), content_type="text/plain")
                self._write(error, keep_alive=False)
                return
            if parsed is None:
                return
            req, used = parsed
            del self._buf[:used]
            resp = self._handler(req)
            if resp.delay > 0:
                self._waiting = True
                loop = asyncio.get_running_loop()
                loop.call_later(resp.delay, self._resume, resp, req.keep_alive)
                return
            self._write(resp, keep_alive=req.keep_alive)

    def _resume(self, resp: Response, keep_alive: bool) -> None:
        """Send a delayed answer, then go on with buffered requests."""
        self._waiting = False
        self._write(resp, keep_alive=keep_alive)
        self._process()

    def _write(self, resp: Response, *, keep_alive: bool) -> None:
        """Send one response, or close the connection for a drop."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if resp.drop:
            transport.close()
            return
        with contextlib.suppress(RuntimeError, OSError):
            transport.write(encode_response(resp, keep_alive=keep_alive))
            if not keep_alive:
                transport.close()
