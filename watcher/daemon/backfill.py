"""Reading the log past the 10-line window: asking the log endpoint when the core says so, and joining its lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from watcher.core import states
from watcher.core.log.poll import HIDDEN_READ_SECONDS, Answer, after_read, before_read, kept_window
from watcher.core.tracker import LogResult
from watcher.errors import ApiError, TransientApiError

if TYPE_CHECKING:
    from watcher.api.client import LogPage
    from watcher.api.policy import RequestPolicy
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track

# one request's worth of log lines (the client asks for no more than this either)
BACKFILL_MAX = 1000
# no lines, no gaps, and the track's own log kept (``observe`` reads a missing track so)
NOTHING_NEW = LogResult()


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
        terminal = states.is_terminal(snap.state)
        if kept_window(track.log, snap.log, terminal=terminal):
            return NOTHING_NEW  # an unchanged batch's window, met every list cycle: no plan to build
        plan = before_read(track.log, snap.log, terminal=terminal, now=now, every=self.every, enabled=self.enabled)
        answer = None
        if plan.read:
            # the URL is built from the watched ID only: the answer's own id is the server's word
            page, gave = await self._tail(track.batch_id)
            answer = Answer(page.lines, page.start == 0) if page is not None else Answer(answered=gave)
        out = after_read(plan, answer)
        gaps = tuple((stream, None) for stream in out.gaps)
        return LogResult(out.lines, gaps, out.track, unavailable=out.gave_up)

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
