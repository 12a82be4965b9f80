"""systemd's notify protocol: READY=1, WATCHDOG=1, STATUS= and STOPPING=1 over $NOTIFY_SOCKET."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


class Notifier:
    """Sends datagrams to the service manager; does nothing when not run under systemd."""

    def __init__(self, env: Mapping[str, str]) -> None:
        path = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + path[1:] if path.startswith("@") else path
        usec = env.get("WATCHDOG_USEC", "")
        # ping at half the watchdog period, as sd_watchdog_enabled(3) advises
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._sock: socket.socket | None = None
        self._last_ping = 0.0
        if self._address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)

    def send(self, *lines: str) -> None:
        """Send one notification; a full or missing socket is not the watcher's problem."""
        if self._sock is None:
            return
        with contextlib.suppress(OSError):
            self._sock.sendto("\n".join(lines).encode(), self._address)

    def progress(self, now: float, status: Callable[[], str]) -> None:
        """Called from the poll loop: ping the watchdog at its pace, so a hung loop stops the pings.

        ``status`` is only built when a ping goes out: it may walk every batch.
        """
        if self.watchdog_interval is not None and now - self._last_ping >= self.watchdog_interval:
            self._last_ping = now
            self.send("WATCHDOG=1", f"STATUS={status()}")

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
