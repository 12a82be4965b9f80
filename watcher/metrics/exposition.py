"""The /metrics body: per-batch families rendered as text directly, the rest by prometheus_client.

At 10,000 batches the per-batch families were ~180,000 samples. Building them as client objects
and formatting them generically took ~1.7 s of GIL-holding work per scrape, stalling the poll loop.
Here each batch's lines are kept until its fields change, so a scrape mostly joins strings.
"""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from prometheus_client.exposition import choose_encoder

from watcher.core import states
from watcher.core.labels import LabelCap
from watcher.core.states import METRIC_STATES
from watcher.core.watchstatus import watch_status

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from prometheus_client import CollectorRegistry

    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track
    from watcher.core.vocabulary import PerBatch

T = TypeVar("T")


class Slots(NamedTuple, Generic[T]):
    """One field per per-batch family, in the order they are exposed: their names, a batch's lines, a scrape's parts."""

    info: T
    state: T
    created: T
    updated: T
    age: T  # a batch's line here is the name and labels only: the value is computed afresh at every scrape
    since: T
    started: T
    finished: T
    up: T
    watch: T


FAMILIES = Slots(
    ("dli_batch_info", "Batch metadata that does not change; always 1."),
    ("dli_batch_state", "1 for the batch's current state, 0 for the others of its flavor."),
    ("dli_batch_created_timestamp_seconds", "When the batch was created (create_time)."),
    ("dli_batch_updated_timestamp_seconds", "The batch's update_time."),
    ("dli_batch_update_age_seconds", "Seconds since the batch's update_time, at scrape time."),
    ("dli_batch_state_since_timestamp_seconds", "When the current state was first observed."),
    ("dli_batch_started_timestamp_seconds", "When running was first observed after waiting (within one interval)."),
    ("dli_batch_finished_timestamp_seconds", "When the batch finished (update_time of its terminal state)."),
    (
        "dli_batch_up",
        "1 if the last poll of this batch got an answer (found or not), 0 while failing or not yet polled.",
    ),
    ("dli_batch_watch_status", "1 for what the watcher sees of the batch: pending, ok, not_found, failing or gone."),
)
Lines = Slots[str]  # a batch's sample lines per family, "" where it has none
NO_LINES = Lines(*("",) * len(Slots._fields))
# compact mode: a batch's info, its current state only (1), since when, its watch status; alerts need no more
COMPACT = frozenset({"info", "state", "since", "watch"})


def escape(value: str) -> str:
    """A label value as the exposition formats want it."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    """A sample value: integers without a fraction, the rest as repr."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


@dataclass(frozen=True, slots=True)
class BatchView:
    """How per-batch series are rendered: which batches get them, which families, states and label bounds."""

    mode: PerBatch = "compact"
    states: tuple[str, ...] = METRIC_STATES
    allowed: Callable[[str], bool] = lambda _: True
    labels: LabelCap = field(default_factory=LabelCap)

    def wanted(self) -> list[int]:
        """The per-batch families this view renders (by position in FAMILIES), the filter applied."""
        return [
            n
            for n, (slot, (name, _)) in enumerate(zip(Slots._fields, FAMILIES, strict=True))
            if self.allowed(name) and (self.mode != "compact" or slot in COMPACT)
        ]

    def full(self, track: Track) -> bool:
        """Whether the batch gets every per-batch family of its mode, or only its watch status."""
        if self.mode in ("all", "compact"):
            return True
        return self.mode == "active" and (track.state is None or not states.is_terminal(track.state))


def _key(track: Track, status: str) -> tuple[object, ...]:
    snap = track.snapshot
    if snap is None:
        return (None, track.up, status)
    return (
        snap.name,
        snap.queue,
        snap.owner,
        snap.kind,
        snap.sc_type,
        snap.state,
        snap.create_time,
        snap.update_time,
        track.state_since,
        track.started_at,
        track.up,
        status,
    )


def _light_key(track: Track, status: str) -> tuple[object, ...]:
    """What a status-only batch's entry depends on: its status line and its group."""
    snap = track.snapshot
    return (status,) if snap is None else (status, snap.state, snap.queue)


def _info_labels(snap: Snapshot, view: BatchView) -> str:
    shown = view.labels.shown
    return ",".join(
        f'{k}="{escape(shown(k, v))}"'
        for k, v in (
            ("job_name", snap.name),
            ("queue", snap.queue),
            ("owner", snap.owner),
            ("kind", snap.kind),
            ("sc_type", snap.sc_type),
        )
    )


def _lines(track: Track, status: str, view: BatchView) -> Lines:
    """A batch's sample lines per family (age: its name and labels only; only up and status before a first read)."""
    bid = escape(track.batch_id)
    one = f'{{batch_id="{bid}"}}'
    up = f"dli_batch_up{one} {1 if track.up else 0}\n"
    watch = f'dli_batch_watch_status{{batch_id="{bid}",status="{status}"}} 1\n'
    snap = track.snapshot
    if snap is None:
        return NO_LINES._replace(up=up, watch=watch)
    info = _info_labels(snap, view)
    current = snap.state if snap.state in view.states else states.UNKNOWN
    state = "".join(
        f'dli_batch_state{{batch_id="{bid}",state="{s}"}} {1 if s == current else 0}\n' for s in view.states
    )

    def sample(name: str, value: float | None) -> str:
        return "" if value is None else f"{name}{one} {number(value)}\n"

    finished = snap.update_time if states.is_terminal(snap.state) else None
    return Lines(
        info=f'dli_batch_info{{batch_id="{bid}",{info}}} 1\n',
        state=state,
        created=sample(
            "dli_batch_created_timestamp_seconds", None if snap.create_time is None else snap.create_time / 1000
        ),
        updated=sample(
            "dli_batch_updated_timestamp_seconds", None if snap.update_time is None else snap.update_time / 1000
        ),
        age="" if snap.update_time is None else f"dli_batch_update_age_seconds{one} ",
        since=sample("dli_batch_state_since_timestamp_seconds", track.state_since),
        started=sample("dli_batch_started_timestamp_seconds", track.started_at),
        finished=sample("dli_batch_finished_timestamp_seconds", None if finished is None else finished / 1000),
        up=up,
        watch=watch,
    )


class Group(NamedTuple):
    """What dli_batches counts a batch under."""

    queue: str  # as shown (the label cap applied)
    state: str  # as the flavor shows it


class Entry(NamedTuple):
    """A batch's cache entry: the fields its lines were made from, its lines per family, its group."""

    key: tuple[object, ...]
    lines: Lines
    group: Group | None


def _status_only(track: Track, status: str) -> Lines:
    """The lines of a batch that gets only its watch status (active mode, finished; none mode)."""
    return NO_LINES._replace(
        watch=f'dli_batch_watch_status{{batch_id="{escape(track.batch_id)}",status="{status}"}} 1\n'
    )


def _made(track: Track, status: str, view: BatchView, full: bool) -> Lines:
    """A batch's lines afresh, as its mode and status want them."""
    return _lines(track, status, view) if full else _status_only(track, status)


def _group(track: Track, view: BatchView) -> Group | None:
    snap = track.snapshot
    return None if snap is None else _snap_group(snap, view)


def _snap_group(snap: Snapshot, view: BatchView) -> Group:
    return Group(view.labels.shown("queue", snap.queue), snap.state if snap.state in view.states else states.UNKNOWN)


@dataclass
class Counts:
    """What the last render saw: batches by (queue, state) and by watch status, for the aggregates."""

    by_group: Counter[Group] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)


class BatchText:
    """Per-batch families as exposition text, reusing each batch's lines while its fields are unchanged.

    One pass over the batches also counts them for the aggregates (``counts``), so a scrape of
    100,000 batches walks them once.
    """

    def __init__(self, view: BatchView | None = None) -> None:
        self.view = view or BatchView()
        self._cache: dict[str, Entry] = {}
        self._groups: dict[Group, Group] = {}
        self.counts = Counts()

    def render(self, tracks: Iterable[Track], now: float) -> str:
        """The text of every per-batch family for the given batches (the caller decides which remain)."""
        view = self.view
        wanted = view.wanted()
        if view.mode == "compact":
            return _joined(wanted, self._compact(tracks))
        age_slot = Slots._fields.index("age")
        parts = Slots[list[str]](*([] for _ in FAMILIES))
        # each kept family's slot and its list's append, bound once (a lookup per line is ~1.3 million a scrape)
        adders = [(n, parts[n].append) for n in wanted if n != age_slot]
        old, cache, counts = self._cache, dict[str, Entry](), Counts()
        watch, age, by_status, by_group = parts.watch.append, parts.age.append, counts.by_status, counts.by_group
        for track in tracks:
            status = watch_status(track)
            full = view.full(track)
            snap = track.snapshot
            key = _key(track, status) if full else _light_key(track, status)
            entry = old.get(track.batch_id)
            if entry is None or entry.key != key:
                entry = Entry(key, _made(track, status, view, full), _group(track, view))
            cache[track.batch_id] = entry
            by_status[status] += 1
            group, lines = entry.group, entry.lines
            if group is not None:
                by_group[group] += 1
            if not full:
                watch(lines.watch)
                continue
            for n, add in adders:
                add(lines[n])
            if lines.age and snap is not None and snap.update_time is not None:
                age(f"{lines.age}{number(max(0.0, now - snap.update_time / 1000))}\n")
        self._cache, self.counts = cache, counts  # batches that left the metrics leave the cache with them
        return _joined(wanted, parts)

    def _compact(self, tracks: Iterable[Track]) -> Slots[list[str]]:
        """Compact mode's lines per family, made afresh each scrape: nothing is kept per batch between scrapes.

        A cached info line a batch was ~400 bytes a batch held for good (a sixth of a batch's memory);
        making them again, one job's labels shared within the scrape, costs 1.06x the cached render at
        100,000 batches of 500 jobs and ~1.9x when every batch is its own job (README, Sizing memory).
        """
        view = self.view
        parts = Slots[list[str]](*([] for _ in FAMILIES))
        # bound once: at 100,000 batches a lookup per batch is a few ms per scrape
        info, state, since, watch = parts.info.append, parts.state.append, parts.since.append, parts.watch.append
        counts = Counts()
        groups, by_status, by_group = self._groups, counts.by_status, counts.by_group
        # this scrape's info labels by the fields they come from: batches of one job share them (dropped after)
        shared: dict[tuple[str | None, ...], str] = {}
        for track in tracks:
            status = watch_status(track)
            by_status[status] += 1
            bid = escape(track.batch_id)
            snap = track.snapshot
            if snap is None:
                watch(f'dli_batch_watch_status{{batch_id="{bid}",status="{status}"}} 1\n')
                continue
            group = _snap_group(snap, view)
            group = groups.setdefault(group, group)  # one tuple per (queue, state) for the whole fleet
            by_group[group] += 1
            key = (snap.name, snap.queue, snap.owner, snap.kind, snap.sc_type)
            labels = shared.get(key)
            if labels is None:
                labels = shared[key] = _info_labels(snap, view)
            info(f'dli_batch_info{{batch_id="{bid}",{labels}}} 1\n')
            state(f'dli_batch_state{{batch_id="{bid}",state="{group.state}"}} 1\n')
            if track.state_since is not None:
                since(f'dli_batch_state_since_timestamp_seconds{{batch_id="{bid}"}} {number(track.state_since)}\n')
            watch(f'dli_batch_watch_status{{batch_id="{bid}",status="{status}"}} 1\n')
        self.counts = counts
        return parts


def _joined(wanted: list[int], parts: Slots[list[str]]) -> str:
    """The wanted families' text, each after its HELP and TYPE."""
    out = []
    for n in wanted:
        name, help_text = FAMILIES[n]
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n")
        out.extend(parts[n])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Variant:
    """What a scrape asked for: the negotiated content type (it fixes the encoder) and whether to gzip."""

    content_type: str
    gzip: bool


def negotiate(accept: str, accept_encoding: str) -> Variant:
    """The variant of the exposition that an Accept and an Accept-Encoding header ask for."""
    _, content_type = choose_encoder(accept)
    return Variant(content_type, "gzip" in accept_encoding)


def render(registry: CollectorRegistry, batches: str, variant: Variant) -> tuple[bytes, list[tuple[str, str]]]:
    """The whole /metrics response: the registry in the variant's format with the batch text inside it."""
    # a negotiated content type, given back as an Accept header, negotiates the same encoder
    encoder, content_type = choose_encoder(variant.content_type)
    output = encoder(registry)
    extra = batches.encode()
    eof = b"# EOF\n"
    output = output[: -len(eof)] + extra + eof if output.endswith(eof) else output + extra
    headers = [("Content-Type", content_type)]
    if variant.gzip:
        # level 1: most of the size gain for a fraction of the time, and zlib releases the GIL
        output = gzip.compress(output, compresslevel=1)
        headers.append(("Content-Encoding", "gzip"))
    return output, headers


def body(
    registry: CollectorRegistry, batches: str, accept: str, accept_encoding: str
) -> tuple[bytes, list[tuple[str, str]]]:
    """The whole /metrics response for the given request headers."""
    return render(registry, batches, negotiate(accept, accept_encoding))
