"""What each watched batch did lately, for the status page: its last events, its last failed poll, its last poll.

Bounded twice: at most ``MAX_EVENTS`` entries of at most ``MAX_KEPT_CHARS`` characters per batch,
and only for batches still watched (the daemon forgets the others). Log lines are left out: the
track already keeps each stream's last lines, and a chatty job would push its state changes out.

Each batch's entries are one bytes object, written by the poll loop and replaced whole, so the render
thread never reads one half-updated. An entry is its name, level and fields as JSON text, joined by
US (U+001F), entries joined by RS (U+001E); JSON escapes every control character, so no event can
hold a separator. That text is raw deflate with a preset dictionary of what entries repeat
(``recentwords``), followed by the entries' times: whole milliseconds, what the page shows, as
varints of the change from the one before. The page of the one batch it shows makes the fields line
and the sentence from that text (issue 30: an entry is written at an event, never at a poll, and read
only for the page of its batch). Four entries a batch take ~1,300 bytes kept made as two strings an
entry, ~700 as text, ~290 with zlib, ~75 this way. Fields whose JSON passes ``MAX_KEPT_CHARS`` are
kept as their fields line and sentence, both clipped, as a JSON list.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watcher.core.events import Event
from watcher.core.recentwords import RS, US, WORDS

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable, Mapping, Sequence

    from watcher.core.tracker import Track

MAX_EVENTS = 50
MAX_DETAIL_CHARS = 512
MAX_KEPT_CHARS = 2 * MAX_DETAIL_CHARS
UNSHOWN = frozenset({"batch.log"})
# what every batch event repeats of its batch (tracker.context): the batch page shows it once, above
CONTEXT = frozenset({"job_name", "queue", "app_id"})
# a lone surrogate an event carries (JSON keeps it as it is) is kept and given back, never an error on the poll loop
TEXT_ERRORS = "surrogatepass"
# raw deflate: the bytes never leave the process, so no header or checksum; a 4 KiB window holds the
# preset words and a few entries, and makes each packing's set-up cheaper than zlib's default 32 KiB
WBITS, MEM_LEVEL, LEVEL = -12, 4, 9


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


def kept(event: Event, describe: Callable[[Event], str] | None = None) -> str:
    """How one event is kept: its name, level and own fields as JSON text (its time is kept beside)."""
    fields = _own_fields(event)
    text = _value(fields)
    if len(text) > MAX_KEPT_CHARS:  # too long to keep whole: what the page shows of it, made now
        said = clip(describe(event)) if describe is not None else ""
        text = _value([detail(fields), said])
    return US.join((event.name, event.level, text))


def entry(
    record: str,
    at: float,
    describe: Callable[[Event], str] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Entry:
    """The entry a kept record written at ``at`` stands for; its sentence is said with ``context`` (job, queue, app)."""
    name, level, text = record.split(US)
    value = json.loads(text)
    if isinstance(value, list):
        return Entry(at, name, level, value[0], value[1])
    said = ""
    if describe is not None:
        said = clip(describe(Event(name, level, fields={**(context or {}), **value})))  # type: ignore[arg-type]
    return Entry(at, name, level, detail(value), said)


def millis(now: float) -> int:
    """``now`` in whole milliseconds as ``rfc3339`` shows it: microseconds rounded half to even, then cut."""
    whole = math.floor(now)
    return whole * 1000 + round((now - whole) * 1_000_000) // 1000


def _varints(numbers: Iterable[int]) -> bytes:
    """Each number's change from the one before (the first's from 0), zigzag LEB128: ~2 bytes a later entry."""
    out, before = bytearray(), 0
    for number in numbers:
        step = number - before
        before = number
        left = step << 1 if step >= 0 else (-step << 1) - 1  # a clock stepped back is a negative change
        while left > 0x7F:
            out.append(left & 0x7F | 0x80)
            left >>= 7
        out.append(left)
    return bytes(out)


def _numbers(data: bytes) -> list[int]:
    """The numbers ``_varints`` wrote."""
    out: list[int] = []
    number = left = shift = 0
    for byte in data:
        left |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            number += (left >> 1) ^ -(left & 1)
            out.append(number)
            left = shift = 0
    return out


def pack(records: Sequence[str], times: Sequence[int]) -> bytes:
    """A batch's kept records and their times in milliseconds as one bytes object: deflate, then the times."""
    squeeze = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY, WORDS)
    text = RS.join(records).encode("utf-8", TEXT_ERRORS)
    return squeeze.compress(text) + squeeze.flush() + _varints(times)


def unpack(packed: bytes) -> tuple[list[str], list[int]]:
    """The records and times ``pack`` made, oldest first."""
    stretch = zlib.decompressobj(WBITS, WORDS)
    text = stretch.decompress(packed).decode("utf-8", TEXT_ERRORS)
    return text.split(RS), _numbers(stretch.unused_data)


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
        self._events: dict[str, bytes] = {}  # ``pack``ed: written at an event, read by one page
        self._errors: dict[str, PollError] = {}
        self._polls: dict[str, float] = {}

    def __len__(self) -> int:
        """How many batches have entries (what the bound is about)."""
        return len(self._events)

    def record(self, events: Iterable[Event], now: float, watched: Container[str]) -> None:
        """Keep the events of watched batches, written at ``now``; one bytes swap per batch and call."""
        fresh: dict[str, list[str]] = {}
        for event in events:
            bid = event.batch_id
            if bid is None or event.name in UNSHOWN or bid not in watched:
                continue
            fresh.setdefault(bid, []).append(kept(event, self._describe))
            if event.name == "batch.poll_failed":
                self._errors[bid] = poll_error(event, now)
        at, keep = millis(now), self.per_batch
        for bid, records in fresh.items():
            old = self._events.get(bid)
            every, times = unpack(old) if old else ([], [])
            every.extend(records)
            times.extend([at] * len(records))
            self._events[bid] = pack(every[-keep:], times[-keep:])

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
        packed = self._events.get(batch_id)
        if not packed:
            return ()
        records, times = unpack(packed)
        return tuple(
            entry(record, at / 1000, self._describe, context) for record, at in zip(records, times, strict=True)
        )

    def error(self, batch_id: str) -> PollError | None:
        """The batch's last failed poll, if it ever had one while watched."""
        return self._errors.get(batch_id)

    def last_poll(self, track: Track) -> float | None:
        """When a poll of the batch last finished (None: never)."""
        at = self._polls.get(track.batch_id)
        return at if at is not None else track.last_success
