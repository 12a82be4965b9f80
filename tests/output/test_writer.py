"""EventWriter: which renderer a format and a stream get, the JSON line's shape, timestamps and levels."""

from __future__ import annotations

import io
import json
import os
from contextlib import contextmanager

import pytest

from tests.samples import SAMPLES, STAMP
from watcher.core.events import Event
from watcher.output.ecs import EcsRenderer
from watcher.output.readable import ReadableRenderer
from watcher.output.writer import EventWriter, renderer_for


@contextmanager
def terminal():
    """A real terminal (a pseudo-terminal's far end) as a text stream."""
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as stream:
        try:
            yield stream
        finally:
            os.close(leader)


def render(fmt, stream, env=None, *, no_color=False):
    return renderer_for(fmt, stream, env or {}, time="utc", no_color=no_color)


def test_auto_is_readable_on_a_terminal_and_json_elsewhere():
    """auto: a person at a terminal reads lines, a pipe or file gets JSON; console is readable's old name."""
    with terminal() as tty:
        assert isinstance(render("auto", tty), ReadableRenderer)
    assert json.loads(render("auto", io.StringIO())(SAMPLES["batch.log"], STAMP))["event"] == "batch.log"
    assert isinstance(render("console", io.StringIO()), ReadableRenderer)
    assert isinstance(render("ecs", io.StringIO()), EcsRenderer)


@pytest.mark.parametrize(
    ("env", "no_color", "colored"),
    [({}, False, True), ({"NO_COLOR": "1"}, False, False), ({"NO_COLOR": ""}, False, True), ({}, True, False)],
)
def test_colour_on_a_terminal_unless_no_color(env, no_color, colored):
    """Colour needs a terminal and is off with a non-empty NO_COLOR or --no-color."""
    with terminal() as tty:
        renderer = render("readable", tty, env, no_color=no_color)
    assert isinstance(renderer, ReadableRenderer) and renderer.color is colored
    piped = render("readable", io.StringIO())
    assert isinstance(piped, ReadableRenderer) and not piped.color


def test_a_json_line_leads_with_the_contract_fields_then_the_message_and_context():
    """timestamp, level, event, batch_id, seq, message, the batch's context, then the event's own fields."""
    line = json.loads(EventWriter.for_format("json", "info", io.StringIO()).lines([SAMPLES["batch.gone"]])[0])
    assert list(line)[:9] == [
        "timestamp", "level", "event", "batch_id", "seq", "message", "job_name", "queue", "app_id",
    ]  # fmt: skip
    assert line["timestamp"] == STAMP and line["message"] == "gone (last state success)"


def test_events_keep_their_timestamp_and_the_others_share_one_reading_of_the_clock():
    """A stamped event is written with its stamp; unstamped ones of one call get the same clock reading."""
    ticks = iter([0.5, 1.5])
    json_renderer = renderer_for("json", io.StringIO(), {}, time="utc", no_color=False)
    writer = EventWriter(io.StringIO(), json_renderer, clock=lambda: next(ticks))
    lines = writer.lines([SAMPLES["watcher.stopped"], SAMPLES["batch.log"], SAMPLES["watcher.stopped"]])
    stamps = [json.loads(line)["timestamp"] for line in lines]
    assert stamps == ["1970-01-01T00:00:00.500Z", STAMP, "1970-01-01T00:00:00.500Z"]


def test_events_below_the_level_are_left_out():
    """events.level = warning keeps warnings and errors only."""
    writer = EventWriter.for_format("json", "warning", io.StringIO())
    kept = [json.loads(line)["event"] for line in writer.lines(SAMPLES.values())]
    assert "batch.log" not in kept and "batch.gone" in kept and "watcher.crashed" in kept


def test_json_stays_one_line_whatever_the_text():
    """Unicode line separators are escaped and lone surrogates replaced, so every reader sees one line."""
    event = Event("batch.log", "info", "b", 1, {"stream": "stdout", "line": "a\u2028b\ud83d"}, STAMP)
    (line,) = EventWriter.for_format("json", "info", io.StringIO()).lines([event])
    assert len(line.splitlines()) == 1 and line.encode("utf-8")
