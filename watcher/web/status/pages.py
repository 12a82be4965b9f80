"""Which status page a request asks for, rendered from one reading of the watcher's state.

``answer`` runs in the server's render thread, never on an event loop: it walks every watched batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import unquote

from watcher.web.status import query as table_query
from watcher.web.status.batch import batch_page, unwatched_page
from watcher.web.status.index import index
from watcher.web.status.jsonview import batch_page_json, index_json, json_response, wants_json
from watcher.web.status.markup import html_response
from watcher.web.status.oncall import PageSettings, attention_counts
from watcher.web.status.table import select

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from watcher.core.recent import Recent
    from watcher.core.tracker import Track
    from watcher.web.httpwire import Response
    from watcher.web.status.index import About

BATCH_PREFIX = "/batches/"


@dataclass(frozen=True, slots=True)
class StatusSource:
    """What the pages read from the watcher: cheap to call, safe from another thread."""

    about: Callable[[], About]
    # the board's dict: the poll loop replaces it when batches come and go and never resizes it in place
    tracks: Callable[[], Mapping[str, Track]]
    recent: Recent
    clock: Callable[[], float] = time.time
    # the config the pages follow (outcome finality, link-outs), read per page so a reload applies
    settings: Callable[[], PageSettings] = PageSettings
    mask: Callable[[str], str] = str  # the process's secret mask, over every page before it leaves


def serves(path: str) -> bool:
    """Whether the path is one of the status pages."""
    return path == "/" or (path.startswith(BATCH_PREFIX) and len(path) > len(BATCH_PREFIX))


class StatusPages:
    """Renders ``/`` and ``/batches/{id}`` for a ``(path, raw query)`` pair."""

    def __init__(self, source: StatusSource) -> None:
        self._source = source

    def answer(self, target: tuple[str, str]) -> Response:
        """The page for ``(path, query)`` as HTML or (``format=json``) JSON, every secret of the process masked in it.

        A batch not watched is a 404.
        """
        page = self._page(target)
        body = self._source.mask(page.body.decode("utf-8"))
        return replace(page, body=body.encode("utf-8"))

    def _page(self, target: tuple[str, str]) -> Response:
        path, raw_query = target
        source = self._source
        query, as_json = table_query.parse(raw_query), wants_json(raw_query)
        tracks, now, settings = source.tracks(), source.clock(), source.settings()
        if not path.startswith(BATCH_PREFIX):
            fleet = list(tracks.values())
            selection, attention = select(fleet, source.recent, query), attention_counts(fleet, now)
            about = source.about()
            if as_json:
                return json_response(200, index_json(about, selection, source.recent, query, now, settings, attention))
            document = index(about, selection, source.recent, query, now, settings, attention)
            return html_response(200, document)
        batch_id = unquote(path.removeprefix(BATCH_PREFIX))
        track = tracks.get(batch_id)
        if track is None:
            unwatched = {"schema": 1, "error": "not watched"}
            return json_response(404, unwatched) if as_json else html_response(404, unwatched_page(batch_id))
        if as_json:
            return json_response(200, batch_page_json(track, source.recent, now, settings))
        return html_response(200, batch_page(track, source.recent, now, query.refresh, settings))
