"""Every event has a message: the log line itself, or one short sentence built from the event's fields."""

from __future__ import annotations

import pytest

from tests.samples import SAMPLES
from watcher.core.events import Event
from watcher.core.vocabulary import EVENT_NAMES
from watcher.output.messages import SENTENCES, message


def test_every_event_name_has_a_sentence_and_a_sample():
    """A new event name cannot ship without its sentence (nor without a sample the schema tests use)."""
    assert set(SENTENCES) == set(EVENT_NAMES)
    assert set(SAMPLES) == set(EVENT_NAMES)


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_each_sentence_is_one_short_line(name):
    """What a log viewer shows in its message column: one line, not empty, not a dump of the fields."""
    text = message(SAMPLES[name])
    assert text.strip() and "\n" not in text
    assert len(text) <= 200


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_a_sentence_never_fails_on_missing_fields(name):
    """An event written by an older watcher (a replayed outbox row) lacks fields: it still renders."""
    assert isinstance(message(Event(name)), str)


def test_a_log_line_is_its_own_message():
    """batch.log's message is the line, byte for byte."""
    assert message(SAMPLES["batch.log"]) == SAMPLES["batch.log"].fields["line"]


def test_failures_say_why_in_their_own_words():
    """poll_failed names the reason, status and API code, the attempts, and the error's message."""
    assert message(SAMPLES["batch.poll_failed"]) == "poll failed (http 400 DLI.0999) after 3 attempts: Internal error"


def test_finished_and_gap_sentences():
    """A finish reads its outcome (and duration when known); a gap says how many lines, or 'some'."""
    finished = SAMPLES["batch.finished"]
    assert message(finished) == "finished FAILED (dead)"
    timed = Event("batch.finished", fields={"state": "success", "outcome": "succeeded", "duration_seconds": 12.5})
    assert message(timed) == "finished SUCCEEDED (success) in 12.5 s"
    assert message(SAMPLES["batch.log_gap"]) == "some stdout lines could not be recovered"
    assert message(Event("batch.log_gap", fields={"stream": "stderr", "missed_lines": 4})).startswith("4 stderr lines")
