"""The /metrics body: per-batch families rendered as text directly, the rest by prometheus_client.

At 10,000 batches the per-batch families are ~180,000 samples. Building them as client objects
and formatting them generically took ~1.7 s of GIL-holding work per scrape, stalling the poll loop.
Here each batch's lines are kept until its fields change, so a scrape mostly joins strings.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.exposition import choose_encoder

from watcher.core import states

if TYPE_CHECKING:
    from collections.abc import Iterable

    from prometheus_client import CollectorRegistry

    from watcher.core.tracker import Track

FAMILIES = (
    ("dli_batch_info", "Batch metadata that does not change; always 1."),
    ("dli_batch_state", "1 for the batch's current state, 0 for the others."),
    ("dli_batch_created_timestamp_seconds", "When the batch was created (create_time)."),
    ("dli_batch_updated_timestamp_seconds", "The batch's update_time."),
    ("dli_batch_update_age_seconds", "Seconds since the batch's update_time, at scrape time."),
    ("dli_batch_state_since_timestamp_seconds", "When the current state was first observed."),
    ("dli_batch_up", "1 if the last poll of this batch succeeded."),
)
AGE = 4  # the one family computed afresh at every scrape


def escape(value: str) -> str:
    """A label value as the exposition formats want it."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    """A sample value: integers without a fraction, the rest as repr."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _key(track: Track) -> tuple[object, ...]:
    snap = track.snapshot
    assert snap is not None
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
        track.up,
    )


def _lines(track: Track) -> tuple[str, ...]:
    """A batch's sample lines for each family (the age one left empty)."""
    snap = track.snapshot
    assert snap is not None
    bid = escape(track.batch_id)
    info = ",".join(
        f'{k}="{escape(v or "")}"'
        for k, v in (
            ("job_name", snap.name),
            ("queue", snap.queue),
            ("owner", snap.owner),
            ("kind", snap.kind),
            ("sc_type", snap.sc_type),
        )
    )
    current = states.metric_state(snap.state)
    state = "".join(
        f'dli_batch_state{{batch_id="{bid}",state="{s}"}} {1 if s == current else 0}\n' for s in states.METRIC_STATES
    )
    one = f'{{batch_id="{bid}"}}'

    def sample(name: str, value: float | None) -> str:
        return "" if value is None else f"{name}{one} {number(value)}\n"

    return (
        f'dli_batch_info{{batch_id="{bid}",{info}}} 1\n',
        state,
        sample("dli_batch_created_timestamp_seconds", None if snap.create_time is None else snap.create_time / 1000),
        sample("dli_batch_updated_timestamp_seconds", None if snap.update_time is None else snap.update_time / 1000),
        "",
        sample("dli_batch_state_since_timestamp_seconds", track.state_since),
        sample("dli_batch_up", 1.0 if track.up else 0.0),
    )


class BatchText:
    """Per-batch families as exposition text, reusing each batch's lines while its fields are unchanged."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[object, ...], tuple[str, ...]]] = {}

    def render(self, tracks: Iterable[Track], now: float) -> str:
        """The text of every per-batch family for the given batches (the caller decides which remain)."""
        parts: list[list[str]] = [[] for _ in FAMILIES]
        cache: dict[str, tuple[tuple[object, ...], tuple[str, ...]]] = {}
        for track in tracks:
            if track.snapshot is None:
                continue
            key = _key(track)
            hit = self._cache.get(track.batch_id)
            lines = hit[1] if hit is not None and hit[0] == key else _lines(track)
            cache[track.batch_id] = (key, lines)
            for n, line in enumerate(lines):
                parts[n].append(line)
            update = track.snapshot.update_time
            if update is not None:
                age = number(max(0.0, now - update / 1000))
                parts[AGE].append(f'dli_batch_update_age_seconds{{batch_id="{escape(track.batch_id)}"}} {age}\n')
        self._cache = cache  # batches that left the metrics leave the cache with them
        out = []
        for (name, help_text), samples in zip(FAMILIES, parts, strict=True):
            out.append(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n")
            out.extend(samples)
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
