"""When the first cycle is complete and what watcher.ready reports, without an event loop."""

from __future__ import annotations

from watcher.core.readiness import first_cycle_done, ready_fields


def test_the_first_cycle_waits_for_every_batch_and_for_discovery():
    """Done only once no batch owes its first poll and discovery's first run is in."""
    assert first_cycle_done(set(), set())
    assert not first_cycle_done({"a"}, set())
    assert not first_cycle_done(set(), {"discovery"})


def test_ready_reports_every_endpoint_even_unused_ones():
    """watcher.ready names the requests of each endpoint, 0 for one never asked."""
    fields = ready_fields(3, 1.23456, {"list": 2})
    assert fields == {"batches": 3, "seconds": 1.235, "list_requests": 2, "details_requests": 0, "log_requests": 0}
