"""Low-cardinality counts over the watched batches, so big fleets need no ``count by`` over per-batch series."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from watcher.core import states
from watcher.core.watchstatus import STATUSES, watch_status
from watcher.metrics.exposition import escape

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from watcher.core.labels import LabelCap
    from watcher.core.tracker import Track

BATCHES = ("dli_batches", "Batches in the metrics by queue and state (the flavor's states; others are unknown).")
BY_STATUS = ("dli_watcher_batches", "Batches in the metrics by watch status.")


def count(
    tracks: Iterable[Track], labels: LabelCap, flavor_states: tuple[str, ...]
) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """(batches by (queue, state) for the read ones, batches by watch status for all of them)."""
    by_state: Counter[tuple[str, str]] = Counter()
    by_status: Counter[str] = Counter()
    for track in tracks:
        by_status[watch_status(track)] += 1
        snap = track.snapshot
        if snap is not None:
            state = snap.state if snap.state in flavor_states else states.UNKNOWN
            by_state[(labels.shown("queue", snap.queue), state)] += 1
    return by_state, by_status


def aggregate_text(
    tracks: Iterable[Track], labels: LabelCap, flavor_states: tuple[str, ...], allowed: Callable[[str], bool]
) -> str:
    """dli_batches{queue,state} and dli_watcher_batches{status} as exposition text (every status, zeros too)."""
    by_state, by_status = count(tracks, labels, flavor_states)
    out = []
    if allowed(BATCHES[0]):
        out.append(f"# HELP {BATCHES[0]} {BATCHES[1]}\n# TYPE {BATCHES[0]} gauge\n")
        out.extend(
            f'dli_batches{{queue="{escape(queue)}",state="{state}"}} {n}\n'
            for (queue, state), n in sorted(by_state.items())
        )
    if allowed(BY_STATUS[0]):
        out.append(f"# HELP {BY_STATUS[0]} {BY_STATUS[1]}\n# TYPE {BY_STATUS[0]} gauge\n")
        out.extend(f'dli_watcher_batches{{status="{s}"}} {by_status[s]}\n' for s in STATUSES)
    return "".join(out)
