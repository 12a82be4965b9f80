"""What each watched batch did lately, for the status page: its last events, its last failed poll, its last poll.

Bounded twice: at most ``MAX_EVENTS`` entries of at most ``MAX_KEPT_CHARS`` characters per batch,
and only for batches still watched (the daemon forgets the others). Log lines are left out: the
track already keeps each stream's last lines, and a chatty job would push its state changes out.

Each batch's entries are one string, written by the poll loop and replaced whole, so the render
thread never reads one half-updated: an entry is its time, name, level and fields as JSON text,
joined by US (U+001F), entries joined by RS (U+001E). JSON escapes every control character, so no
event can hold a separator. The page of the one batch it shows makes the fields line and the
sentence from that text; kept made, they were two strings an entry, ~1,300 bytes a batch at four
entries against ~700 this way, ~400 compressed with zlib (issue 30: an entry is written at an event,
never at a poll, and read only for the page of its batch). Fields whose JSON passes ``MAX_KEPT_CHARS`` are kept as
their fields line and sentence, both clipped, as a JSON list.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watcher.core.events import Event

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable, Mapping

    from watcher.core.tracker import Track

MAX_EVENTS = 50
MAX_DETAIL_CHARS = 512
MAX_KEPT_CHARS = 2 * MAX_DETAIL_CHARS
UNSHOWN = frozenset({"batch.log"})
# what every batch event repeats of its batch (tracker.context): the batch page shows it once, above
CONTEXT = frozenset({"job_name", "queue", "app_id"})
RS, US = "\x1e", "\x1f"
# a lone surrogate an event carries (JSON keeps it as it is) is kept and given back, never an error on the poll loop
TEXT_ERRORS = "surrogatepass"


@dataclass(frozen=True, slots=True)
class Entry:
    """One event as the status page lists it: when it was written, its name and level, its fields in one line."""

    at: float
    name: str
    level: str
    detail: str
    # the event's sentence (its ``message``), when the recorder was given a way to say it
    message: str = ""


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


def detail(fields: Mapping[str, Any]) -> str:
    """An event's fields as ``key=value`` pairs in one bounded line (nested values as compact JSON)."""
    return clip(" ".join(f"{key}={_value(value)}" for key, value in fields.items()))


def _own_fields(event: Event) -> dict[str, Any]:
    """A batch event's fields without the context every one of its events repeats (the page shows it once)."""
    if event.batch_id is None:
        return event.fields
    return {k: v for k, v in event.fields.items() if k not in CONTEXT}


def kept(event: Event, now: float, describe: Callable[[Event], str] | None = None) -> str:
    """How one event written at ``now`` is kept: time, name, level and its own fields as JSON text."""
    fields = _own_fields(event)
    text = _value(fields)
    if len(text) > MAX_KEPT_CHARS:  # too long to keep whole: what the page shows of it, made now
        said = clip(describe(event)) if describe is not None else ""
        text = _value([detail(fields), said])
    return US.join((repr(now), event.name, event.level, text))


def entry(
    record: str, describe: Callable[[Event], str] | None = None, context: Mapping[str, Any] | None = None
) -> Entry:
    """The entry a kept record stands for; its sentence is said with ``context`` (the batch's job, queue, app)."""
    at, name, level, text = record.split(US)
    value = json.loads(text)
    if isinstance(value, list):
        return Entry(float(at), name, level, value[0], value[1])
    said = ""
    if describe is not None:
        said = clip(describe(Event(name, level, fields={**(context or {}), **value})))  # type: ignore[arg-type]
    return Entry(float(at), name, level, detail(value), said)


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
        self._events: dict[str, bytes] = {}  # zlib: written at an event, read by one page
        self._errors: dict[str, PollError] = {}
        self._polls: dict[str, float] = {}

    def __len__(self) -> int:
        """How many batches have entries (what the bound is about)."""
        return len(self._events)

    def record(self, events: Iterable[Event], now: float, watched: Container[str]) -> None:
        """Keep the events of watched batches, written at ``now``; one string swap per batch and call."""
        fresh: dict[str, list[str]] = {}
        for event in events:
            bid = event.batch_id
            if bid is None or event.name in UNSHOWN or bid not in watched:
                continue
            fresh.setdefault(bid, []).append(kept(event, now, self._describe))
            if event.name == "batch.poll_failed":
                self._errors[bid] = poll_error(event, now)
        for bid, records in fresh.items():
            old = self._text(bid)
            every = [*old.split(RS), *records] if old else records
            self._events[bid] = zlib.compress(RS.join(every[-self.per_batch :]).encode("utf-8", TEXT_ERRORS))

    def polled(self, track: Track, now: float) -> None:
        """A poll of the batch finished at ``now``, leaving ``track``.

        A poll that read the batch is the track's ``last_success`` already; only the time of any other
        (failed, not found, gone) is kept, until the next one that reads it: ~60 bytes a healthy batch.
        """
        if track.up and track.presence == "present":
            self._polls.pop(track.batch_id, None)
        else:
            self._polls[track.batch_id] = now

    def forget(self, batch_ids: Iterable[str]) -> None:
        """Drop everything kept about batches no longer watched."""
        for bid in batch_ids:
            self._events.pop(bid, None)
            self._errors.pop(bid, None)
            self._polls.pop(bid, None)

    def events(self, batch_id: str, context: Mapping[str, Any] | None = None) -> tuple[Entry, ...]:
        """The batch's recent entries, oldest first; sentences are said with ``context`` (``tracker.context``)."""
        text = self._text(batch_id)
        if not text:
            return ()
        return tuple(entry(record, self._describe, context) for record in text.split(RS))

    def _text(self, batch_id: str) -> str:
        """The batch's kept entries as one string (empty: none)."""
        packed = self._events.get(batch_id)
        return zlib.decompress(packed).decode("utf-8", TEXT_ERRORS) if packed else ""

    def error(self, batch_id: str) -> PollError | None:
        """The batch's last failed poll, if it ever had one while watched."""
        return self._errors.get(batch_id)

    def last_poll(self, track: Track) -> float | None:
        """When a poll of the batch last finished (None: never)."""
        at = self._polls.get(track.batch_id)
        return at if at is not None else track.last_success
