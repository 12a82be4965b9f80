"""A call's deadline (timeout + 1 s) turns a hung request into a retried TimeoutApiError, and only its own deadline."""

from __future__ import annotations

from dataclasses import replace

import anyio
import pytest

from watcher.api.policy import RequestPolicy
from watcher.config.settings import ApiConfig
from watcher.errors import ApiError, TimeoutApiError

FAST = ApiConfig(timeout_seconds=0.01, max_attempts=2, backoff_base_seconds=0.001, backoff_max_seconds=0.001)


@pytest.fixture
def anyio_backend() -> str:
    """The daemon runs on asyncio."""
    return "asyncio"


@pytest.mark.anyio
async def test_a_hung_request_times_out_and_is_retried() -> None:
    """The first attempt never answers: past its deadline it is a TimeoutApiError, the retry answers."""
    retried: list[ApiError] = []
    policy = RequestPolicy(FAST, 1, on_retry=retried.append)
    attempts: list[int] = []

    async def request() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            await anyio.sleep_forever()
        return "ok"

    with anyio.fail_after(10):
        assert await policy.call(request) == "ok"
    assert len(attempts) == 2
    assert [(type(e), e.message) for e in retried] == [(TimeoutApiError, "request timed out")]


@pytest.mark.anyio
async def test_the_last_hung_attempt_raises_with_its_count() -> None:
    """Every attempt hangs: the call raises TimeoutApiError after max_attempts, and the slot is free again."""
    policy = RequestPolicy(replace(FAST, max_attempts=1), 1)
    with anyio.fail_after(10), pytest.raises(TimeoutApiError, match="request timed out") as info:
        await policy.call(anyio.sleep_forever)
    assert info.value.attempts == 1
    with anyio.fail_after(1):
        assert await policy.call(lambda: _answer("free")) == "free"


@pytest.mark.anyio
async def test_an_outer_cancellation_is_not_a_timeout() -> None:
    """A scope around the call that is cancelled first gets its cancellation, not a TimeoutApiError."""
    policy = RequestPolicy(ApiConfig(timeout_seconds=30), 1)
    with anyio.CancelScope() as outer:
        outer.cancel()
        await policy.call(anyio.sleep_forever)
    assert outer.cancelled_caught


async def _answer(text: str) -> str:
    return text
