"""The batch API over an HTTP client built from the config: transport, connection limits, TLS, auth."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx

from watcher import __version__
from watcher.api.auth import build_auth, scrubber
from watcher.api.client import BatchApi
from watcher.api.transport import ApiClient, build_transport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from watcher.config.settings import Config


@asynccontextmanager
async def open_api(cfg: Config) -> AsyncIterator[BatchApi]:
    """The batch API; IAM token requests use a plain client of their own, server text is scrubbed of secrets."""
    limits = httpx.Limits(max_connections=cfg.watch.concurrency, max_keepalive_connections=cfg.watch.concurrency)
    headers = {"User-Agent": f"dli-watcher/{__version__}"}
    transport = build_transport(cfg.api.transport, limits=limits, verify=cfg.api.verify_tls)
    async with (
        httpx.AsyncClient(timeout=cfg.api.timeout_seconds, verify=cfg.api.verify_tls, headers=headers) as iam,
        ApiClient(
            auth=build_auth(cfg.api, cfg.auth, iam),
            timeout=cfg.api.timeout_seconds,
            transport=transport,
            headers=headers,
        ) as client,
    ):
        yield BatchApi(client, cfg.api, scrubber(cfg.auth, client.auth))
