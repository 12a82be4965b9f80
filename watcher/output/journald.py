"""Syslog priorities for the journal: ``<N>`` before each line when stdout is systemd's journal stream.

systemd sets ``$JOURNAL_STREAM`` to ``DEVICE:INODE`` (decimal) of the stream it connects stdout or
stderr to (systemd.exec(5)); journald then reads a leading ``<N>`` as the line's priority
(sd-daemon(3)), so ``journalctl -p warning`` finds the warnings. The variable is inherited by
children whose stdout goes elsewhere, so the stream's own identity is compared with it: a pipe or a
file never gets the prefix.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TextIO

    from watcher.core.vocabulary import Level

# syslog(3): LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7
PRIORITIES: dict[Level, int] = {"debug": 7, "info": 6, "warning": 4, "error": 3}
NO_PREFIX: dict[Level, str] = dict.fromkeys(PRIORITIES, "")


def stream_identity(fd: int) -> str:
    """``DEVICE:INODE`` of an open file descriptor, as systemd writes it into ``$JOURNAL_STREAM``."""
    info = os.fstat(fd)
    return f"{info.st_dev}:{info.st_ino}"


def is_journal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """Whether ``stream`` is the journal stream systemd named in ``env``."""
    expected = env.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        return stream_identity(stream.fileno()) == expected.strip()
    except (OSError, ValueError, AttributeError):
        return False  # no descriptor (a StringIO) or a closed one: not the journal


def prefixes(stream: TextIO, env: Mapping[str, str]) -> dict[Level, str]:
    """What goes before a line of each level on ``stream``: ``<N>`` on the journal, nothing elsewhere."""
    if not is_journal(stream, env):
        return NO_PREFIX
    return {level: f"<{priority}>" for level, priority in PRIORITIES.items()}
