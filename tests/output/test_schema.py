"""The JSON Schemas in schema/: valid, one definition per event name, and they refuse what the contract forbids."""

from __future__ import annotations

import io
import json

import pytest
from jsonschema import Draft202012Validator

from tests.samples import SAMPLES
from tests.schemas import VALIDATORS, assert_valid, load, problems, validator
from watcher.core.vocabulary import EVENT_NAMES
from watcher.output.writer import EventWriter


def rendered(fmt, name):
    return json.loads(EventWriter.for_format(fmt, "debug", io.StringIO()).lines([SAMPLES[name]])[0])


@pytest.mark.parametrize("fmt", ["json", "ecs"])
def test_schemas_are_valid_and_every_sample_event_passes(fmt):
    """Both files are JSON Schema 2020-12, and one event of every name validates in its format."""
    Draft202012Validator.check_schema(VALIDATORS[fmt].schema)
    assert assert_valid(fmt, EventWriter.for_format(fmt, "debug", io.StringIO()).lines(SAMPLES.values())) == len(
        EVENT_NAMES
    )


def test_one_definition_per_event_name():
    """Each event name has its fields, level, JSON and ECS definitions, and no name is defined that does not exist."""
    events, ecs = load("events.schema.json"), load("events-ecs.schema.json")
    for table in (events["$defs"]["fields"], events["$defs"]["levels"], events["$defs"]["json"], ecs["$defs"]["dli"]):
        assert list(table) == list(EVENT_NAMES)
    assert events["$defs"]["name"]["enum"] == list(EVENT_NAMES)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda e: e.update(extra=1), "'extra' was unexpected"),
        (lambda e: e.pop("job_name"), "'job_name' is a required property"),
        (lambda e: e.update(level="info"), "'warning' was expected"),
        (lambda e: e.update(seq=0), "less than the minimum"),
        (lambda e: e.update(timestamp="2026-11-28 11:17:26"), "does not match"),
        (lambda e: e.pop("message"), "'message' is a required property"),
    ],
)
def test_the_json_schema_refuses_what_the_contract_forbids(change, complaint):
    """Unknown fields, a missing context field, the wrong level, a bad seq or timestamp, no message."""
    event = rendered("json", "batch.gone")
    change(event)
    assert any(complaint in problem for problem in problems("json", json.dumps(event)))


def test_the_ecs_schema_checks_the_fields_under_dli():
    """Under dli the same definitions apply: a missing field of the event or an unknown one is refused."""
    missing, unknown = rendered("ecs", "batch.poll_failed"), rendered("ecs", "batch.poll_failed")
    del missing["dli"]["attempts"]
    unknown["dli"]["extra"] = 1
    assert any("'attempts' is a required property" in p for p in problems("ecs", json.dumps(missing)))
    assert any("'extra' was unexpected" in p for p in problems("ecs", json.dumps(unknown)))


@pytest.mark.parametrize("fmt", ["json", "ecs"])
def test_the_schema_cut_to_one_event_name_gives_the_whole_schemas_verdicts(fmt):
    """Every sample and broken copies (a field added, the message dropped, another event's name): same problems."""
    lines = EventWriter.for_format(fmt, "debug", io.StringIO()).lines(SAMPLES.values())
    for n, line in enumerate(lines):
        event = json.loads(line)
        extra, no_message, renamed = {**event, "extra": 1}, dict(event), dict(event)
        del no_message["message"]
        renamed["event"] = json.loads(lines[(n + 1) % len(lines)])["event"]
        assert problems(fmt, json.dumps(extra)), "a broken event the check must refuse"
        # every valid sample, and broken copies of every fifth: the whole schema's errors are slow to find
        for document in (event, extra, no_message, renamed) if n % 5 == 0 else (event,):
            text = json.dumps(document)
            assert problems(fmt, text) == problems(fmt, text, whole=True), text
    name = next(iter(SAMPLES))
    assert len(validator(fmt, name).schema["allOf"]) < len(VALIDATORS[fmt].schema["allOf"])
