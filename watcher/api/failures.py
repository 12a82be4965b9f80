"""What a failed connection was, in words: the host:port and the cause (TLS, DNS, refused, the proxy).

Both transports bury the cause a few exceptions deep (aiohttp's connector errors, httpcore's
wrappers, an OSError inside); this walks the chain. With a proxy, the watcher only ever opens
TCP connections to the proxy, so a refused or unresolved connection is the proxy's.
"""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING

import aiohttp
import httpx

from watcher.core.untrusted import NO_SECRETS, Scrubber

if TYPE_CHECKING:
    from collections.abc import Iterator

    from watcher.api.proxy import Route


def connect_failure(exc: BaseException, route: Route, scrub: Scrubber = NO_SECRETS) -> str:
    """``cannot connect to host:port [via proxy p:q]: cause`` — no URL, so no credentials."""
    via = f" via proxy {route.via}" if route.via else ""
    return f"cannot connect to {route.target}{via}: {cause(exc, route, scrub)}"


def cause(exc: BaseException, route: Route, scrub: Scrubber = NO_SECRETS) -> str:
    """The most specific reason in ``exc``'s chain."""
    chain = list(_chain(exc))
    for find in (_certificate, _proxy_answer, _handshake):
        found = find(chain, scrub)
        if found:
            return found
    found = _socket(chain, proxied=route.proxy is not None)
    if found:
        return found
    return f"{type(exc).__name__}: {scrub(str(exc), 120)}" if str(exc) else type(exc).__name__


def _certificate(chain: list[BaseException], _: Scrubber) -> str | None:
    for found in chain:
        # aiohttp's connector error is an ssl.CertificateError too, but only the ssl module's has the message
        message = getattr(found, "verify_message", None)
        if isinstance(found, ssl.SSLCertVerificationError) and message:
            return f"certificate verify failed: {message}"
    return None


def _proxy_answer(chain: list[BaseException], scrub: Scrubber) -> str | None:
    # aiohttp's error holds the status; httpx-aiohttp's wrapper around it only its text
    for found in chain:
        if isinstance(found, aiohttp.ClientHttpProxyError):
            return f"proxy answered {found.status} {scrub(found.message, 80)} to CONNECT"
    for found in chain:
        if isinstance(found, httpx.ProxyError):  # httpcore: "407 Proxy Authentication Required"
            return f"proxy answered {scrub(str(found), 80)} to CONNECT"
    return None


def _handshake(chain: list[BaseException], scrub: Scrubber) -> str | None:
    for found in chain:
        if isinstance(found, ssl.SSLError):
            return f"TLS handshake failed: {_words(found.reason) or scrub(str(found), 120)}"
    return None


def _socket(chain: list[BaseException], *, proxied: bool) -> str | None:
    """DNS, refusal and other socket errors: the proxy's when there is one (the only host connected to)."""
    proxy = "proxy " if proxied else ""
    for found in chain:
        if isinstance(found, socket.gaierror):
            return f"{proxy}name not resolved ({_words(found.strerror)})"
        if isinstance(found, ConnectionRefusedError):
            return "proxy refused the connection" if proxied else "connection refused"
        if isinstance(found, aiohttp.ServerDisconnectedError):
            return "the server closed the connection before answering"
    for found in chain:
        # aiohttp's connector errors are OSErrors whose strerror is their own message: look past them
        if isinstance(found, OSError) and not isinstance(found, aiohttp.ClientError) and found.strerror:
            return f"{proxy}{_words(found.strerror)}"
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _words(reason: object) -> str:
    """``CERTIFICATE_VERIFY_FAILED`` or ``Name or service not known`` as lower-case words."""
    return str(reason).replace("_", " ").lower() if reason else ""
