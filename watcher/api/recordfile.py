"""Reading a recording someone attached: capped in size per file and per line, every line checked; nothing trusted."""

from __future__ import annotations

import json
import os
import stat

from watcher.core.recordformat import (
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    Clock,
    Exchange,
    Header,
    RecordingError,
    check_header,
    check_line,
)


def read_lines(path: str, max_bytes: int | None = None, max_line: int | None = None) -> list[str]:
    """The file's lines as text; RecordingError (one line) when it cannot be read or is over a cap."""
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    max_line = MAX_LINE_BYTES if max_line is None else max_line
    try:
        # non-blocking: a FIFO given as the file must not hang the command before it is refused
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise RecordingError("not a regular file")
            os.set_blocking(fd, True)
            if st.st_size > max_bytes:
                raise RecordingError(f"larger than {max_bytes} bytes")
            lines: list[str] = []
            while raw := fh.readline(max_line + 1):
                if len(raw) > max_line:
                    raise RecordingError(f"a line is longer than {max_line} bytes", len(lines) + 1)
                try:
                    lines.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise RecordingError("not UTF-8 text", len(lines) + 1) from None
    except OSError as exc:
        raise RecordingError(f"cannot read it: {exc.strerror}") from None
    return lines


def parse_recording(lines: list[str]) -> tuple[Header, list[Exchange | Clock]]:
    """The header and the exchanges and clock readings, every line checked."""
    if not lines:
        raise RecordingError("the file is empty")
    header = check_header(_json(lines[0], 1))
    items = []
    for n, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        item = check_line(_json(text, n), n)
        if item is not None:
            items.append(item)
    return header, items


def read_recording(path: str) -> tuple[Header, list[Exchange | Clock]]:
    """A recording file read and checked."""
    return parse_recording(read_lines(path))


def _json(text: str, index: int) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise RecordingError("not a JSON line", index) from None
