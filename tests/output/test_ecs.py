"""events.format = "ecs": the ECS fields used have their ECS types, and the watcher's own fields sit under dli."""

from __future__ import annotations

import io
import json
from datetime import datetime

import ecs_logging

from tests.samples import SAMPLES, STAMP
from watcher.output.writer import EventWriter

# Every ECS field the ECS format writes, with its type in the ECS field reference
# (https://www.elastic.co/guide/en/ecs/current/ecs-field-reference.html: base, log, ecs and event fields).
ECS_TYPES = {
    "@timestamp": "date",  # base
    "message": "match_only_text",  # base (text before ECS 1.12)
    "log.level": "keyword",  # log
    "ecs.version": "keyword",  # ecs
    "event.action": "keyword",  # event
    "event.dataset": "keyword",  # event
}
# what JSON value each ECS type accepts
ACCEPTS = {
    "date": lambda v: isinstance(v, str) and datetime.fromisoformat(v).tzinfo is not None,
    "keyword": lambda v: isinstance(v, str),
    "match_only_text": lambda v: isinstance(v, str),
}


def documents():
    writer = EventWriter.for_format("ecs", "debug", io.StringIO())
    return {e.name: json.loads(line) for e, line in zip(SAMPLES.values(), writer.lines(SAMPLES.values()), strict=True)}


def ecs_fields(document):
    """The document's ECS fields by dotted name: everything but the watcher's own namespace, dli."""
    flat = {}
    for key, value in document.items():
        if key == "dli":
            continue
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": v for inner, v in value.items()})
        else:
            flat[key] = value
    return flat


def test_every_ecs_field_used_has_its_ecs_type():
    """No field outside dli that ECS does not define, and each one holds a value of its ECS type."""
    for name, document in documents().items():
        fields = ecs_fields(document)
        assert set(fields) == set(ECS_TYPES), name
        for field, value in fields.items():
            assert ACCEPTS[ECS_TYPES[field]](value), (name, field, value)


def test_the_event_name_is_the_action_and_the_rest_is_under_dli():
    """ECS's event object is not our event name: it becomes event.action, the batch fields go under dli."""
    discovered = documents()["batch.discovered"]
    assert discovered["event"] == {"action": "batch.discovered", "dataset": "dli_watcher.events"}
    assert discovered["@timestamp"] == STAMP and discovered["log.level"] == "info"
    assert discovered["ecs.version"] == ecs_logging.ECS_VERSION
    assert discovered["dli"]["job_name"] == "ml-train" and discovered["dli"]["seq"] == 1


def test_a_log_line_is_the_message_once():
    """The line is the document's message; it is not repeated under dli."""
    log = documents()["batch.log"]
    assert log["message"] == SAMPLES["batch.log"].fields["line"]
    assert "line" not in log["dli"] and log["dli"]["stream"] == "stderr"


def test_a_request_body_is_json_text():
    """Spark conf keys hold dots, which Elasticsearch would split into clashing objects: req_body is text."""
    body = documents()["batch.discovered"]["dli"]["req_body"]
    assert json.loads(body) == SAMPLES["batch.discovered"].fields["req_body"]
