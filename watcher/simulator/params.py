"""Lenient parsing of integer query parameters (the docs disagree on int vs string)."""

from __future__ import annotations


class ParamError(ValueError):
    """A query parameter that is not an integer in any reasonable spelling."""


def lenient_int(name: str, value: str | None) -> int | None:
    """``" 10 "``, ``"10"`` and ``"10.0"`` are 10; empty or absent is None; anything else raises."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise ParamError(f"{name} must be an integer, not {value!r}") from None
    if not number.is_integer():
        raise ParamError(f"{name} must be an integer, not {value!r}")
    return int(number)


def log_slice(lines: list[str], start: int | None, size: int | None) -> tuple[int, list[str]]:
    """Livy/DLI ``/log`` paging: ``size`` 100 by default (all when negative); without ``from``, or below 0, the tail.

    As Livy's ``SessionServlet.serializeLogs`` does (apache/incubator-livy): ``from=-1`` is the last
    ``size`` lines, not the first ones; DLI documents the same default (the last 100 lines, dli_02_0128).
    """
    size = 100 if size is None else size
    if size < 0:
        size = len(lines)
    if start is None or start < 0:
        start = max(0, len(lines) - size)
    return start, lines[start : start + size]
