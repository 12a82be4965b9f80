"""Which proxy, if any, requests to an endpoint go through: ``api.proxy`` or the environment, minus no_proxy.

httpx reads the environment only when it builds its own transport, and aiohttp only with
``trust_env``; the watcher passes its own transports, so it decides here, once per endpoint,
the way curl and httpx would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from watcher.config.egress import check_proxy_url
from watcher.core.noproxy import parse_no_proxy, split_env

if TYPE_CHECKING:
    from collections.abc import Mapping

    from watcher.config.settings import ApiConfig


@dataclass(frozen=True, slots=True)
class Route:
    """How requests to one endpoint leave: direct, or through ``proxy`` (named by ``source``)."""

    target: str  # host:port of the endpoint
    proxy: httpx.Proxy | None = None
    source: str = ""  # "api.proxy" or the environment variable it came from

    @property
    def via(self) -> str | None:
        """The proxy's host:port, never its credentials."""
        if self.proxy is None:
            return None
        return host_port(str(self.proxy.url))

    def describe(self) -> str:
        """``direct`` or ``via proxy host:port (from HTTPS_PROXY)``, fit to print."""
        return f"via proxy {self.via} (from {self.source})" if self.proxy else "direct"

    def secrets(self) -> tuple[str, ...]:
        """The proxy's password and ``user:password`` (what Basic auth encodes), to mask wherever text could echo it."""
        # not the user name alone: no secret, and masking a common one would blank ordinary words
        if self.proxy is None or self.proxy.auth is None or not self.proxy.auth[1]:
            return ()
        user, password = self.proxy.auth
        return (password, f"{user}:{password}")


def host_port(url: str) -> str:
    """``host:port`` of a URL, the scheme's port when none is given; IPv6 in brackets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def route_for(url: str, api: ApiConfig, env: Mapping[str, str]) -> Route:
    """The route to ``url``; an unusable proxy in the environment is a ConfigError naming the variable."""
    target = host_port(url)
    scheme, host = urlsplit(url).scheme, urlsplit(url).hostname or ""
    found = ("api.proxy", api.proxy) if api.proxy else _from_env(scheme, env)
    if found is None:
        return Route(target)
    rule = parse_no_proxy(api.no_proxy) + parse_no_proxy(split_env(_env(env, "no_proxy")), strict=False)
    if rule.bypasses(host):
        return Route(target)
    source, value = found
    return Route(target, httpx.Proxy(check_proxy_url(value, source, from_file=False)), source)


def _from_env(scheme: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, value) of the proxy for ``scheme``: lower case first, as curl and urllib read them."""
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if env.get(name, "").strip():
            return name, env[name].strip()
    return None


def _env(env: Mapping[str, str], name: str) -> str:
    return env.get(name.lower()) or env.get(name.upper()) or ""
