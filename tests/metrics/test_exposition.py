"""The hand-rendered per-batch families: exact, escaped, cached only while unchanged, and gzip when asked."""

from __future__ import annotations

import gzip
from dataclasses import replace

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from watcher.core.labels import OVERFLOW, LabelCap
from watcher.core.model import Snapshot
from watcher.core.states import FLAVOR_STATES
from watcher.core.tracker import Track
from watcher.metrics.aggregates import aggregate_text
from watcher.metrics.exposition import BatchText, BatchView, body
from watcher.metrics.families import FamilyFilter


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


def admitted(*tracks: Track, limit: int = 1000) -> LabelCap:
    """A label bound that has seen the tracks' values, as the board admits them on each poll."""
    cap = LabelCap(limit)
    for t in tracks:
        assert t.snapshot is not None
        for label in ("job_name", "queue", "owner", "kind", "sc_type"):
            cap.admit(label, getattr(t.snapshot, "name" if label == "job_name" else label))
    return cap


def text_of(tracks: list[Track], now: float = 1_700_000_200.0, **view) -> str:
    """The per-batch text of ``tracks``; today's full families ("all") unless the view says otherwise."""
    read = [t for t in tracks if t.snapshot is not None]
    view.setdefault("mode", "all")
    return BatchText(BatchView(labels=admitted(*read), **view)).render(tracks, now)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_values_and_escaped_labels_parse_back_exactly():
    """Label values with quotes, backslashes and newlines survive; every value is what the track says."""
    got = samples(text_of([track()], now=1_700_000_200.5))
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
    text = BatchText(BatchView(mode="all", labels=admitted(track())))
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
    batches = text_of([track()])
    data, headers = body(CollectorRegistry(), batches, "application/openmetrics-text; version=1.0.0", "gzip")
    assert ("Content-Encoding", "gzip") in headers
    text = gzip.decompress(data).decode()
    assert text.endswith("# EOF\n") and "dli_batch_up" in text
    plain, _ = body(CollectorRegistry(), batches, "text/plain", "")
    assert plain.decode() == batches


def families(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text)}


def test_a_batch_never_read_has_up_and_its_watch_status_from_the_first_poll():
    """Pending, failing and not-found batches have dli_batch_up and one dli_batch_watch_status series, nothing else."""
    pending = Track("p")
    failing = Track("f", failing_since=1.0)
    missing = Track("m", presence="not_found", up=True)
    got = samples(text_of([pending, failing, missing]))
    assert {labels for name, labels in got if name == "dli_batch_watch_status"} == {
        (("batch_id", "p"), ("status", "pending")),
        (("batch_id", "f"), ("status", "failing")),
        (("batch_id", "m"), ("status", "not_found")),
    }
    assert [got[("dli_batch_up", (("batch_id", b),))] for b in "pfm"] == [0.0, 0.0, 1.0]
    assert {name for name, _ in got} == {"dli_batch_up", "dli_batch_watch_status"}


def test_dli_batches_get_only_dli_states():
    """A DLI view renders the five DLI states and unknown; a Livy-only state shows as unknown."""
    killed = replace(track(), snapshot=replace(track().snapshot, state="killed", raw_state="killed"))  # type: ignore[type-var]
    got = samples(text_of([killed], states=FLAVOR_STATES["dli"]))
    shown = {dict(labels)["state"]: v for (name, labels), v in got.items() if name == "dli_batch_state"}
    assert shown == {"starting": 0, "running": 0, "recovering": 0, "success": 0, "dead": 0, "unknown": 1}


def test_active_mode_keeps_only_the_watch_status_of_finished_batches_and_none_keeps_it_alone():
    """Per-batch modes: all renders everything, active keeps only the status of finished batches, none only status."""
    done = replace(track("done"), snapshot=replace(track().snapshot, batch_id="done", state="success"))  # type: ignore[type-var]
    tracks = [track("run"), done]
    every = samples(text_of(tracks, mode="all"))
    active = samples(text_of(tracks, mode="active"))
    nothing = samples(text_of(tracks, mode="none"))
    assert any(("batch_id", "done") in labels for name, labels in every if name == "dli_batch_state")
    assert not any(("batch_id", "done") in labels for name, labels in active if name != "dli_batch_watch_status")
    assert any(("batch_id", "run") in labels for name, labels in active if name == "dli_batch_state")
    assert {name for name, _ in nothing} == {"dli_batch_watch_status"}
    assert len(nothing) == 2


def test_finished_and_started_timestamps():
    """A finished batch has its finish time (update_time); a batch seen waiting then running has its start time."""
    done = replace(track(), snapshot=replace(track().snapshot, state="success"), started_at=1_700_000_030.5)  # type: ignore[type-var]
    got = samples(text_of([done]))
    assert got[("dli_batch_finished_timestamp_seconds", (("batch_id", "b1"),))] == 1_700_000_100.5
    assert got[("dli_batch_started_timestamp_seconds", (("batch_id", "b1"),))] == 1_700_000_030.5
    assert ("dli_batch_finished_timestamp_seconds", (("batch_id", "b1"),)) not in samples(text_of([track()]))


def test_label_values_past_the_bound_show_the_overflow_value():
    """Values the label bound did not admit are rendered as the overflow value, never as themselves."""
    first, second = track("a", name="one"), track("b", name="two")
    view = BatchView(labels=admitted(first, limit=1))
    got = samples(BatchText(view).render([first, second], 1_700_000_200.0))
    names = {dict(labels)["batch_id"]: dict(labels)["job_name"] for name, labels in got if name == "dli_batch_info"}
    assert names == {"a": "one", "b": OVERFLOW}


def test_the_family_filter_drops_denied_families():
    """A denylist pattern removes the families it matches, HELP and TYPE included."""
    text = text_of([track()], allowed=FamilyFilter(deny=["^dli_batch_state$", "timestamp"]))
    assert "dli_batch_state" not in families(text)
    assert not any("timestamp" in name for name in families(text))
    assert {"dli_batch_info", "dli_batch_up", "dli_batch_watch_status"} <= families(text)


def test_aggregates_count_every_batch_in_every_mode():
    """dli_batches counts read batches by queue and state, dli_watcher_batches every batch by status (zeros too)."""
    done = replace(track("done"), snapshot=replace(track().snapshot, batch_id="done", state="success"))  # type: ignore[type-var]
    tracks = [track("a"), track("b"), done, Track("p"), Track("f", failing_since=1.0)]
    for mode in ("compact", "all", "active", "none"):
        text = BatchText(BatchView(mode=mode, labels=admitted(track())))
        text.render(tracks, 1_700_000_200.0)
        got = samples(aggregate_text(text.counts, lambda _: True))
        assert got[("dli_batches", (("queue", "q"), ("state", "running")))] == 2.0, mode
        assert got[("dli_batches", (("queue", "q"), ("state", "success")))] == 1.0, mode
        by_status = {dict(labels)["status"]: v for (name, labels), v in got.items() if name == "dli_watcher_batches"}
        assert by_status == {"pending": 1, "ok": 3, "not_found": 0, "failing": 1, "gone": 0}, mode


def test_compact_mode_renders_four_series_a_batch_with_the_current_state_alone():
    """Compact (the default): info, the current state (1, no zeros), since when, the watch status; nothing else."""
    done = replace(track("done"), snapshot=replace(track().snapshot, batch_id="done", state="success"))  # type: ignore[type-var]
    tracks = [track("run"), done, Track("p")]
    read = [t for t in tracks if t.snapshot is not None]
    got = samples(BatchText(BatchView(labels=admitted(*read))).render(tracks, 1_700_000_200.0))
    per_batch: dict[str, set[str]] = {}
    for name, labels in got:
        per_batch.setdefault(dict(labels)["batch_id"], set()).add(name)
    full = {"dli_batch_info", "dli_batch_state", "dli_batch_state_since_timestamp_seconds", "dli_batch_watch_status"}
    assert per_batch == {"run": full, "done": full, "p": {"dli_batch_watch_status"}}
    states = {dict(ls)["batch_id"]: (dict(ls)["state"], v) for (n, ls), v in got.items() if n == "dli_batch_state"}
    assert states == {"run": ("running", 1.0), "done": ("success", 1.0)}
    assert got[("dli_batch_state_since_timestamp_seconds", (("batch_id", "run"),))] == 1_700_000_050.25
    assert got[("dli_batch_watch_status", (("batch_id", "p"), ("status", "pending")))] == 1.0


def test_compact_mode_follows_a_state_change_and_the_family_filter():
    """A new state replaces the old state's series (not a 0 beside it); a denied family is left out."""
    text = BatchText(BatchView(labels=admitted(track())))
    text.render([track("a")], 1_700_000_200.0)
    snapshot = track("a").snapshot
    assert snapshot is not None
    moved = replace(track("a"), snapshot=replace(snapshot, state="dead", raw_state="dead"), state_since=1_700_000_250.0)
    got = samples(text.render([moved], 1_700_000_300.0))
    assert [dict(labels)["state"] for name, labels in got if name == "dli_batch_state"] == ["dead"]
    assert got[("dli_batch_state_since_timestamp_seconds", (("batch_id", "a"),))] == 1_700_000_250.0
    denied = BatchView(allowed=FamilyFilter(deny=["^dli_batch_info$"]), labels=admitted(track()))
    assert families(BatchText(denied).render([track("a")], 1_700_000_200.0)) == {
        "dli_batch_state",
        "dli_batch_state_since_timestamp_seconds",
        "dli_batch_watch_status",
    }
