"""The list endpoints: DLI's filtered, ordered ``/batches`` and Livy's plain paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watcher.core.states import normalise
from watcher.simulator.params import lenient_int

if TYPE_CHECKING:
    from watcher.simulator.world import Items, World

Session = dict[str, Any]
# DLI list query parameter -> session field it must equal
_EQUAL_FILTERS = (
    ("queue_name", "queue"),
    ("cluster_name", "cluster_name"),
    ("job_name", "name"),
    ("job-id", "id"),
    # documented by the list API (dli_02_0125 "Listing Batch Processing Jobs", Table 2: owner), though
    # huaweicloudsdkdli 3.1.219's ListSparkJobsRequest has no attribute for it
    ("owner", "owner"),
)

_ORDERS: dict[str, tuple[str, bool]] = {
    "CREATE_TIME_DESC": ("create_time", True),
    "CREATE_TIME_ASC": ("create_time", False),
    "DURATION_DESC": ("duration", True),
    "DURATION_ASC": ("duration", False),
}


@dataclass(frozen=True, slots=True)
class _Filter:
    """DLI list filters: exact fields, a state (any case) and a ``create_time`` window."""

    equal: tuple[tuple[str, str], ...] = ()
    state: str | None = None
    start: int | None = None
    end: int | None = None

    def accepts(self, s: Session) -> bool:
        """Whether a session passes every filter."""
        if any(str(s.get(name)) != value for name, value in self.equal):
            return False
        if self.state is not None and normalise(str(s.get("state"))) != self.state:
            return False
        created = int(s["create_time"])
        return (self.start is None or created >= self.start) and (self.end is None or created <= self.end)


def _filter(params: dict[str, str]) -> _Filter:
    """Read the DLI filter parameters that are present."""
    equal = tuple((name, params[param]) for param, name in _EQUAL_FILTERS if params.get(param))
    state = normalise(params["state"]) if params.get("state") else None
    start, end = lenient_int("start", params.get("start")), lenient_int("end", params.get("end"))
    return _Filter(equal, state, start, end)


def _page(keys: list[str], params: dict[str, str]) -> tuple[int, list[str]]:
    """Apply ``from``/``size`` paging (size 100 by default, negative for all)."""
    start = max(0, lenient_int("from", params.get("from")) or 0)
    size = lenient_int("size", params.get("size"))
    size = 100 if size is None else size
    return start, keys[start:] if size < 0 else keys[start : start + size]


def dli_list(world: World, params: dict[str, str]) -> dict[str, Any]:
    """``GET /v2.0/{project_id}/batches``: filter, order (newest first by default), page."""
    keep = _filter(params)
    order = params.get("order") or "CREATE_TIME_DESC"
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {sorted(_ORDERS)}, not {order!r}")
    field, reverse = _ORDERS[order]

    def pick(items: Items) -> Items:
        kept = [item for item in items if keep.accepts(item[1])]
        kept.sort(key=lambda item: item[1][field], reverse=reverse)
        return kept

    # durations move with the clock: an order by them is worked out afresh for every page
    keys = world.select(None if field == "duration" else ("dli", keep, order), pick)
    start, page = _page(keys, params)
    return {"from": start, "total": len(keys), "sessions": world.sessions(page), "create_time": world.now_ms()}


def livy_list(world: World, params: dict[str, str]) -> dict[str, Any]:
    """``GET /batches``: every batch in ID order; ``total`` counts them all.

    Livy's ``SessionServlet`` answers ``sessions.view(from, from + size)`` (apache/incubator-livy), so a
    negative ``size`` gives no session at all, unlike DLI's paging here.
    """
    keys = world.select("livy", lambda items: sorted(items, key=lambda item: int(item[1]["id"])))
    start = max(0, lenient_int("from", params.get("from")) or 0)
    size = lenient_int("size", params.get("size"))
    size = 100 if size is None else size
    page = keys[start : start + size] if size >= 0 else []
    return {"from": start, "total": len(keys), "sessions": world.sessions(page)}
