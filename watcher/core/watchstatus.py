"""Whether the watcher can see a batch: the one per-batch signal that exists from the first poll on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from watcher.core.tracker import Track

WatchStatus = Literal["pending", "ok", "not_found", "failing", "gone"]
STATUSES: Final[tuple[WatchStatus, ...]] = ("pending", "ok", "not_found", "failing", "gone")


def watch_status(track: Track) -> WatchStatus:
    """Failing while polls fail (a batch never read included), else what the last answer said; pending before it."""
    if track.failing_since is not None:
        return "failing"
    if track.presence == "present":
        return "ok"
    if track.presence in ("not_found", "gone"):
        return track.presence
    return "pending"
