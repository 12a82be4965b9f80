"""Which status page a request asks for, rendered from one reading of the watcher's state.

``answer`` runs in the server's render thread, never on an event loop: it walks every watched batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import unquote

from watcher.metrics.status import query as table_query
from watcher.metrics.status.batch import batch_page, missing_page
from watcher.metrics.status.index import index
from watcher.metrics.status.markup import html_response
from watcher.metrics.status.table import select

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from watcher.core.recent import Recent
    from watcher.core.tracker import Track
    from watcher.metrics.httpwire import Response
    from watcher.metrics.status.index import About

BATCH_PREFIX = "/batches/"


@dataclass(frozen=True, slots=True)
class StatusSource:
    """What the pages read from the watcher: cheap to call, safe from another thread."""

    about: Callable[[], About]
    # the board's dict: the poll loop replaces it when batches come and go and never resizes it in place
    tracks: Callable[[], Mapping[str, Track]]
    recent: Recent
    clock: Callable[[], float] = time.time
    mask: Callable[[str], str] = str  # the process's secret mask, over every page before it leaves


def serves(path: str) -> bool:
    """Whether the path is one of the status pages."""
    return path == "/" or (path.startswith(BATCH_PREFIX) and len(path) > len(BATCH_PREFIX))


class StatusPages:
    """Renders ``/`` and ``/batches/{id}`` for a ``(path, raw query)`` pair."""

    def __init__(self, source: StatusSource) -> None:
        self._source = source

    def answer(self, target: tuple[str, str]) -> Response:
        """The page for ``(path, query)``, every secret of the process masked in it; an unwatched batch is 404."""
        page = self._page(target)
        body = self._source.mask(page.body.decode("utf-8"))
        return replace(page, body=body.encode("utf-8"))

    def _page(self, target: tuple[str, str]) -> Response:
        path, raw_query = target
        source = self._source
        query = table_query.parse(raw_query)
        tracks, now = source.tracks(), source.clock()
        if not path.startswith(BATCH_PREFIX):
            selection = select(list(tracks.values()), source.recent, query)
            return html_response(200, index(source.about(), selection, source.recent, query, now))
        batch_id = unquote(path.removeprefix(BATCH_PREFIX))
        track = tracks.get(batch_id)
        if track is None:
            return html_response(404, missing_page(batch_id))
        return html_response(200, batch_page(track, source.recent, now, query.refresh))
