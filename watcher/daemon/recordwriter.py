"""The recording's file I/O in a thread of its own: a slow, full or hung disk never holds up the poll loop."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import TYPE_CHECKING, BinaryIO

from watcher.errors import SetupError

if TYPE_CHECKING:
    from collections.abc import Callable

# bytes handed to the thread and not written yet past which the recording stops: a disk that cannot keep
# up must not grow the process's memory
MAX_PENDING_BYTES = 8 * 1024 * 1024
JOIN_SECONDS = 10.0


class RecordWriter:
    """Writes, rotates and closes the recording's file in order, off the caller's thread.

    The first file is opened by the caller, so a path that cannot be written fails the start. Later
    failures (a rotation's open, a write) end the writing; ``failed`` says why, and the caller stops.
    """

    def __init__(self, open_file: Callable[[], BinaryIO], path: str, files: int) -> None:
        self._open, self._path, self._files = open_file, path, files
        self._file = open_file()
        self._ops: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.pending = 0
        self.failed: str | None = None
        self._thread = threading.Thread(target=self._run, name="dli-watcher-record", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the file."""
        with self._lock:
            self.pending += len(data)
        self._ops.put(("write", data))

    def flush(self) -> None:
        """Queue a flush (after the last line a stop writes)."""
        self._ops.put(("flush", b""))

    def rotate(self) -> None:
        """Queue a new segment: the oldest of ``files`` goes, each other moves up one."""
        self._ops.put(("rotate", b""))

    def close(self) -> None:
        """Write what is queued, close the file and wait for the thread (a hung disk for a bounded time)."""
        self._ops.put(("close", b""))
        self._thread.join(JOIN_SECONDS)

    def _run(self) -> None:
        while True:
            op, data = self._ops.get()
            if op == "close":
                with contextlib.suppress(OSError):
                    self._file.close()
                return
            try:
                self._do(op, data)
            except (OSError, SetupError) as exc:
                self.failed = self.failed or str(exc)
            finally:
                with self._lock:
                    self.pending -= len(data)

    def _do(self, op: str, data: bytes) -> None:
        if self.failed is not None:
            return  # nothing after a failure: a later line must not follow a hole
        if op == "write":
            self._file.write(data)
        elif op == "flush":
            self._file.flush()
        elif op == "rotate":
            self._file.close()
            for n in range(self._files - 1, 0, -1):
                older = self._path if n == 1 else f"{self._path}.{n - 1}"
                if os.path.lexists(older):
                    os.replace(older, f"{self._path}.{n}")
            self._file = self._open()
