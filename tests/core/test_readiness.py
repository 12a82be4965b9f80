"""When the first cycle is complete, what watcher.ready reports, and the readiness rule, without an event loop."""

from __future__ import annotations

import time

from watcher.core.board import Board
from watcher.core.readiness import Rejection, common_rejection, credentials_rejected, first_cycle_done, ready_fields
from watcher.core.tracker import Track
from watcher.daemon.conditions import Conditions
from watcher.metrics.collectors import SelfMetrics
from watcher.output.pump import OutputPump


def test_the_first_cycle_waits_for_every_batch_and_for_discovery():
    """Done only once no batch owes its first poll and discovery's first run is in."""
    assert first_cycle_done(set(), set())
    assert not first_cycle_done({"a"}, set())
    assert not first_cycle_done(set(), {"discovery"})


def test_ready_reports_every_endpoint_even_unused_ones():
    """watcher.ready names the requests of each endpoint, 0 for one never asked."""
    fields = ready_fields(3, 1.23456, {"list": 2})
    assert fields == {"batches": 3, "seconds": 1.235, "list_requests": 2, "details_requests": 0, "log_requests": 0}


def test_only_the_same_rejection_on_every_batch_holds_readiness():
    """One rule: every watched batch's last answer the same rejection; one failing or not-found among others never."""
    forbidden, missing = Rejection("auth", 403, "DLI.0003", "no"), Rejection("not_found", 404, "DLI.0002")
    assert common_rejection(["a", "b"], {"a": forbidden, "b": Rejection("auth", 403, "DLI.0003", "other words")})
    assert common_rejection(["a", "b"], {"a": missing, "b": None}) is None
    assert common_rejection(["a", "b"], {"a": missing}) is None  # b not answered yet in this run
    assert common_rejection(["a", "b"], {"a": missing, "b": Rejection("not_found", 404, "DLI.0005")}) is None
    assert common_rejection([], {}) is None
    assert forbidden.describe() == "rejected (403 DLI.0003)" and Rejection("not_found").describe() == "not found"


def test_only_401_on_every_batch_is_wrong_credentials():
    """401 everywhere exits; 403 everywhere is a grant to mend, not an exit."""
    unauthorized = Rejection("auth", 401, None, "bad token")
    assert credentials_rejected(["a", "b"], {"a": unauthorized, "b": unauthorized}) == unauthorized
    assert credentials_rejected(["a"], {"a": Rejection("auth", 403)}) is None
    assert credentials_rejected(["a", "b"], {"a": unauthorized, "b": None}) is None


def test_readyz_names_every_reason_and_counts_without_ids():
    """Throttled and every batch rejected at once: the first reason, then "also: ...", then counts; no batch ID."""
    board = Board()
    # as the poller leaves them: a rejected poll is a failed one
    board.tracks = {bid: Track(bid, up=False, failing_since=1.0) for bid in ("batch-a", "batch-b")}
    board.ready = True
    for bid in board.tracks:
        board.answered(bid, Rejection("auth", 403, "DLI.0003"))
    board.throttle.until = time.monotonic() + 60
    conditions = Conditions(board, SelfMetrics(board), OutputPump(lambda _: None), lambda *_: None)
    body = [conditions.not_ready(), *conditions.readyz_details().splitlines()]
    assert body == [
        "throttled by the API",
        "also: every watched batch (2 batches) was last answered rejected (403 DLI.0003)",
        "2 batches watched: 0 read, 2 failing, 0 not found, 0 waiting for a first poll, 2 rejected (401/403)",
    ]
    board.throttle.until = 0.0
    board.answered("batch-b", None)  # one batch reads again: ready, whatever the other says
    assert conditions.not_ready() is None
