"""Which hosts skip the proxy: NO_PROXY entries as curl reads them (names, domain suffixes, ``*``, IPs, CIDR)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


@dataclass(frozen=True, slots=True)
class NoProxy:
    """Parsed NO_PROXY entries: everything, domain names (each with its subdomains), IP networks."""

    everything: bool = False
    names: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()

    def bypasses(self, host: str) -> bool:
        """Whether requests to ``host`` (a name or an IP literal, brackets allowed) go direct."""
        if self.everything:
            return True
        host = host.strip("[]").rstrip(".").lower()
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return any(host == name or host.endswith("." + name) for name in self.names)
        return any(address in network for network in self.networks)

    def __add__(self, other: NoProxy) -> NoProxy:
        return NoProxy(self.everything or other.everything, self.names + other.names, self.networks + other.networks)


def parse_entry(text: str) -> NoProxy:
    """One entry; raises ValueError saying what it should look like.

    ``example.com`` and ``.example.com`` both cover the domain and its subdomains (curl reads them
    alike, and ``*.example.com`` too); an IP address or a CIDR range covers IP literals only, as
    nothing is resolved.
    """
    entry = text.strip().lower()
    if entry == "*":
        return NoProxy(everything=True)
    try:
        return NoProxy(networks=(ipaddress.ip_network(entry.strip("[]"), strict=False),))
    except ValueError:
        pass
    name = entry.removeprefix("*").removeprefix(".").rstrip(".")
    if not _NAME.fullmatch(name):
        raise ValueError(f"must be a host name, .domain, an IP address, a CIDR range or '*', got {text!r}")
    return NoProxy(names=(name,))


def parse_no_proxy(entries: Iterable[str], *, strict: bool = True) -> NoProxy:
    """Several entries as one rule; unless ``strict`` (the environment's NO_PROXY), junk is skipped as curl does."""
    rule = NoProxy()
    for entry in entries:
        if not entry.strip():
            continue
        try:
            rule += parse_entry(entry)
        except ValueError:
            if strict:
                raise
    return rule


def split_env(value: str) -> list[str]:
    """The comma- (or space-) separated entries of a NO_PROXY value."""
    return [part for part in re.split(r"[\s,]+", value) if part]
