"""The status pages as HTML: every API string escaped, IDs URL-quoted in links, no script, nothing secret."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from watcher.core.events import Event
from watcher.core.log.diff import LogTrack, StreamTrack
from watcher.core.model import Snapshot
from watcher.core.recent import Recent
from watcher.core.tracker import Failure, LogResult, Track, observe, observe_missing
from watcher.web.status.index import About, index
from watcher.web.status.markup import CSP, CSS
from watcher.web.status.pages import StatusPages, StatusSource
from watcher.web.status.query import Query, parse
from watcher.web.status.table import select

EVIL = "<script>window.pwned=1</script>\"'&<img src=x onerror=alert(1)>"
EVIL_ID = 'a/b?c#d"<e>'
NOW = 1_700_000_000.0


class Page(HTMLParser):
    """A parsed page: its text as a browser shows it, every attribute value, every tag name."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.tags: set[str] = set()
        self.feed(document)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)

    @property
    def shown(self) -> str:
        return "".join(self.text)


def evil_track(bid: str = EVIL_ID) -> Track:
    """A batch whose every string field is hostile, with hostile log lines in a hostile stream."""
    snap = Snapshot(
        bid,
        "weird",
        EVIL,
        app_id=EVIL,
        name=EVIL,
        owner=EVIL,
        queue=EVIL,
        kind=EVIL,
        sc_type=EVIL,
        spark_version=EVIL,
        image=EVIL,
        proxy_user=EVIL,
        create_time=1_699_999_000_000,
        update_time=1_699_999_500_000,
    )
    log = LogTrack(streams={"stdout": StreamTrack(("ok", EVIL), 2), EVIL: StreamTrack((EVIL,), -1)})
    return Track(
        bid, snapshot=snap, presence="present", up=False, failing_since=NOW - 60, state_since=NOW - 90, log=log
    )


def evil_recent(bid: str = EVIL_ID) -> Recent:
    recent = Recent()
    events = [
        Event("batch.poll_failed", "warning", bid, 1, {"reason": "http", "error_code": EVIL, "message": EVIL}),
        Event("batch.changed", "info", bid, 2, {"changes": {"name": {"old": "x", "new": EVIL}}}),
    ]
    recent.record(events, NOW - 30, {bid})
    recent.polled(Track(bid, up=False), NOW - 1)
    return recent


def about(not_ready: str | None = None) -> About:
    return About("1.2.3", 3725.0, "0/1", "details", not_ready, True)


def render_index(query: Query, not_ready: str | None = EVIL) -> str:
    recent = evil_recent()
    return index(about(not_ready), select([evil_track()], recent, query), recent, query, NOW)


def pages(tracks: dict[str, Track], recent: Recent) -> StatusPages:
    return StatusPages(StatusSource(about, lambda: tracks, recent, clock=lambda: NOW))


def batch_html(track: Track, recent: Recent) -> str:
    response = pages({track.batch_id: track}, recent).answer(("/batches/" + quote(track.batch_id, safe=""), ""))
    assert response.status == 200
    return response.body.decode()


def assert_inert(document: str) -> Page:
    """No script element, no event handler, no inline style: only text and our own markup."""
    page = Page(document)
    assert "script" not in page.tags and "img" not in page.tags
    assert not [name for name, _ in page.attrs if name.startswith("on") or name == "style"]
    return page


def test_the_index_escapes_every_api_string_and_shows_it_as_text():
    """Job name, queue, raw state, error code and message, and the not-ready reason read back as the text sent."""
    query = parse("name=" + quote(EVIL[:20]))
    document = render_index(query)
    page = assert_inert(document)
    assert EVIL not in document
    assert page.shown.count(EVIL) >= 4  # name, queue, state, error code (the message is its tooltip)
    assert ("title", EVIL) in page.attrs
    assert ("value", EVIL[:20]) in page.attrs  # the filter box shows what was typed, as a value


def test_batch_ids_are_url_quoted_in_links_and_escaped_in_text():
    """A link to a batch percent-encodes its whole ID, so ``/``, ``?`` and ``#`` stay part of it."""
    page = assert_inert(render_index(Query()))
    assert ("href", "/batches/" + quote(EVIL_ID, safe="")) in page.attrs
    assert EVIL_ID in page.shown


def test_the_batch_page_escapes_fields_events_and_log_lines():
    """Every field, the events' details, the stream names and the log lines show as text."""
    document = batch_html(evil_track(), evil_recent())
    page = assert_inert(document)
    assert EVIL not in document
    assert page.shown.count(EVIL) >= 12
    assert "ok\n" + EVIL in page.shown  # the log lines, one per line
    assert ("data-stream", EVIL) in page.attrs


def test_a_batch_not_watched_is_a_404_page_escaping_the_id():
    """An ID that is not watched gets a page saying so, the ID shown as text."""
    response = pages({}, Recent()).answer(("/batches/" + quote(EVIL, safe=""), ""))
    assert response.status == 404
    assert EVIL in assert_inert(response.body.decode()).shown


def test_the_csp_allows_no_script_and_only_the_hashed_stylesheet():
    """default-src 'none' forbids script; the one <style> is allowed by its hash, and it is the page's."""
    response = pages({}, Recent()).answer(("/", ""))
    headers = dict(response.headers)
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    assert headers["Content-Security-Policy"] == CSP
    assert "default-src 'none'" in CSP and f"style-src 'sha256-{digest}'" in CSP and "script" not in CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert f"<style>{CSS}</style>" in response.body.decode()
    assert not re.search(r"https?://", response.body.decode())  # no external assets


def test_the_index_keeps_the_links_to_the_other_endpoints():
    """/metrics, /healthz and /readyz are linked from the new landing page as from the old one."""
    page = Page(pages({}, Recent()).answer(("/", "")).body.decode())
    for path in ("/metrics", "/healthz", "/readyz"):
        assert ("href", path) in page.attrs


@pytest.mark.parametrize("include", [False, True])
def test_req_body_shows_only_redacted_and_only_when_included(include):
    """With events.include_req_body off the request is nowhere; on, only its redacted form is."""
    body = '{"conf": {"spark.db.password": "hunter2"}, "args": ["--token", "t0ps3cret"], "file": "obs://b/x.jar"}'
    snap = Snapshot("b1", "running", "running", name="job", queue="q", req_body=body)
    track, events = observe(Track("b1"), snap, NOW, LogResult(), include_req_body=include)
    recent = Recent()
    recent.record(events, NOW, {"b1"})
    document = batch_html(track, recent)
    assert "hunter2" not in document and "t0ps3cret" not in document
    assert ("req_body=" in document) is include
    assert ("obs://b/x.jar" in document) is include


def test_pages_link_to_each_other_and_say_where_they_are():
    """Page 2 of 3 links to the first, previous, next and last pages and names its rows."""
    tracks = {f"b{n:03d}": Track(f"b{n:03d}", snapshot=Snapshot(f"b{n:03d}", "running", "running")) for n in range(250)}
    document = pages(tracks, Recent()).answer(("/", "page=2&sort=id")).body.decode()
    page = Page(document)
    hrefs = {value for name, value in page.attrs if name == "href"}
    assert {"/?sort=id", "/?sort=id&page=3"} <= hrefs
    assert "batches 101\N{EN DASH}200 of 250 matching (250 watched)" in page.shown
    assert "page 2 of 3" in page.shown


def test_auto_refresh_is_a_meta_refresh_that_links_keep():
    """?refresh=N reloads the page every N seconds without script; the table's links carry it along."""
    tracks = {"b1": Track("b1", snapshot=Snapshot("b1", "running", "running", queue="q"))}
    index_page = Page(pages(tracks, Recent()).answer(("/", "refresh=30")).body.decode())
    batch_page = Page(pages(tracks, Recent()).answer(("/batches/b1", "refresh=10")).body.decode())
    assert ("content", "30") in index_page.attrs and ("http-equiv", "refresh") in index_page.attrs
    assert ("href", "/?queue=q&refresh=30") in index_page.attrs
    assert ("content", "10") in batch_page.attrs
    assert ("href", "/batches/b1") in batch_page.attrs  # auto-refresh off


def test_a_batch_not_found_shows_the_api_answer_escaped_on_both_pages():
    """A wrong project reads as not found: the status, the API's error code and its words, as text."""
    failure = Failure("http", EVIL, 400, "DLI.0002")
    track, _ = observe_missing(Track("typo"), NOW, failure)
    recent = Recent()
    shown = assert_inert(batch_html(track, recent)).shown
    assert f"not found 400 DLI.0002: {EVIL}" in shown
    response = pages({track.batch_id: track}, recent).answer(("/", ""))
    document = response.body.decode()
    assert "not found 400 DLI.0002" in assert_inert(document).shown
    assert EVIL not in document and ("title", EVIL) in Page(document).attrs
