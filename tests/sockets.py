"""Raw sockets against the metrics server: connections that open and then say little or nothing."""

from __future__ import annotations

import socket


def half_open(url: str, count: int, partial: bytes = b"") -> list[socket.socket]:
    """``count`` connections that send at most part of a request head and then nothing."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    socks = []
    for n in range(count):
        sock = socket.create_connection((host, int(port)), timeout=10)
        if partial and n % 2:
            sock.sendall(partial)
        socks.append(sock)
    return socks
