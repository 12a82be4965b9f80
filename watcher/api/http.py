"""The batch API over an HTTP client built from the config: transport, connection limits, TLS, proxy, auth."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx

from watcher import __version__
from watcher.api.auth import HeaderAuth, build_auth, scrubber
from watcher.api.client import BatchApi
from watcher.api.proxy import Route, route_for
from watcher.api.tap import Tap, iam_hook
from watcher.api.tls import ssl_context
from watcher.api.transport import ApiClient, Direct, build_transport, direct

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from watcher.config.settings import Config


def routes(cfg: Config, env: Mapping[str, str]) -> tuple[Route, Route | None]:
    """How the API and (with password auth) IAM are reached; an unusable proxy variable is a ConfigError."""
    api = route_for(cfg.api.endpoint, cfg.api, env)
    iam = route_for(cfg.auth.iam_endpoint, cfg.api, env) if cfg.auth.method == "password" else None
    return api, iam


def held_secrets(cfg: Config, env: Mapping[str, str]) -> tuple[str, ...]:
    """The secrets the process holds before any request: configured credentials and the proxies' passwords."""
    api_route, iam_route = routes(cfg, env)
    return (*cfg.auth.secrets(), *api_route.secrets(), *(iam_route.secrets() if iam_route else ()))


@asynccontextmanager
async def open_api(
    cfg: Config, env: Mapping[str, str] | None = None, tap: Tap | None = None
) -> AsyncIterator[BatchApi]:
    """The batch API; IAM token requests use a client of their own, server text is scrubbed of secrets.

    Proxies, CAs and the client certificate apply to both clients alike; ``env`` (default: the
    process's) supplies the proxy variables and the default CAs. ``tap`` (a recording) is told of every
    exchange: the API's answers as read, IAM's status alone.
    """
    env = os.environ if env is None else env
    api_route, iam_route = routes(cfg, env)
    limits = httpx.Limits(max_connections=cfg.watch.concurrency, max_keepalive_connections=cfg.watch.concurrency)
    headers = {"User-Agent": f"dli-watcher/{__version__}"}
    transport = build_transport(
        cfg.api.transport, limits=limits, verify=ssl_context(cfg.api, env), proxy=api_route.proxy
    )
    # httpx's own transport for IAM: a login a day does not need aiohttp's speed
    iam_transport = httpx.AsyncHTTPTransport(
        verify=ssl_context(cfg.api, env), proxy=iam_route.proxy if iam_route else None, trust_env=False
    )
    async with (
        httpx.AsyncClient(
            timeout=cfg.api.timeout_seconds,
            headers=headers,
            transport=iam_transport,
            event_hooks={"response": [iam_hook(tap)]} if tap is not None else None,
        ) as iam,
        ApiClient(
            auth=build_auth(cfg.api, cfg.auth, iam, iam_route),
            timeout=cfg.api.timeout_seconds,
            transport=transport,
            headers=headers,
            trust_env=False,
        ) as client,
    ):
        secrets = api_route.secrets() + (iam_route.secrets() if iam_route else ())
        scrub = scrubber(cfg.auth, client.auth, secrets)
        yield BatchApi(client, cfg.api, scrub, api_route, tap, _direct(transport, client.auth))


def _direct(transport: httpx.AsyncBaseTransport, auth: httpx.Auth | None) -> Direct | None:
    """The aiohttp path without httpx's client, for an auth that only sets headers; else None (httpx's send)."""
    if auth is None:
        return direct(transport, None, steady=True)
    return direct(transport, auth.apply, steady=auth.steady) if isinstance(auth, HeaderAuth) else None
