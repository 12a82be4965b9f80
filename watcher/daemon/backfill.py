"""Reading the log past the 10-line window: when to ask the log endpoint, and how its lines join the diff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from watcher.core import states
from watcher.core.logdiff import diff_log, marker, stdout_hidden
from watcher.core.tracker import LogResult
from watcher.errors import ApiError

if TYPE_CHECKING:
    from watcher.api.client import LogPage
    from watcher.api.policy import RequestPolicy
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track

# one request's worth of log lines (the client asks for no more than this either)
BACKFILL_MAX = 1000


class LogApi(Protocol):
    """The log operation of BatchApi."""

    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage: ...  # noqa: D102


class LogReader:
    """Diffs a batch's log window, and backfills from the log endpoint when the window cannot tell."""

    def __init__(self, api: LogApi, policy: RequestPolicy, *, enabled: bool) -> None:
        self._api, self._policy = api, policy
        self.enabled = enabled

    async def diff(self, track: Track, snap: Snapshot) -> LogResult:
        """The new lines and gaps of this poll, and the log track to keep."""
        result = diff_log(track.log, snap.log)
        finishing = states.is_terminal(snap.state) and (track.state != snap.state or track.presence != "present")
        # a hidden stdout changes nothing in the window, so only the log endpoint can show its new lines
        hidden = stdout_hidden(snap.log, result.track.sectioned)
        if (result.uncertain or finishing or hidden) and self.enabled:
            # the URL is built from the watched ID only: the answer's own id is the server's word
            tail = await self._tail(track.batch_id)
            if tail is not None and (any(marker(x) for x in tail[0]) or not result.track.sectioned):
                result = diff_log(track.log, snap.log, backfill=tail[0], from_start=tail[1])
        gaps = tuple((stream, None) for stream in result.uncertain)
        return LogResult(result.lines, gaps, result.track)

    async def _tail(self, bid: str) -> tuple[tuple[str, ...], bool] | None:
        """The log's last BACKFILL_MAX lines (all of it when shorter) in one request; None if it fails."""
        try:
            page = await self._policy.call(lambda: self._api.log(bid, None, BACKFILL_MAX))
        except ApiError:
            return None
        return page.lines, page.start == 0
