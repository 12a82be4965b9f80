"""Whom the state file trusts: no other user (ssh's rule for its keys).

The state file's outbox is written to stdout on the next start, so a file another user can write is a
way to forge events; a lock file another user can write is a way to block the start. A state, ``-wal``,
``-shm`` or lock file must be owned by the effective user and writable by no one else; its directory
must be owned by root or that user and, when others may write to it, have the sticky bit. A directory
writable by the process's own group is fine (the Kubernetes base's volume: root-owned, group-writable,
its group the pod's ``fsGroup``).
"""

from __future__ import annotations

import os
import stat

from watcher.errors import SetupError

SUFFIXES = ("", "-wal", "-shm", ".lock")


def file_problem(st: os.stat_result) -> str | None:
    """Why a state, -wal, -shm or lock file with this status is not to be trusted, or None."""
    if st.st_uid != os.geteuid():
        return f"is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()}); chown it or remove it"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by {_who(st.st_mode)} (mode {stat.S_IMODE(st.st_mode):04o}); chmod 600 it"
    return None


def directory_problem(st: os.stat_result) -> str | None:
    """Why the state file's directory is not to be trusted, or None."""
    if st.st_uid not in (0, os.geteuid()):
        return f"is owned by uid {st.st_uid}, neither root nor this user (uid {os.geteuid()})"
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return f"is writable by others without the sticky bit (mode {stat.S_IMODE(st.st_mode):04o})"
    if st.st_mode & stat.S_IWGRP and st.st_gid not in {os.getegid(), *os.getgroups()}:
        return f"is writable by group {st.st_gid}, which this user is not in (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def check_trusted(path: str) -> None:
    """Refuse (SetupError naming the file) a state file, a companion or a directory another user controls."""
    directory = os.path.dirname(os.path.abspath(path))
    problem = directory_problem(os.stat(directory))
    if problem is not None:
        raise SetupError(path, f"directory {directory} {problem}")
    for name in (path + suffix for suffix in SUFFIXES):
        try:
            st = os.lstat(name)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            continue  # refused as a symlink by the caller, with its own message
        problem = file_problem(st)
        if problem is not None:
            raise SetupError(name, problem)


def _who(mode: int) -> str:
    names = [who for bit, who in ((stat.S_IWGRP, "group"), (stat.S_IWOTH, "others")) if mode & bit]
    return " and ".join(names)
