"""The signal and reload loop: SIGHUP and POST /-/reload ask for reloads, served one at a time; SIGTERM stops."""

from __future__ import annotations

import contextlib
import math
import signal
from functools import partial
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from anyio.abc import TaskGroup
    from anyio.from_thread import BlockingPortal
    from anyio.streams.memory import MemoryObjectSendStream

    from watcher.daemon.live import LiveConfig

    Reload = Callable[[], Awaitable[str | None]]
    Answer = str | None | Exception
    Asker = MemoryObjectSendStream[Answer]  # where one POST's answer goes

# POST /-/reload's answer when the watcher stops before its reload ran
STOPPING = "the watcher is stopping"


class ReloadRequests:
    """Asks for a reload from SIGHUP (coalesced, unanswered) and POST /-/reload (answered), one reload at a time."""

    def __init__(self, live: LiveConfig, portal: BlockingPortal) -> None:
        self._live, self._portal = live, portal
        # a buffer of one: SIGHUPs during a reload make one more reload afterwards, not one each
        self._hup_in, self._hups = anyio.create_memory_object_stream[None](1)
        self._ask_in, self._asks = anyio.create_memory_object_stream["Asker"](math.inf)
        self._one_at_a_time = anyio.Lock()

    def hup(self) -> None:
        """Ask for a reload (a SIGHUP, or one noted before the watcher started); one already waiting covers it."""
        with contextlib.suppress(anyio.WouldBlock):
            self._hup_in.send_nowait(None)

    def close(self) -> None:
        """No more asks: a POST from now on is answered that the watcher is stopping."""
        for stream in (self._hup_in, self._hups, self._ask_in, self._asks):
            stream.close()

    def lifecycle(self) -> Callable[[], str | None] | None:
        """POST /-/reload's reload (called from the server's worker thread), or None while the lifecycle API is off."""
        if not self._live.cfg.metrics.enable_lifecycle:
            return None
        return partial(self._portal.call, self._ask)

    def serve(self, tg: TaskGroup, reload: Reload) -> None:
        """Serve the asks with ``reload`` in tasks of their own, so that the signal loop is never blocked by one."""
        tg.start_soon(self._serve_hups, reload)
        tg.start_soon(self._serve_asks, reload)

    async def _ask(self) -> str | None:
        """One POST's reload: queued for the serving task, its error line (None: reloaded) awaited."""
        answer_in, answer = anyio.create_memory_object_stream["Answer"](1)
        with answer:
            try:
                self._ask_in.send_nowait(answer_in)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                answer_in.close()
                return STOPPING
            try:
                got = await answer.receive()
            except anyio.EndOfStream:  # the watcher stopped before or during this reload
                return STOPPING
        if isinstance(got, Exception):
            raise got  # where it was raised before: in the server's worker thread
        return got

    async def _serve_hups(self, reload: Reload) -> None:
        with self._hups:
            async for _ in self._hups:
                async with self._one_at_a_time:
                    await reload()

    async def _serve_asks(self, reload: Reload) -> None:
        with self._asks:
            try:
                async for answer_in in self._asks:
                    with answer_in:
                        async with self._one_at_a_time:
                            answer_in.send_nowait(await _answer(reload))
            finally:
                # POSTs still queued when the watcher stops are answered: none waits for a reload that will not come
                while True:
                    try:
                        self._asks.receive_nowait().close()
                    except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                        break


async def _answer(reload: Reload) -> Answer:
    """The reload's error line, or the exception it raised (the asker raises it)."""
    try:
        return await reload()
    except Exception as exc:  # noqa: BLE001 - handed to the POST's thread, as when it ran the reload itself
        return exc


async def follow_signals(signals: AsyncIterator[int], reloads: ReloadRequests, stop: anyio.CancelScope) -> None:
    """SIGHUP asks for a reload; SIGTERM/SIGINT stop, even while a reload is stuck."""
    async for signum in signals:
        if signum == signal.SIGHUP:
            reloads.hup()
        else:
            stop.cancel()
            return


async def stop_after(until: Callable[[], Awaitable[None]], stop: anyio.CancelScope) -> None:
    """Stop once ``until`` returns (an embedding caller's end)."""
    await until()
    stop.cancel()
