"""Unexpected exceptions in a poll are the watcher's bugs: each becomes one ``watcher.internal_error`` event.

A poll that hits one still costs only that poll (``reason="internal"``), but the event carries the
traceback, so a bug is told from a bad answer. Once per exception type and site: a bug hit on every
poll of every batch writes one event, not one a poll.
"""

from __future__ import annotations

import traceback
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from watcher.core.untrusted import valid_unicode

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.core.vocabulary import EventName, Level

# the last characters of the traceback are kept: the innermost frames and the message say the most
MAX_TRACEBACK_CHARS = 8000
PACKAGE = "watcher"


def site(exc: BaseException) -> str:
    """Where ``exc`` was raised: the innermost frame in the watcher package, as ``watcher/x/y.py:12 in f``."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if PACKAGE in PurePath(f.filename).parts]
    if not (ours or frames):
        return "unknown"
    frame = (ours or frames)[-1]
    parts = PurePath(frame.filename).parts
    path = "/".join(parts[len(parts) - 1 - parts[::-1].index(PACKAGE) :]) if ours else parts[-1]
    return f"{path}:{frame.lineno} in {frame.name}"


def exception_name(exc: BaseException) -> str:
    """The exception's class, qualified by its module unless it is a builtin."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


class BugReporter:
    """Writes ``watcher.internal_error`` (level error) the first time an exception type is raised at a site."""

    def __init__(self, say: Callable[[EventName, dict[str, Any], Level], None]) -> None:
        self._say = say
        self._seen: set[tuple[str, str]] = set()

    def __call__(self, exc: BaseException) -> None:
        """Report ``exc`` (each leaf of a group on its own) unless its type was reported from its site already."""
        for leaf in _leaves(exc):
            name, where = exception_name(leaf), site(leaf)
            if (name, where) in self._seen:
                continue
            self._seen.add((name, where))
            text = valid_unicode("".join(traceback.format_exception(leaf)))[-MAX_TRACEBACK_CHARS:]
            self._say("watcher.internal_error", {"exception": name, "where": where, "traceback": text}, "error")
