"""What each watched batch did lately, for the status page: its last events, its last failed poll, its last poll.

Bounded twice: at most ``MAX_EVENTS`` entries of at most ``MAX_DETAIL_CHARS`` characters per batch,
and only for batches still watched (the daemon forgets the others). Log lines are left out: the
track already keeps each stream's last lines, and a chatty job would push its state changes out.

Written by the poll loop, read by the render thread: each batch's entries are an immutable tuple
replaced whole, so a reader never sees one half-updated. The tuple is flat (``FIELDS`` items an
entry, no Entry object each): at 100,000 batches with 4 entries each that is 160 bytes a batch
fewer; the page makes the Entry objects of the one batch it shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable

    from watcher.core.events import Event

MAX_EVENTS = 50
MAX_DETAIL_CHARS = 512
UNSHOWN = frozenset({"batch.log"})
# what every batch event repeats of its batch (tracker.context): the batch page shows it once, above
CONTEXT = frozenset({"job_name", "queue", "app_id"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One event as the status page lists it: when it was written, its name and level, its fields in one line."""

    at: float
    name: str
    level: str
    detail: str
    # the event's sentence (its ``message``), when the recorder was given a way to say it
    message: str = ""


FIELDS = 5  # Entry's fields, in its order: how many items of a batch's flat tuple one entry takes


def _flat(e: Entry) -> tuple[float | str, ...]:
    return (e.at, e.name, e.level, e.detail, e.message)


@dataclass(frozen=True, slots=True)
class PollError:
    """The last ``batch.poll_failed`` of a batch, kept apart so later events cannot push it out."""

    at: float
    reason: str
    status_code: int | None
    error_code: str | None
    message: str


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def detail(fields: dict[str, Any]) -> str:
    """An event's fields as ``key=value`` pairs in one bounded line (nested values as compact JSON)."""
    return clip(" ".join(f"{key}={_value(value)}" for key, value in fields.items()))


def entry(event: Event, now: float, describe: Callable[[Event], str] | None = None) -> Entry:
    """The entry of one event written at ``now``, with its sentence when ``describe`` says it.

    A batch event leaves out the context every one of its events repeats: the batch page shows it once.
    """
    said = clip(describe(event)) if describe is not None else ""
    fields = event.fields
    if event.batch_id is not None:
        fields = {k: v for k, v in fields.items() if k not in CONTEXT}
    return Entry(now, event.name, event.level, detail(fields), said)


def poll_error(event: Event, now: float) -> PollError:
    """The failure a ``batch.poll_failed`` event reports."""
    fields = event.fields
    status, code = fields.get("status_code"), fields.get("error_code")
    return PollError(
        now,
        str(fields.get("reason", "")),
        status if isinstance(status, int) else None,
        None if code is None else clip(str(code), 64),
        # poll_failed carries the server's words as error_message
        clip(str(fields.get("error_message") or fields.get("message") or "")),
    )


class Recent:
    """The recent entries, last poll error and last poll time of every watched batch."""

    def __init__(self, per_batch: int = MAX_EVENTS, describe: Callable[[Event], str] | None = None) -> None:
        self.per_batch = per_batch
        self._describe = describe
        self._events: dict[str, tuple[Any, ...]] = {}
        self._errors: dict[str, PollError] = {}
        self._polls: dict[str, float] = {}

    def __len__(self) -> int:
        """How many batches have entries (what the bound is about)."""
        return len(self._events)

    def record(self, events: Iterable[Event], now: float, watched: Container[str]) -> None:
        """Keep the events of watched batches, written at ``now``; one tuple swap per batch and call."""
        fresh: dict[str, list[float | str]] = {}
        for event in events:
            bid = event.batch_id
            if bid is None or event.name in UNSHOWN or bid not in watched:
                continue
            fresh.setdefault(bid, []).extend(_flat(entry(event, now, self._describe)))
            if event.name == "batch.poll_failed":
                self._errors[bid] = poll_error(event, now)
        for bid, entries in fresh.items():
            self._events[bid] = (*self._events.get(bid, ()), *entries)[-self.per_batch * FIELDS :]

    def polled(self, batch_id: str, now: float) -> None:
        """A poll of the batch finished at ``now`` (whatever its outcome)."""
        self._polls[batch_id] = now

    def forget(self, batch_ids: Iterable[str]) -> None:
        """Drop everything kept about batches no longer watched."""
        for bid in batch_ids:
            self._events.pop(bid, None)
            self._errors.pop(bid, None)
            self._polls.pop(bid, None)

    def events(self, batch_id: str) -> tuple[Entry, ...]:
        """The batch's recent entries, oldest first."""
        flat = self._events.get(batch_id, ())
        return tuple(Entry(*flat[i : i + FIELDS]) for i in range(0, len(flat), FIELDS))

    def error(self, batch_id: str) -> PollError | None:
        """The batch's last failed poll, if it ever had one while watched."""
        return self._errors.get(batch_id)

    def last_poll(self, batch_id: str) -> float | None:
        """When a poll of the batch last finished, if one did in this run."""
        return self._polls.get(batch_id)
