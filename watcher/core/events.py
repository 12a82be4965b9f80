"""Event records: what the diff engine decided happened, before anything renders them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watcher.core.vocabulary import EventName, Level


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the event stream; ``seq`` grows by one per event of a batch.

    ``timestamp`` is the RFC 3339 time the event is written with; when None the writer stamps it with
    its own clock. Batch events carry theirs from the poll that produced them, and the outbox keeps it,
    so an event replayed after a crash is written byte for byte as the first time.
    """

    name: EventName
    level: Level = "info"
    batch_id: str | None = None
    seq: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    timestamp: str | None = None


def rfc3339(seconds: float) -> str:
    """UTC RFC 3339 with milliseconds and a ``Z``, as every event timestamp is written."""
    stamp = datetime.fromtimestamp(seconds, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def rfc3339_millis(millis: int | None) -> str | None:
    """An API epoch-milliseconds time as RFC 3339, or None when the API gave none."""
    return None if millis is None else rfc3339(millis / 1000)
