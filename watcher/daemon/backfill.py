"""Reading the log past the 10-line window: asking the log endpoint when the core says so, and joining its lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from watcher.core import states
from watcher.core.log.bridge import join_answer
from watcher.core.log.diff import diff_log
from watcher.core.log.fetch import HIDDEN_READ_SECONDS, answered, settle, unavailable, wants_log_endpoint
from watcher.core.tracker import LogResult
from watcher.errors import ApiError, TransientApiError

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
    """Diffs a batch's log window, and backfills from the log endpoint when the window cannot tell.

    ``every`` paces the reads made only because the output is hidden (seconds between two).
    """

    def __init__(
        self, api: LogApi, policy: RequestPolicy, *, enabled: bool, every: float = HIDDEN_READ_SECONDS
    ) -> None:
        self._api, self._policy = api, policy
        self.enabled, self.every = enabled, every

    async def diff(self, track: Track, snap: Snapshot, now: float) -> LogResult:
        """The new lines and gaps of this poll at wall-clock ``now``, and the log track to keep."""
        prev = track.log
        result = diff_log(prev, snap.log)
        terminal = states.is_terminal(snap.state)
        read, log = False, result.track
        wanted = wants_log_endpoint(prev, result, snap.log, terminal=terminal, now=now, every=self.every)
        if self.enabled and wanted:
            # the URL is built from the watched ID only: the answer's own id is the server's word
            page, read = await self._tail(track.batch_id)
            useful: bool | None = False if read else None
            if page is not None:
                result, useful = join_answer(prev, result, snap.log, page.lines, from_start=page.start == 0)
            log = answered(result.track, now=now, useful=useful)
        gaps = tuple((stream, None) for stream in result.uncertain)
        gave_up = unavailable(log) and not unavailable(prev)
        return LogResult(result.lines, gaps, settle(log, terminal=terminal, read=read), unavailable=gave_up)

    async def _tail(self, bid: str) -> tuple[LogPage | None, bool]:
        """The log's last BACKFILL_MAX lines (all of it when shorter) in one request, or None if it fails.

        The flag says the endpoint gave its answer: lines, or an error asking again will not change.
        """
        try:
            return await self._policy.call(lambda: self._api.log(bid, None, BACKFILL_MAX)), True
        except TransientApiError:
            return None, False
        except ApiError:
            return None, True
