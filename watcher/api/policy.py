"""How every API call is made: a bound on calls in flight, a deadline, retries with backoff, a client-wide throttle.

The poller, list polling, discovery and ``check`` all call through one RequestPolicy, so they retry
alike and a 429 seen by any of them pauses all of them. The decisions (delays, pauses) are the pure
functions of ``watcher.core.schedule``; this class only waits and counts.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, TypeVar

import anyio

from watcher.core.schedule import retry_delay
from watcher.core.throttle import Throttle
from watcher.errors import ApiError, ThrottledError, TimeoutApiError, TransientApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from watcher.config.settings import ApiConfig

T = TypeVar("T")


def _ignore(*_: object) -> None:
    """A hook nobody listens to."""


class RequestPolicy:
    """Calls the API within the configured limits; ``call`` raises the final ApiError with its attempts."""

    def __init__(
        self,
        api: ApiConfig,
        concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_retry: Callable[[ApiError], None] = _ignore,
        throttle: Throttle | None = None,
    ) -> None:
        self._clock, self._rng = clock, rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._on_retry = on_retry
        # the one deadline of the client-wide pause: the daemon passes the board's, which readiness reads
        self.throttle = throttle if throttle is not None else Throttle()
        self.configure(api, concurrency)

    def configure(self, api: ApiConfig, concurrency: int) -> None:
        """Take new settings (on reload); calls in flight finish under the old limiter."""
        self._api = api
        # fast_acquire: a free slot costs no extra event-loop pass (the request awaits right after)
        self._limiter = anyio.Semaphore(concurrency, fast_acquire=True)

    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        """One API call with retries: full-jitter backoff, Retry-After up to the cap, the client-wide throttle."""
        api = self._api
        attempt = 0
        while True:
            attempt += 1
            limiter = await self._slot()
            try:
                # fail_after's scope without its two context-manager layers (~5% of a detail poll's CPU)
                with anyio.CancelScope(deadline=anyio.current_time() + api.timeout_seconds + 1):
                    return await request()
                # past the block without an answer: the scope caught its own deadline's cancellation
                err: ApiError = TimeoutApiError("request timed out")
            except TimeoutError:
                err = TimeoutApiError("request timed out")
            except TransientApiError as exc:
                err = exc
                if isinstance(exc, ThrottledError):
                    self._throttle(attempt, exc.retry_after)
            except ApiError as exc:
                exc.attempts = attempt
                raise
            finally:
                limiter.release()
            if attempt >= api.max_attempts:
                err.attempts = attempt
                raise err
            self._on_retry(err)
            await anyio.sleep(
                retry_delay(
                    attempt, api.backoff_base_seconds, api.backoff_max_seconds, self._rng.random(), err.retry_after
                )
            )

    def _throttle(self, attempt: int, retry_after: float | None) -> None:
        api = self._api
        self.throttle.extend(self._clock(), attempt, api.backoff_base_seconds, api.backoff_max_seconds, retry_after)

    async def _slot(self) -> anyio.Semaphore:
        """A request slot, taken only while no pause is in force; returns the limiter to release it to.

        A pause can begin, or be extended, while a request waits for a slot or for an earlier pause:
        so the pause is checked again once the slot is held, and the slot given back if one began.
        """
        while True:
            pause = self.throttle.until - self._clock()
            if pause > 0:  # a deadline that may move later, not an event: sleep to it, then look again
                await anyio.sleep(pause)
                continue
            limiter = self._limiter  # a reload may replace it; release to the one acquired from
            await limiter.acquire()
            if not self.throttle.active(self._clock()):
                return limiter
            limiter.release()
