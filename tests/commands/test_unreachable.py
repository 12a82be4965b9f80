"""What counts as unreachable (exit 7) and what ends an outage, as the one-shot commands decide it."""

from __future__ import annotations

from watcher.core.outcome import exit_code
from watcher.core.reach import Reachability, counted, rejected
from watcher.errors import (
    ApiError,
    AuthError,
    ConnectApiError,
    DecodeError,
    NotFoundError,
    PermanentApiError,
    ThrottledError,
    TimeoutApiError,
    TransientApiError,
)


def test_what_counts_as_no_answer():
    """Connection, DNS, TLS, timeouts, 5xx and DLI.0999 count; throttling and undecodable bodies do not."""
    assert counted(ConnectApiError("refused")) and counted(TimeoutApiError("slow"))
    assert counted(TransientApiError("bad gateway", status_code=502))
    assert counted(PermanentApiError("busy", status_code=400, error_code="DLI.0999"))
    assert counted(AuthError("IAM is down", status_code=500))
    assert not counted(ThrottledError("slow down", status_code=429))
    assert not counted(ThrottledError("slow down", status_code=200, error_code="APIG.0308"))
    assert not counted(DecodeError("not JSON"))
    assert not counted(NotFoundError("gone", status_code=404))
    assert rejected(AuthError("no", status_code=401)) and rejected(AuthError("no", status_code=403))
    assert not rejected(AuthError("IAM is down", status_code=503)) and not rejected(ApiError("x", status_code=401))


def test_only_an_outage_in_a_row_is_unreachable():
    """An answer ends the outage; throttling and decode errors neither count nor end it; 0 waits for ever."""
    reach = Reachability()
    reach.failed(ConnectApiError("refused"), 10.0)
    reach.failed(ThrottledError("slow down"), 50.0)
    reach.failed(DecodeError("not JSON"), 60.0)
    assert reach.unreachable(130.0, 120.0) and not reach.unreachable(129.0, 120.0)
    assert not reach.unreachable(10_000.0, 0.0)
    reach.failed(NotFoundError("gone", status_code=404), 131.0)
    assert not reach.unreachable(1000.0, 120.0)
    reach.failed(TimeoutApiError("slow"), 200.0)
    reach.answered()
    assert not reach.unreachable(1000.0, 120.0) and reach.refusal is None
    reach.failed(AuthError("no", status_code=401), 300.0)
    assert reach.refusal is not None and not reach.unreachable(1000.0, 1.0)


def test_severity_puts_7_between_5_and_6():
    """Several IDs: 3, 4, 5, 7, 6."""
    assert exit_code(["unreachable", "timed_out", "succeeded"]) == 7
    assert exit_code(["unreachable", "not_found"]) == 5
    assert exit_code(["killed", "unreachable"]) == 4
    assert exit_code(["failed", "unreachable"]) == 3
