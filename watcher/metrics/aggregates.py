"""Low-cardinality counts over the watched batches, so big fleets need no ``count by`` over per-batch series.

The counting happens in the per-batch pass (``BatchText.counts``); this renders what it counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watcher.core.watchstatus import STATUSES
from watcher.metrics.exposition import escape

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.metrics.exposition import Counts

BATCHES = ("dli_batches", "Batches in the metrics by queue and state (the flavor's states; others are unknown).")
BY_STATUS = ("dli_watcher_batches", "Batches in the metrics by watch status.")


def aggregate_text(counts: Counts, allowed: Callable[[str], bool]) -> str:
    """dli_batches{queue,state} and dli_watcher_batches{status} as exposition text (every status, zeros too)."""
    out = []
    if allowed(BATCHES[0]):
        out.append(f"# HELP {BATCHES[0]} {BATCHES[1]}\n# TYPE {BATCHES[0]} gauge\n")
        out.extend(
            f'dli_batches{{queue="{escape(queue)}",state="{state}"}} {n}\n'
            for (queue, state), n in sorted(counts.by_group.items())
        )
    if allowed(BY_STATUS[0]):
        out.append(f"# HELP {BY_STATUS[0]} {BY_STATUS[1]}\n# TYPE {BY_STATUS[0]} gauge\n")
        out.extend(f'dli_watcher_batches{{status="{s}"}} {counts.by_status[s]}\n' for s in STATUSES)
    return "".join(out)
