"""How times read on the status pages: spans as ``3m 12s``, instants as the events write them (UTC, RFC 3339)."""

from __future__ import annotations

from watcher.core.events import rfc3339

DASH = "&ndash;"  # HTML: every function here gives HTML-safe text
UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def span(seconds: float | None) -> str:
    """A duration in its two largest units (``2h 5m``, ``45s``); a dash for none, ``0s`` for less than a second."""
    if seconds is None:
        return DASH
    left = max(0, int(seconds))
    for n, (name, size) in enumerate(UNITS):
        if left < size and name != "s":
            continue
        first = f"{left // size}{name}"
        if n + 1 == len(UNITS):
            return first
        unit, next_size = UNITS[n + 1]
        rest = left % size // next_size
        return f"{first} {rest}{unit}" if rest else first
    return DASH  # not reached: seconds always match


def age(now: float, then: float | None) -> str:
    """How long ago ``then`` was, as a span; a dash for never."""
    return DASH if then is None else span(now - then)


def ago(now: float, then: float | None) -> str:
    """``3m 12s ago``, with the instant itself on hover; a dash for never."""
    return DASH if then is None else when(then, f"{span(now - then)} ago")


def when(at: float | None, text: str) -> str:
    """``text`` (HTML) with the instant ``at`` on hover, as a ``<time>`` a script or a reader can take."""
    if at is None:
        return text
    instant = rfc3339(at)
    return f'<time datetime="{instant}" title="{instant}">{text}</time>'


def stamp(seconds: float | None) -> str:
    """An instant as the event stream writes it (``2025-01-02T03:04:05.678Z``); a dash for none."""
    return DASH if seconds is None else rfc3339(seconds)


def millis_stamp(millis: int | None) -> str:
    """An API time in epoch milliseconds as ``stamp`` writes it."""
    return DASH if millis is None else rfc3339(millis / 1000)
