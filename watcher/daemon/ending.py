"""How a run ends badly: the one-line reason `watcher.crashed` carries, and a refusal to start told from a crash."""

from __future__ import annotations

import traceback

from watcher.errors import SetupError

# watcher.crashed carries the cause in one line of at most this many characters
MAX_REASON_CHARS = 1024
# and the traceback, its innermost frames kept when it is longer
MAX_TRACEBACK_CHARS = 16 * 1024


def crash_reason(exc: BaseException) -> str:
    """What went wrong, in one line: each underlying exception's type and message."""
    leaves = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    parts = [
        crash_reason(leaf) if isinstance(leaf, BaseExceptionGroup) else f"{type(leaf).__name__}: {leaf}"
        for leaf in leaves
    ]
    return " ".join("; ".join(parts).split())[:MAX_REASON_CHARS]


def crash_traceback(exc: BaseException) -> str:
    """The crash's traceback as text, for the bug report (the person at the terminal sees one line)."""
    return "".join(traceback.format_exception(exc))[-MAX_TRACEBACK_CHARS:]


def refusal(exc: Exception) -> Exception:
    """A SetupError out of the task group (a busy port), unwrapped so the caller exits 2 with one line."""
    if isinstance(exc, BaseExceptionGroup):
        refused, rest = exc.split(SetupError)
        if refused is not None and rest is None:
            leaf: BaseException = refused
            while isinstance(leaf, BaseExceptionGroup):
                leaf = leaf.exceptions[0]
            return leaf if isinstance(leaf, Exception) else exc
    return exc
