"""The readable renderer, the public face for people: job names, local or UTC times, colour, safe text."""

from __future__ import annotations

import re
import time

import pytest

from tests.samples import SAMPLES, STAMP
from watcher.core.events import Event
from watcher.output.readable import ReadableRenderer


@pytest.fixture
def berlin(monkeypatch):
    """The machine's zone is Europe/Berlin (UTC+1 on the samples' date) for the test."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_lines_are_named_by_job_with_utc_times():
    """``HH:MM:SSZ  job  what``: batches by job name, else a short ID; the watcher's own events by its name."""
    render = ReadableRenderer(time="utc")
    log = render.render(SAMPLES["batch.log"])
    nameless = Event("batch.gone", "warning", "ffffffff-1234", 2, {"job_name": None, "last_state": "dead"}, STAMP)
    assert log.startswith("11:17:26Z  ml-train                   stderr      | ERROR Executor")
    assert render.render(nameless) == "11:17:26Z  ffffffff                 gone (last state dead)"
    assert render.render(SAMPLES["watcher.stopped"], STAMP) == (
        "11:17:26Z  dli-watcher              dli-watcher 0.2.0 stopped (3 batches)"
    )


def test_local_times_show_their_offset(berlin):
    """The default is the machine's zone, with its offset, so a reader never mistakes UTC for local time."""
    assert ReadableRenderer().render(SAMPLES["batch.not_found"]).startswith("12:17:26+01:00  ")


def test_a_gap_reads_in_the_stream_column_like_the_lines_around_it():
    """Gaps sit in the column of the lines they interrupt."""
    line = ReadableRenderer(time="utc").render(SAMPLES["batch.log_gap"])
    assert line.endswith("  stdout      | ... some lines could not be recovered")


def test_colour_only_when_asked():
    """Colour adds ANSI codes (warnings yellow); without it, none at all."""
    gone = SAMPLES["batch.gone"]
    assert "\x1b[" not in ReadableRenderer().render(gone)
    assert "\x1b[33mgone (last state success)\x1b[0m" in ReadableRenderer(color=True).render(gone)


def test_control_characters_of_a_log_line_are_shown_not_obeyed():
    """A job's log cannot recolour the terminal or break the line: controls are printed escaped."""
    line = ReadableRenderer().render(SAMPLES["batch.log"])
    assert "\x1b" not in line and "\u2028" not in line
    assert line.endswith("Exception in task 0.0 \\u2028 \\x1b[31m")


def test_an_event_without_a_timestamp_is_shown_at_the_current_time():
    """One-shot commands render events that were never stamped: the clock gives the time."""
    shown = ReadableRenderer(time="utc").render(Event("batch.not_found", "warning", "b", 1))
    assert re.match(r"^\d\d:\d\d:\d\dZ  b {24}not found$", shown)
