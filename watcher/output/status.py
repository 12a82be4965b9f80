"""A one-line status that updates in place on a terminal while a one-shot command waits; nothing on a pipe."""

from __future__ import annotations

from typing import TextIO

_CLEAR = "\r\x1b[K"


class StatusLine:
    """Shows a line of progress on ``stream`` when it is a terminal; cleared before anything else is printed."""

    def __init__(self, stream: TextIO, *, enabled: bool | None = None) -> None:
        self._stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._shown = ""

    def show(self, text: str) -> None:
        """Replace the status with ``text`` (cut to one terminal line's worth)."""
        if not self.enabled or text == self._shown:
            return
        self._stream.write(_CLEAR + text[:160])
        self._stream.flush()
        self._shown = text

    def clear(self) -> None:
        """Remove the status, so the next output starts on a clean line."""
        if self.enabled and self._shown:
            self._stream.write(_CLEAR)
            self._stream.flush()
            self._shown = ""
