"""The family filter: kube-state-metrics' allow/deny semantics over every collector, counters by their _total name."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from watcher.metrics.families import FamilyFilter, Filtered


class Two:
    """A collector with one counter and one gauge."""

    def collect(self):
        yield CounterMetricFamily("dli_watcher_polls", "polls", value=3)
        yield GaugeMetricFamily("dli_watcher_throttled", "throttled", value=0)


def exposed(allowed: FamilyFilter) -> str:
    registry = CollectorRegistry()
    registry.register(Filtered(Two(), allowed))
    return generate_latest(registry).decode()


def test_patterns_are_searched_unanchored_and_counters_match_with_total():
    """As in kube-state-metrics a pattern is searched anywhere in the name; ^...$ anchors it; _total counts."""
    assert FamilyFilter(deny=["polls"])("dli_watcher_polls_total") is False
    assert FamilyFilter(deny=["^polls$"])("dli_watcher_polls_total") is True
    assert "dli_watcher_polls_total" not in exposed(FamilyFilter(deny=["^dli_watcher_polls_total$"]))
    assert "dli_watcher_polls_total 3.0" in exposed(FamilyFilter(deny=["^dli_watcher_polls$"]))


def test_an_allowlist_keeps_only_what_matches_and_no_list_keeps_everything():
    """Allowlist: only matches; empty lists: every family."""
    text = exposed(FamilyFilter(allow=["throttled"]))
    assert "dli_watcher_throttled" in text and "dli_watcher_polls" not in text
    everything = exposed(FamilyFilter())
    assert "dli_watcher_throttled" in everything and "dli_watcher_polls_total" in everything
