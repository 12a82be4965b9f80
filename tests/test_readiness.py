"""When the first cycle is complete and what watcher.ready reports, without an event loop."""

from __future__ import annotations

from watcher.core.readiness import Rejection, common_rejection, credentials_rejected, first_cycle_done, ready_fields


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
