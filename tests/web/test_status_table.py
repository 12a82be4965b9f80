"""The batch table's query string and selection: lenient parsing, filters, sorts, pages and the fleet's counts."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import pytest

from watcher.core.events import Event
from watcher.core.model import Snapshot
from watcher.core.recent import Recent
from watcher.core.tracker import Track
from watcher.core.watchstatus import watch_status
from watcher.web.httpwire import parse_head
from watcher.web.status.query import DEFAULT, Query, link, parse
from watcher.web.status.table import NO_STATE, select


def track(bid, state="running", name=None, queue="q", up=True, presence="present", since=100.0, **kw):
    """A track as the poller leaves it; ``state=None`` for a batch never read."""
    snap = None if state is None else Snapshot(bid, state, state, name=name or f"job-{bid}", queue=queue)
    return Track(bid, snapshot=snap, presence=presence, up=up, state_since=since, **kw)


def ids(selection):
    return [t.batch_id for t in selection.rows]


def _snap(bid, name, update_time):
    return Snapshot(bid, "running", "running", name=name, queue="q", update_time=update_time)


def _failed(bid, reason):
    return Event("batch.poll_failed", "warning", bid, 1, {"reason": reason})


def test_the_request_head_keeps_the_query():
    """The pages need the query string; the path stays without it, in origin and absolute form."""
    origin = parse_head(b"GET /?state=running&page=2 HTTP/1.1\r\nHost: x\r\n\r\n")
    absolute = parse_head(b"GET http://h:1/batches/a%2Fb?refresh=10 HTTP/1.1\r\n\r\n")
    assert (origin.path, origin.query) == ("/", "state=running&page=2")
    assert (absolute.path, absolute.query) == ("/batches/a%2Fb", "refresh=10")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", DEFAULT),
        ("state=dead&queue=etl&watch=failing&name=%3Cscript%3E", Query("dead", "etl", "failing", "<script>")),
        ("sort=updated&order=desc&page=3&per=25", Query(sort="updated", desc=True, page=3, per=25)),
        ("sort=nonsense&order=up&page=-1&per=7", DEFAULT),
        ("page=99999999999999&per=100000", DEFAULT),
        ("refresh=1", Query(refresh=5)),
        ("refresh=999999", Query(refresh=3600)),
        ("name=" + "x" * 500, Query(name="x" * 200)),
        ("&".join(f"k{n}=v" for n in range(100)), DEFAULT),
        ("state=a&state=b", Query(state="b")),
    ],
)
def test_queries_parse_leniently(raw, expected):
    """Malformed or unknown values fall back to their defaults; text filters are bounded."""
    assert parse(raw) == expected


def test_links_carry_the_query_and_round_trip():
    """A link keeps every non-default parameter, applies the change, and parses back to the same query."""
    query = Query(state="running", name="a&b=c", sort="name", desc=True, page=4, refresh=30)
    href = link(query, page=5)
    assert href.startswith("/?")
    assert dict(parse_qsl(urlsplit(href).query))["name"] == "a&b=c"
    assert parse(urlsplit(href).query) == replace(query, page=5)
    assert link(DEFAULT) == "/"


def test_failing_and_never_read_batches_come_first():
    """The default order: failing, then never read, then the rest, each by ID."""
    tracks = [
        track("a"),
        track("b", state=None, presence="pending", up=False),
        track("c", up=False, failing_since=5.0),
        track("d", state=None, presence="not_found"),
        track("e", state=None, up=False, failing_since=1.0),
    ]
    assert ids(select(tracks, Recent(), DEFAULT)) == ["c", "e", "b", "d", "a"]
    assert [watch_status(t) for t in tracks] == ["ok", "pending", "failing", "not_found", "failing"]


def test_filters_combine_and_the_name_filter_matches_ids_too():
    """State, queue, watch status and a case-insensitive part of the job name or the ID; all must hold."""
    tracks = [
        track("id-1", name="Nightly-ETL", queue="etl"),
        track("id-2", name="report", queue="etl", state="dead"),
        track("id-3", name="etl-backfill", queue="adhoc"),
        track("nightly-4", state=None, presence="not_found"),
    ]
    assert ids(select(tracks, Recent(), Query(name="nightly"))) == ["nightly-4", "id-1"]
    assert ids(select(tracks, Recent(), Query(queue="etl", state="running"))) == ["id-1"]
    assert ids(select(tracks, Recent(), Query(state=NO_STATE))) == ["nightly-4"]
    assert ids(select(tracks, Recent(), Query(watch="not_found"))) == ["nightly-4"]
    assert ids(select(tracks, Recent(), Query(queue="none-such"))) == []


def test_counts_cover_the_fleet_not_the_filter():
    """The counts by state and watch status, and the queue choices, are of every watched batch."""
    tracks = [track("a"), track("b", state="dead", queue="z"), track("c", up=False, failing_since=1.0)]
    selection = select(tracks, Recent(), Query(state="dead"))
    assert (selection.total, selection.matched) == (3, 1)
    assert selection.by_state == (("running", 2), ("dead", 1))
    # one vocabulary with dli_batch_watch_status: a finished batch is "ok" (its state says finished)
    assert selection.by_watch == (("failing", 1), ("ok", 2))
    assert selection.queues == ("q", "z")


@pytest.mark.parametrize(
    ("sort", "desc", "expected"),
    [
        ("id", False, ["a", "b", "c", "n"]),
        ("id", True, ["n", "c", "b", "a"]),
        ("name", False, ["b", "c", "a", "n"]),
        ("in_state", False, ["b", "a", "c", "n"]),  # shortest time in state first
        ("in_state", True, ["c", "a", "b", "n"]),  # a batch without a value stays last either way
        ("updated", False, ["c", "b", "a", "n"]),
        ("error", False, ["a", "b", "c", "n"]),
        ("polled", False, ["b", "a", "c", "n"]),
    ],
)
def test_each_column_sorts_both_ways_with_missing_values_last(sort, desc, expected):
    """Ages sort youngest first; batches the column says nothing about come last, by ID."""
    recent = Recent()
    recent.record([_failed("a", "auth"), _failed("c", "timeout"), _failed("b", "http")], 1.0, {"a", "b", "c"})
    tracks = [
        replace(track("a", name="Zeta", since=200.0, up=False), snapshot=_snap("a", "Zeta", 1000)),
        replace(track("b", name="alpha", since=300.0, up=False), snapshot=_snap("b", "alpha", 2000)),
        replace(track("c", name="Beta", since=100.0, last_success=40.0), snapshot=_snap("c", "Beta", 3000)),
        track("n", state=None, presence="pending", up=True, since=None),
    ]
    recent.polled(tracks[0], 50.0)  # failed polls: their times are kept (a poll that read the batch is last_success)
    recent.polled(tracks[1], 60.0)
    assert ids(select(tracks, recent, Query(sort=sort, desc=desc))) == expected


def test_pages_cut_the_sorted_matches_and_clamp_past_the_end():
    """A page holds ``per`` rows; a page past the last shows the last one."""
    tracks = [track(f"b{n:03d}") for n in range(230)]
    second = select(tracks, Recent(), Query(sort="id", page=2))
    assert (second.page, second.pages, second.start, len(second.rows)) == (2, 3, 100, 100)
    assert second.rows[0].batch_id == "b100"
    beyond = select(tracks, Recent(), Query(sort="id", page=50))
    assert (beyond.page, ids(beyond)[0], len(beyond.rows)) == (3, "b200", 30)
    empty = select([], Recent(), DEFAULT)
    assert (empty.page, empty.pages, empty.rows) == (1, 1, ())
