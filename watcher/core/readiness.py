"""When the first cycle is complete, and what ``watcher.ready`` reports of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watcher.core.vocabulary import ENDPOINTS

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping


def first_cycle_done(owed: Collection[str], awaited: Collection[str]) -> bool:
    """Done once no batch owes its first poll and nothing awaited (discovery's first run) is outstanding."""
    return not owed and not awaited


def ready_fields(batches: int, seconds: float, requests: Mapping[str, int]) -> dict[str, object]:
    """The fields of ``watcher.ready``: batches watched, seconds since start, API requests so far by endpoint."""
    fields: dict[str, object] = {"batches": batches, "seconds": round(seconds, 3)}
    fields.update({f"{endpoint}_requests": requests.get(endpoint, 0) for endpoint in ENDPOINTS})
    return fields
