"""Whether output goes to a person: a terminal, and whether colour is wanted there."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TextIO


def is_tty(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a closed or fake stream is not)."""
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


def wants_color(stream: TextIO, env: Mapping[str, str], *, no_color: bool = False) -> bool:
    """Colour on a terminal, unless ``--no-color``, a non-empty ``NO_COLOR`` (no-color.org) or ``TERM=dumb``."""
    if no_color or env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    return is_tty(stream)
