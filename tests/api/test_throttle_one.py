"""The client-wide pause has one deadline: the policy extends the board's Throttle, readiness and metrics read it."""

from __future__ import annotations

import time

import anyio
import pytest

from watcher.api.policy import RequestPolicy
from watcher.config.settings import ApiConfig
from watcher.core.board import Board
from watcher.core.throttle import Throttle
from watcher.errors import ApiError, ThrottledError


def test_a_pause_is_never_shortened() -> None:
    """Extending the pause keeps the later deadline; it is in force before it, not at it."""
    throttle = Throttle()
    throttle.extend(100.0, 1, 0.5, 30.0, 5.0)
    throttle.extend(101.0, 1, 0.5, 30.0, 1.0)
    assert throttle.until == 105.0
    assert (throttle.active(104.9), throttle.active(105.0)) == (True, False)


@pytest.mark.anyio
async def test_a_429_through_the_policy_pauses_the_board_it_was_given() -> None:
    """The board's throttled() says so the moment the policy takes a 429: the daemon keeps no copy of the deadline."""
    board = Board()
    seen: list[tuple[bool, float, float]] = []

    def retried(_err: ApiError) -> None:
        now = time.monotonic()
        seen.append((board.throttled(now), board.throttle.until, now))

    # Retry-After 5 s, capped at 10 ms by the backoff cap: the retry waits the short pause out
    policy = RequestPolicy(
        ApiConfig(max_attempts=2, backoff_base_seconds=0.001, backoff_max_seconds=0.01),
        1,
        on_retry=retried,
        throttle=board.throttle,
    )
    answers: list[str | ApiError] = [ThrottledError("slow down", retry_after=5.0), "ok"]

    async def request() -> str:
        answer = answers.pop(0)
        if isinstance(answer, ApiError):
            raise answer
        return answer

    with anyio.fail_after(5):
        assert await policy.call(request) == "ok"
    [(throttled, until, at)] = seen
    assert throttled and at < until <= at + 0.01
    assert policy.throttle is board.throttle
    assert not board.throttled(time.monotonic())
