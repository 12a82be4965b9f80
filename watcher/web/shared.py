"""One render at a time, shared: scrapes that arrive while their variant is being rendered wait for it.

A render of 10,000 batches holds the GIL for a few hundred milliseconds. When a hundred scrapers
(or one impatient one retrying) ask at once, rendering once for all of them keeps the poll loop's
share of the CPU, instead of a hundred renders queueing up after each other.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Executor

K = TypeVar("K")
V = TypeVar("V")


class SharedRender(Generic[K, V]):
    """Runs ``work(key)`` in ``executor``, one at a time; callers asking for a key in flight share its result.

    Belongs to one event loop. A caller that gives up (cancelled, timed out) leaves the render
    running for the others; a render that fails fails every caller that waited for it.
    """

    def __init__(self, work: Callable[[K], V], executor: Executor) -> None:
        self._work, self._executor = work, executor
        self._flights: dict[K, asyncio.Task[V]] = {}
        self._one_at_a_time = asyncio.Lock()
        self.renders = 0  # started renders, for the tests
        self.asks = 0  # callers, for the tests: they wait on how many have asked, not on a sleep

    async def get(self, key: K) -> V:
        """The result of the render of ``key`` in flight (running or waiting its turn), else of a new one."""
        self.asks += 1
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.get_running_loop().create_task(self._run(key))
            self._flights[key] = flight
        return await asyncio.shield(flight)

    async def _run(self, key: K) -> V:
        try:
            async with self._one_at_a_time:
                self.renders += 1
                return await asyncio.get_running_loop().run_in_executor(self._executor, self._work, key)
        finally:
            # from now on a new caller gets a fresh render, not this one's older result
            del self._flights[key]
