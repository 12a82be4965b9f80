"""A log window kept as one string, its lines joined by a line feed: one object a window instead of one per line.

Every watched batch keeps its last window (in its snapshot, shared with its log track) and each
stream's last lines; as separate strings each line costs 49 bytes of header on top of its text.
The few windows the joined form cannot tell apart from another stay a tuple of their lines: one
holding only an empty line (joined, it is the empty window) and any with a line that holds a line feed
itself (a misbehaving server's; decoding keeps such a line as it came). So each list of lines has
exactly one kept form, and two windows are equal exactly when their lines are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

# the lines joined by "\n" (the empty string: no lines), or for the few the join cannot keep, the lines
Window = str | tuple[str, ...]


def pack(lines: Sequence[str]) -> Window:
    """The kept form of ``lines`` (a Window given is returned as it is)."""
    if isinstance(lines, str):
        return lines
    if not lines:
        return ""
    text = "\n".join(lines)
    if text and text.count("\n") == len(lines) - 1:
        return text
    return tuple(lines)


def unpack(window: Window) -> tuple[str, ...]:
    """The lines of a kept window."""
    if isinstance(window, str):
        return tuple(window.split("\n")) if window else ()
    return window


def size(window: Window) -> int:
    """How many lines a kept window holds, without splitting it."""
    if isinstance(window, str):
        return window.count("\n") + 1 if window else 0
    return len(window)


def same_lines(value: list[object], window: Window) -> bool:
    """Whether ``value`` (a JSON list) is exactly the lines of ``window``: strings, equal, in order."""
    if not isinstance(window, str):
        return len(value) == len(window) and tuple(value) == window
    if not value or not window:
        return not value and not window
    try:
        text = "\n".join(value)  # type: ignore[arg-type]
    except TypeError:  # a line that is not a string: decoding repairs it, so not the same
        return False
    # the same text, and no line of ``value`` holds a line feed of its own (str.count is slower than ``in``)
    return text == window and "\n" not in "".join(value)  # type: ignore[arg-type]


def lines_of(window: Window | Sequence[str]) -> Sequence[str]:
    """The lines of a kept window, or lines given as they are (a string is always a kept window)."""
    return unpack(window) if isinstance(window, str) else window
