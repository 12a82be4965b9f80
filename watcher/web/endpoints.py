"""What each path answers: /healthz, /readyz (cheap, never behind a render), / and the /metrics body."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher import __version__
from watcher.metrics.exposition import render
from watcher.web.httpwire import Response, text

if TYPE_CHECKING:
    from collections.abc import Callable

    from prometheus_client import CollectorRegistry

    from watcher.metrics.exposition import Variant
    from watcher.web.status.pages import StatusPages

LANDING = """<!doctype html><html><head><title>dli-watcher</title></head><body>
<h1>dli-watcher {version}</h1><p>Watches Huawei Cloud DLI / Apache Livy batch jobs.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li>
<li><a href="/readyz">/readyz</a></li></ul>{hint}</body></html>
"""
# the pages exist but this request may not see them: say how to, without saying what they hold
PAGES_HINT = """<p>The status pages are shown to loopback peers (e.g. through <code>kubectl port-forward</code>)
and to requests authenticated by the web config. To show them to everyone who reaches this port,
set <code>pages = "on"</code> in the <code>[status]</code> section of the config.</p>"""


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
    # POST /-/reload: None while the lifecycle API is off; else reloads (blocking, from a worker thread)
    # and gives the error line (None: reloaded)
    lifecycle: Callable[[], Callable[[], str | None] | None] = lambda: None
    # /readyz's lines after the reason: other reasons, how many batches are in which condition (no IDs:
    # it needs no login)
    counts: Callable[[], str] = lambda: ""
    # told how long each /metrics render took and how big it was (in the render thread)
    rendered: Callable[[float, int], None] = lambda _seconds, _size: None

    def probe(self, path: str) -> Response | None:
        """The answer of /healthz or /readyz; None for any other path."""
        if path == "/healthz":
            return text(200, "ok\n") if self.healthy() else text(503, "stalled\n")
        if path == "/readyz":
            reason, counts = self.not_ready(), self.counts()
            body = f"{reason or 'ready'}\n" + (f"{counts}\n" if counts else "")
            return text(200 if reason is None else 503, body)
        return None

    def metrics(self, variant: Variant) -> Response:
        """A fresh /metrics answer; holds the GIL for up to a second at 10,000 batches, so never on a loop."""
        start = time.monotonic()
        data, headers = render(self.registry, self.batches(), variant)
        self.rendered(time.monotonic() - start, len(data))
        return Response(200, data, tuple(headers))


def reload_answer(error: str | None) -> Response:
    """POST /-/reload's answer: 200, or 500 with the one-line error (the old config is kept)."""
    return text(200, "reloaded\n") if error is None else text(500, " ".join(error.split()) + "\n")


def landing(*, hint: bool = False) -> Response:
    """The page at / without the status pages, linking the others (and, with ``hint``, how to see the pages)."""
    page = LANDING.format(version=__version__, hint=PAGES_HINT if hint else "")
    return text(200, page, kind="text/html; charset=utf-8")


def not_found() -> Response:
    """Any other path."""
    return text(404, "not found\n")
