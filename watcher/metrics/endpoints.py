"""What each path answers: /healthz, /readyz (cheap, never behind a render), / and the /metrics body."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher import __version__
from watcher.metrics.exposition import render
from watcher.metrics.httpwire import Response, text

if TYPE_CHECKING:
    from collections.abc import Callable

    from prometheus_client import CollectorRegistry

    from watcher.metrics.exposition import Variant
    from watcher.metrics.status.pages import StatusPages

PROBES = frozenset({"/healthz", "/readyz"})
LANDING = """<!doctype html><html><head><title>dli-watcher</title></head><body>
<h1>dli-watcher {version}</h1><p>Watches Huawei Cloud DLI / Apache Livy batch jobs.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li>
<li><a href="/readyz">/readyz</a></li></ul></body></html>
"""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """What the endpoints read from the watcher: all cheap to call except ``batches`` and the status ``pages``.

    Without ``pages``, ``/`` is a bare page of links.
    """

    registry: CollectorRegistry
    batches: Callable[[], str]
    healthy: Callable[[], bool]
    not_ready: Callable[[], str | None]
    pages: StatusPages | None = None
    # told how long each /metrics render took and how big it was (in the render thread)
    rendered: Callable[[float, int], None] = lambda _seconds, _size: None

    def probe(self, path: str) -> Response | None:
        """The answer of /healthz or /readyz; None for any other path."""
        if path == "/healthz":
            return text(200, "ok\n") if self.healthy() else text(503, "stalled\n")
        if path == "/readyz":
            reason = self.not_ready()
            return text(200, "ready\n") if reason is None else text(503, reason + "\n")
        return None

    def metrics(self, variant: Variant) -> Response:
        """A fresh /metrics answer; holds the GIL for up to a second at 10,000 batches, so never on a loop."""
        start = time.monotonic()
        data, headers = render(self.registry, self.batches(), variant)
        self.rendered(time.monotonic() - start, len(data))
        return Response(200, data, tuple(headers))


def landing() -> Response:
    """The page at / without the status pages, linking the others."""
    return text(200, LANDING.format(version=__version__), kind="text/html; charset=utf-8")


def not_found() -> Response:
    """Any other path."""
    return text(404, "not found\n")
