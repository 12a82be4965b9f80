"""``events.format = "json"``: one compact JSON object per event, in the field order the README documents."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from watcher.core.untrusted import valid_unicode
from watcher.output.messages import message

if TYPE_CHECKING:
    from watcher.core.events import Event

# made once: json.dumps with any non-default option builds a new encoder on every call
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
# JSON allows these raw inside strings, but readers that split on every Unicode line break
# (JavaScript, Python's str.splitlines) would cut an event in two
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"})


def dumps(obj: Any) -> str:
    """Compact JSON on one line, whatever the strings in ``obj`` hold."""
    return safe_line(_ENCODER.encode(obj))


def safe_line(text: str) -> str:
    """JSON text that every reader sees as one line and any UTF-8 writer can write."""
    if text.isascii():
        return text
    # a lone surrogate would fail the UTF-8 write and take the daemon with it
    return valid_unicode(text).translate(_LINE_BREAKS)


def render_json(event: Event, timestamp: str) -> str:
    """``timestamp``, ``level``, ``event``, ``batch_id`` and ``seq`` (batch events), ``message``, then the fields."""
    line: dict[str, Any] = {"timestamp": timestamp, "level": event.level, "event": event.name}
    if event.batch_id is not None:
        line["batch_id"] = event.batch_id
    if event.seq is not None:
        line["seq"] = event.seq
    line["message"] = message(event)
    line.update(event.fields)
    return dumps(line)
