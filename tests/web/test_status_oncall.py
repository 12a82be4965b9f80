"""The status pages for on-call: outcome finality, what needs attention, the JSON view and its schema, link-outs."""

from __future__ import annotations

import json
from urllib.parse import quote

from jsonschema import Draft202012Validator

from tests.schemas import load
from tests.web.test_status_html import Page, about, assert_inert
from watcher.core.events import Event
from watcher.core.model import Snapshot
from watcher.core.recent import Recent
from watcher.core.tracker import Track
from watcher.output.messages import message
from watcher.web.status.oncall import PageSettings, attention_counts, links_of, outcome_of
from watcher.web.status.pages import StatusPages, StatusSource

NOW = 1_700_000_000.0
GRACE = 300.0
HOSTILE_NAME = 'etl & "daily"/<b>x</b>?#'
LINKS = (
    ("Logs", "https://logs.example/search?job={job_name}&from={create_time_ms}&to={finish_time_ms}"),
    ("Spark UI", "https://yarn.example/proxy/{app_id}/"),
)


def track(bid: str, state: str, *, ended_ago: float = 0.0, **kw: object) -> Track:
    """A batch in ``state`` that ran 2m40s and (when terminal) ended ``ended_ago`` seconds ago."""
    end = NOW - ended_ago
    snap = Snapshot(
        bid,
        state,
        state,
        app_id=f"application_{bid}",
        name=str(kw.pop("name", f"job-{bid}")),
        queue="etl",
        create_time=int((end - 160) * 1000),
        update_time=int(end * 1000),
    )
    terminal = state in ("success", "dead", "error", "killed")
    fields: dict[str, object] = {"terminal_at": end if terminal else None, "state_since": end, "up": True}
    fields.update(kw)
    return Track(bid, snapshot=snap, presence="present", **fields)  # type: ignore[arg-type]


def fleet() -> dict[str, Track]:
    """A successful, a freshly dead (may revive), a long dead, a failing and a not-found batch."""
    tracks = [
        track("ok", "success", ended_ago=600),
        track("dead-new", "dead", ended_ago=60, name=HOSTILE_NAME),
        track("dead-old", "dead", ended_ago=1200),
        track("failing", "running", up=False, failing_since=NOW - 120),
        Track("typo", presence="not_found", up=True),
    ]
    return {t.batch_id: t for t in tracks}


def recent_for(tracks: dict[str, Track]) -> Recent:
    """What the daemon's Recent would hold: a poll failure with its words, and the events' sentences."""
    recent = Recent(describe=message)
    failed = {"reason": "http", "status_code": 503, "error_code": None, "error_message": "queue etl is overloaded"}
    events = [
        Event("batch.poll_failed", "warning", "failing", 3, failed),
        Event("batch.finished", "warning", "dead-new", 4, {"state": "dead", "outcome": "failed"}),
    ]
    recent.record(events, NOW - 30, set(tracks))
    return recent


def pages(tracks: dict[str, Track], revivable: bool = True) -> StatusPages:
    settings = PageSettings(GRACE, revivable, "proj/1", LINKS)
    source = StatusSource(about, lambda: tracks, recent_for(tracks), clock=lambda: NOW, settings=lambda: settings)
    return StatusPages(source)


def test_dead_is_provisional_within_the_grace_on_dli_and_final_on_livy():
    """The outcome column: dead within the grace may still revive on DLI; success and Livy's dead are final."""
    tracks = fleet()
    dli, livy = PageSettings(GRACE, True), PageSettings(GRACE, False)
    shown = {bid: outcome_of(t, NOW, dli) for bid, t in tracks.items()}
    assert [(s.outcome, s.final) if s else None for s in shown.values()] == [
        ("succeeded", True),
        ("failed", False),
        ("failed", True),
        None,
        None,
    ]
    assert shown["dead-new"] is not None and shown["dead-new"].text == "✗ failed (provisional)"
    livy_dead = outcome_of(tracks["dead-new"], NOW, livy)
    assert livy_dead is not None and livy_dead.final


def test_needs_attention_counts_failing_not_found_and_recent_failures():
    """The summary counts over the whole fleet: 1 failing, 1 not found, 2 failed in the last hour."""
    counts = attention_counts(fleet().values(), NOW)
    assert (counts.failing, counts.not_found, counts.stuck, counts.failed_last_hour) == (1, 1, 0, 2)


def test_the_index_shows_outcome_duration_the_error_and_attention_as_text():
    """/ shows the summary, a text cue beside each coloured outcome, durations and the last error's words."""
    document = pages(fleet()).answer(("/", "")).body.decode()
    shown = assert_inert(document).shown
    assert "Needs attention:" in shown and "1 failing to be read" in shown and "2 failed in the last hour" in shown
    assert "✓ succeeded (final)" in shown and "✗ failed (provisional)" in shown and "✗ failed (final)" in shown
    assert "2m 40s" in shown
    assert "queue etl is overloaded" in shown  # not only on hover
    assert 'title="2023-11-14T22:' in document  # an absolute time on hover


def test_the_json_view_validates_against_its_schema():
    """/?format=json and /batches/{id}?format=json parse and validate against schema/status.schema.json."""
    validator = Draft202012Validator(load("status.schema.json"))
    app = pages(fleet())
    index = json.loads(app.answer(("/", "format=json&per=25")).body)
    batch = json.loads(app.answer(("/batches/dead-new", "format=json")).body)
    assert list(validator.iter_errors(index)) == []
    assert list(validator.iter_errors(batch)) == []
    assert index["schema"] == batch["schema"] == 1
    assert (index["page"]["per"], index["page"]["total"]) == (25, 5)
    by_id = {b["batch_id"]: b for b in index["batches"]}
    assert by_id["dead-new"]["outcome"] == {"outcome": "failed", "final": False}
    assert by_id["failing"]["last_error"]["message"] == "queue etl is overloaded"
    assert [e["event"] for e in batch["batch"]["events"]] == ["batch.finished"]
    assert batch["batch"]["events"][0]["message"].startswith("finished")
    broken = dict(index, schema=2)
    assert list(validator.iter_errors(broken))


def test_a_link_out_is_url_encoded_in_the_url_and_escaped_in_the_page():
    """A job name with & " / < > becomes one URL-encoded query value, and the href is escaped HTML."""
    tracks = fleet()
    _, (_, ui_url) = links_of(tracks["dead-new"], PageSettings(GRACE, True, "p", LINKS))
    expected = (
        f"https://logs.example/search?job={quote(HOSTILE_NAME, safe='')}"
        f"&from={tracks['dead-new'].snapshot.create_time}&to={tracks['dead-new'].snapshot.update_time}"  # type: ignore[union-attr]
    )
    document = pages(tracks).answer(("/batches/dead-new", "")).body.decode()
    page = assert_inert(document)
    hrefs = [value for name, value in page.attrs if name == "href"]
    assert expected in hrefs  # what the browser follows, once the HTML is unescaped
    assert "&amp;from=" in document and HOSTILE_NAME not in document
    assert ui_url == "https://yarn.example/proxy/application_dead-new/"
    assert "failed (provisional) after 2m 40s" in Page(document).shown  # the headline
    running = links_of(tracks["failing"], PageSettings(GRACE, True, "p", LINKS))[0][1]
    assert running.endswith("&to=")  # no finish time while it runs
