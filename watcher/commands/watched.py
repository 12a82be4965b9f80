"""A RequestPolicy that also notes, for `wait`, `logs` and `ls`, whether the API answers at all (exit 7)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

from watcher.api.policy import RequestPolicy
from watcher.core.reach import Reachability
from watcher.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from watcher.config.settings import ApiConfig

T = TypeVar("T")


class WatchedPolicy(RequestPolicy):
    """Calls like RequestPolicy; every attempt's outcome goes into ``reach``."""

    def __init__(self, api: ApiConfig, concurrency: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.reach = Reachability()
        self._now = clock
        super().__init__(api, concurrency, clock=clock, on_retry=self._failed)

    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        """One API call with retries, each failed attempt and the final outcome noted."""
        try:
            result = await super().call(request)
        except ApiError as exc:
            self._failed(exc)
            raise
        self.reach.answered()
        return result

    def _failed(self, err: ApiError) -> None:
        self.reach.failed(err, self._now())
