"""The exclusive lock beside a state file: one watcher per file, and the holder's PID for whoever is refused.

The lock is ``<state file>.lock``, held with ``flock`` for the life of the process, so it is released by
the kernel however the process ends; the file itself is never deleted (deleting a lock file races).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os

from watcher.daemon.stateperms import file_problem
from watcher.errors import SetupError

# never follow a symlink an attacker (or a mistake) put where the lock or state file should be
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def lock_path(state_path: str) -> str:
    """Where the lock of a state file lives."""
    return state_path + ".lock"


def read_holder(fd: int) -> int | None:
    """The PID written in a lock file, if it holds one."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 32).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class StateLock:
    """An exclusive, non-blocking lock on ``<path>.lock`` with this process's PID written in it."""

    def __init__(self, state_path: str) -> None:
        self.path = lock_path(state_path)
        try:
            self._fd = os.open(self.path, _OPEN_FLAGS, 0o600)
        except OSError as exc:
            raise SetupError(self.path, _why(exc, "cannot open or create the lock file")) from None
        # the file opened, not the name checked before: another user's lock file could block every start
        problem = file_problem(os.fstat(self._fd))
        if problem is not None:
            os.close(self._fd)
            raise SetupError(self.path, problem)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = read_holder(self._fd) if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN) else None
            os.close(self._fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise SetupError(self.path, _why(exc, "cannot lock")) from None
            who = f"pid {holder}" if holder is not None else "an unknown process"
            raise SetupError(state_path, f"in use by another dli-watcher ({who} holds {self.path})") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        """Unlock (closing the descriptor drops the flock)."""
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _why(exc: OSError, what: str) -> str:
    if exc.errno == errno.ELOOP:
        return f"{what}: it is a symbolic link, which is refused"
    return f"{what}: {exc.strerror or exc}"
