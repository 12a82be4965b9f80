"""When every watched batch is not found with the same API error: the project, endpoint or region is likely wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watcher.core.tracker import Track

NotFoundKey = tuple[int | None, str | None, str | None]


def all_not_found(tracks: Sequence[Track]) -> NotFoundKey | None:
    """(status, error code, one batch's message) when two or more batches, all of them, are not found alike; else None.

    The same HTTP status and API error code count as one error; the messages may name each batch.
    """
    if len(tracks) < 2 or any(t.presence != "not_found" for t in tracks):
        return None
    keys = {(t.not_found_status, t.not_found_code) for t in tracks}
    if len(keys) != 1:
        return None
    status, code = keys.pop()
    return status, code, tracks[0].not_found_message
