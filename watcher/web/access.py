"""Who may see the status pages: ``status.pages`` (auto, on, off) and the Host names they answer to.

The pages show job log tails and error text. ``auto`` shows them to a loopback peer (``kubectl
port-forward``, an SSH tunnel) or to a request the web config authenticated, and to no one else. Any
page is refused a ``Host`` that is not an IP literal, ``localhost`` or a name in ``status.allowed_hosts``:
a page of another site that a browser on this host reaches by DNS rebinding names that site, not ours.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from watcher.core.vocabulary import PagesMode


@dataclass(frozen=True, slots=True)
class PageAccess:
    """The ``[status]`` rules, read once per request."""

    pages: PagesMode = "auto"
    allowed_hosts: frozenset[str] = frozenset()

    def shown(self, *, authenticated: bool, loopback: bool) -> bool:
        """Whether a request from this peer sees the pages."""
        if self.pages == "auto":
            return authenticated or loopback
        return self.pages == "on"

    def host_allowed(self, host_header: str) -> bool:
        """Whether the ``Host`` header names this server: an IP literal, localhost or an allowed name."""
        host = host_name(host_header)
        if not host:
            return False
        if host == "localhost" or host in self.allowed_hosts:
            return True
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, lower case, without the port, brackets or a trailing dot."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.removesuffix(".")


def loopback_peer(writer: asyncio.StreamWriter) -> bool:
    """Whether the connection comes from this host's loopback (an IPv4-mapped IPv6 address included)."""
    peer = writer.get_extra_info("peername")
    if not isinstance(peer, tuple) or not peer:
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]).partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
