"""``events.format = "ecs"``: Elastic Common Schema documents, rendered by ecs-logging's formatter.

ECS has its own ``event`` object, so the event's name becomes ``event.action`` and the watcher's fields
move under ``dli.*``: with an ECS index template, Elasticsearch takes the documents as they are.
ecs-logging's ``StructlogFormatter`` is a plain callable over a dict: the watcher uses it without
structlog, which it does not depend on (README, "Development": the measurement).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ecs_logging import StructlogFormatter

from watcher.output.jsonline import safe_line
from watcher.output.messages import message

if TYPE_CHECKING:
    from watcher.core.events import Event

DATASET = "dli_watcher.events"
# fields that ECS carries elsewhere: a log line is the document's message already
_MOVED = {"batch.log": "line"}
# values whose keys hold dots (Spark conf names): Elasticsearch would split them into objects, and clash
_AS_JSON_TEXT = frozenset({"req_body"})


class EcsRenderer:
    """One ECS document per event: ``@timestamp``, ``log.level``, ``message``, ``ecs.version``, ``event``, ``dli``."""

    def __init__(self) -> None:
        self._format = StructlogFormatter(ensure_ascii=False)

    def __call__(self, event: Event, timestamp: str) -> str:
        """The document for ``event`` written at ``timestamp``."""
        # the formatter takes the "event" key (structlog's name for it) as the message, and nests the dotted keys
        document: dict[str, Any] = {
            "event": message(event),
            "@timestamp": timestamp,
            "event.action": event.name,
            "event.dataset": DATASET,
            "dli": dli_fields(event),
        }
        return safe_line(self._format(None, event.level, document))


def dli_fields(event: Event) -> dict[str, Any]:
    """The event's own fields as they go under ``dli``: batch_id and seq first, then the rest."""
    out: dict[str, Any] = {}
    if event.batch_id is not None:
        out["batch_id"] = event.batch_id
    if event.seq is not None:
        out["seq"] = event.seq
    moved = _MOVED.get(event.name)
    for key, value in event.fields.items():
        if key == moved:
            continue
        out[key] = json.dumps(value, sort_keys=True) if key in _AS_JSON_TEXT else value
    return out
