"""Event lines leave the process from a queue drained by a thread of its own, so a stalled reader never blocks the loop.

A log shipper that stops reading fills the pipe, and ``write()`` then blocks: on the event loop that
would stop every poll and every signal. Here the loop only appends to a queue; a daemon thread writes.
The queue is bounded by agreement, not by refusal: ``full`` tells the producers to stop advancing (the
poller holds its results), and a put is never refused, so nothing already produced is dropped.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import threading
from collections import deque
from typing import TYPE_CHECKING, TextIO

import anyio
import anyio.from_thread
import anyio.lowlevel

if TYPE_CHECKING:
    from collections.abc import Callable

# lines queued but not yet written at which producers are asked to stop advancing
DEFAULT_LIMIT = 10_000
# and characters (the bytes of the JSON lines, which are ASCII): a few long lines fill memory before many short ones
DEFAULT_BYTE_LIMIT = 32 * 1024 * 1024


def stream_writer(stream: TextIO) -> Callable[[str], None]:
    """A blocking ``write(text)`` for ``stream``: straight to its file descriptor when it has one.

    Writing to the descriptor keeps the thread out of the stream's buffer lock, which the interpreter
    takes at exit: a thread stuck in a write there would turn a prompt exit into a hang or an abort.
    """
    try:
        fd = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return _flushing(stream)
    stream.flush()
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return lambda text: _write_all(fd, text.encode(encoding, "backslashreplace"))


def _flushing(stream: TextIO) -> Callable[[str], None]:
    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return write


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            # a stdout its parent left non-blocking: wait until the reader makes room, as a blocking fd would
            select.select([], [fd], [])


class OutputPump:
    """A queue of rendered lines and the daemon thread that writes them, in order, with one write per batch."""

    def __init__(
        self, write: Callable[[str], None], limit: int = DEFAULT_LIMIT, byte_limit: int = DEFAULT_BYTE_LIMIT
    ) -> None:
        self._write, self.limit, self.byte_limit = write, limit, byte_limit
        self.queued_bytes = 0  # characters accepted so far, and written so far: their difference is the backlog
        self.written_bytes = 0
        self._queue: deque[tuple[str, int]] = deque()
        self._ready = threading.Condition()
        self.queued = 0  # lines accepted so far: each put returns this as its ticket
        self.written = 0  # lines written so far; a ticket at or below it is on its way to the reader
        self.failure: OSError | None = None
        self._failed: anyio.Event | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._thread: threading.Thread | None = None

    @property
    def backlog(self) -> int:
        """Lines accepted but not yet written."""
        return self.queued - self.written

    @property
    def backlog_bytes(self) -> int:
        """Characters accepted but not yet written."""
        return self.queued_bytes - self.written_bytes

    @property
    def full(self) -> bool:
        """Whether producers should stop advancing until the reader catches up (in lines or in bytes)."""
        return self.backlog >= self.limit or self.backlog_bytes >= self.byte_limit

    def put(self, lines: list[str]) -> int:
        """Queue ``lines`` (each ending in a newline); returns the ticket that ``written`` reaches once they are out."""
        if self.failure is not None:
            return self.queued + 1  # the output is gone: a ticket ``written`` never reaches, so nothing is acknowledged
        if lines:
            text = "".join(lines)
            with self._ready:
                self._queue.append((text, len(lines)))
                self.queued += len(lines)
                self.queued_bytes += len(text)
                self._ready.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._pump, name="dli-watcher output", daemon=True)
                self._thread.start()
        return self.queued

    async def run(self) -> None:
        """Wait for the output to fail for good, and raise its error (a closed pipe, a full disk)."""
        # the token first: a writer thread that sees the event can always reach the loop with it
        self._token = anyio.lowlevel.current_token()
        self._failed = anyio.Event()
        if self.failure is None:
            await self._failed.wait()
        assert self.failure is not None
        raise self.failure

    async def drain(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for everything queued to be written; whether it was."""
        with anyio.move_on_after(seconds):
            # only at shutdown: polling here beats a cross-thread wake-up after every write
            while self.backlog and self.failure is None and self._thread is not None:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        return self.backlog == 0

    def _pump(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                parts = list(self._queue)
                self._queue.clear()
            try:
                self._write("".join(text for text, _ in parts))
            except OSError as exc:
                self.failure = exc
                self._tell_loop()
                return
            with self._ready:
                self.written += sum(count for _, count in parts)
                self.written_bytes += sum(len(text) for text, _ in parts)

    def _tell_loop(self) -> None:
        failed = self._failed
        if failed is None:
            return  # run() has not started: it finds ``failure`` set when it does
        # a RuntimeError means the loop has already finished: nobody is waiting any more
        with contextlib.suppress(RuntimeError):
            anyio.from_thread.run_sync(failed.set, token=self._token)
