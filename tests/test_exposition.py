"""The hand-rendered per-batch families: exact, escaped, cached only while unchanged, and gzip when asked."""

from __future__ import annotations

import gzip
from dataclasses import replace

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from watcher.core.model import Snapshot
from watcher.core.tracker import Track
from watcher.metrics.exposition import BatchText, body


def track(bid: str = "b1", name: str = 'we"ird\\job\nname', state: str = "running") -> Track:
    snap = Snapshot(
        bid,
        state,
        state,
        name=name,
        queue="q",
        owner="o",
        kind="spark",
        sc_type="A",
        create_time=1_700_000_000_000,
        update_time=1_700_000_100_500,
    )
    return Track(bid, snapshot=snap, presence="present", state_since=1_700_000_050.25, up=True)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_values_and_escaped_labels_parse_back_exactly():
    """Label values with quotes, backslashes and newlines survive; every value is what the track says."""
    text = BatchText().render([track()], now=1_700_000_200.5)
    got = samples(text)
    info = (
        "dli_batch_info",
        (
            ("batch_id", "b1"),
            ("job_name", 'we"ird\\job\nname'),
            ("kind", "spark"),
            ("owner", "o"),
            ("queue", "q"),
            ("sc_type", "A"),
        ),
    )
    assert got[info] == 1.0
    assert got[("dli_batch_state", (("batch_id", "b1"), ("state", "running")))] == 1.0
    assert got[("dli_batch_state", (("batch_id", "b1"), ("state", "unknown")))] == 0.0
    assert got[("dli_batch_created_timestamp_seconds", (("batch_id", "b1"),))] == 1_700_000_000.0
    assert got[("dli_batch_updated_timestamp_seconds", (("batch_id", "b1"),))] == 1_700_000_100.5
    assert got[("dli_batch_update_age_seconds", (("batch_id", "b1"),))] == 100.0
    assert got[("dli_batch_state_since_timestamp_seconds", (("batch_id", "b1"),))] == 1_700_000_050.25


def test_cached_lines_follow_changes_and_removals():
    """A changed state re-renders that batch; a batch no longer passed in disappears; age moves with now."""
    text = BatchText()
    text.render([track("a"), track("b")], 1_700_000_200.0)
    snapshot = track("a").snapshot
    assert snapshot is not None
    moved = replace(track("a"), snapshot=replace(snapshot, state="dead", raw_state="dead"))
    got = samples(text.render([moved], 1_700_000_300.0))
    assert got[("dli_batch_state", (("batch_id", "a"), ("state", "dead")))] == 1.0
    assert got[("dli_batch_state", (("batch_id", "a"), ("state", "running")))] == 0.0
    assert not any(("batch_id", "b") in labels for _, labels in got)
    assert got[("dli_batch_update_age_seconds", (("batch_id", "a"),))] == 199.5


def test_body_puts_batches_inside_openmetrics_and_gzips_on_request():
    """OpenMetrics keeps # EOF last; gzip is used when the client accepts it."""
    batches = BatchText().render([track()], 1_700_000_200.0)
    data, headers = body(CollectorRegistry(), batches, "application/openmetrics-text; version=1.0.0", "gzip")
    assert ("Content-Encoding", "gzip") in headers
    text = gzip.decompress(data).decode()
    assert text.endswith("# EOF\n") and "dli_batch_up" in text
    plain, _ = body(CollectorRegistry(), batches, "text/plain", "")
    assert plain.decode() == batches
