"""The batch API with every request counted by endpoint, for the self-metrics and the first cycle's report."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from watcher.api.client import ListPage, LogPage
    from watcher.core.listed import Known
    from watcher.core.model import Snapshot
    from watcher.core.vocabulary import Endpoint
    from watcher.daemon.poller import Api


class CountedApi:
    """Counts each call before making it: the request policy calls again per retry, so a retry counts too."""

    def __init__(self, api: Api, count: Callable[[Endpoint], None]) -> None:
        self._api, self._count = api, count

    async def details(self, batch_id: str) -> Snapshot:
        """``BatchApi.details``, counted."""
        self._count("details")
        return await self._api.details(batch_id)

    async def list(self, start: int, size: int, /, known: Known | None = None, **filters: str) -> ListPage:
        """``BatchApi.list``, counted."""
        self._count("list")
        return await self._api.list(start, size, known, **filters)

    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage:
        """``BatchApi.log``, counted."""
        self._count("log")
        return await self._api.log(batch_id, start, size, log_type)

    def forget(self, batch_ids: Iterable[str]) -> None:
        """``BatchApi.forget`` (no request)."""
        self._api.forget(batch_ids)
