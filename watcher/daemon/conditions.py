"""The watcher's own conditions and their reports: liveness, readiness, held polls, a stalled stdout, state-file errors.

Each condition is reported once when it starts and once when it ends (an event), and is visible all
along (a self-metric, /readyz), so neither a stuck reader nor a full disk is ever silent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from watcher.core.plural import plural
from watcher.core.readiness import common_rejection

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.core.board import Board
    from watcher.core.vocabulary import EventName, Level, PerBatch
    from watcher.daemon.poller import Poller
    from watcher.metrics.collectors import SelfMetrics
    from watcher.output.pump import OutputPump


# a render this slow means too many series for the machine: reported once, with what to change
SLOW_RENDER = 5.0


class Say(Protocol):
    """Writes one of the watcher's own events."""

    def __call__(self, name: EventName, fields: dict[str, Any], level: Level = "info") -> None: ...  # noqa: D102


def _nothing_held() -> str | None:
    return None


def healthy(board: Board, poller: Poller, interval: float) -> bool:
    """Polls are being started: the scheduler passes at least every second and starts each due poll.

    Whether they succeed is not liveness (a restart would not mend the API); that is /readyz's and
    the metrics' business. Monotonic time, so a stepped wall clock cannot hide a stall.
    """
    stale = max(30.0, 3 * interval)
    now = time.monotonic()
    return now - board.last_progress < stale and poller.overdue(now) < stale


class Conditions:
    """Decides readiness from the board, the journal's held commits and the output, and reports their changes."""

    def __init__(
        self,
        board: Board,
        stats: SelfMetrics,
        pump: OutputPump,
        say: Say,
        *,
        held: Callable[[], str | None] = _nothing_held,
        per_batch: PerBatch = "compact",
    ) -> None:
        self._board, self._stats, self._pump, self._say = board, stats, pump, say
        self._held = held  # why the journal holds commits back (None: it does not)
        self._output_stalled = False
        # set by the render thread, reported by the poll loop: a render slower than SLOW_RENDER, once
        self._slow_render: tuple[float, int] | None = None
        self._slow_reported = False
        self._per_batch = per_batch  # named in watcher.metrics_slow: the setting that makes renders cheaper

    def not_ready(self) -> str | None:
        """Why the watcher is not ready (None when it is): the first reason the one rule of ``core.readiness`` finds."""
        reasons = self.reasons()
        return reasons[0] if reasons else None

    def reasons(self) -> list[str]:
        """Every reason the watcher is not ready now, the first cycle first (empty when ready)."""
        board = self._board
        found = []
        if not board.ready:
            found.append("first poll cycle not done")
        if board.throttled(time.monotonic()):
            # readiness, not liveness: a restart would not make DLI throttle any less
            found.append("throttled by the API")
        held = self._held()
        if held is not None:
            found.append(held)
        tracks = board.tracks
        common = common_rejection(tracks.keys(), board.answers) if board.ready else None
        if common is not None:
            found.append(f"every watched batch ({plural(len(tracks), 'batch')}) was last answered {common.describe()}")
        return found

    def readyz_details(self) -> str:
        """What /readyz adds to its first reason: the other reasons ("also: ..."), then the counts line."""
        others = [f"also: {reason}" for reason in self.reasons()[1:]]
        return "\n".join([*others, self.counts()])

    def counts(self) -> str:
        """What /readyz adds to its reason: how many batches are in which condition (it needs no login: no IDs)."""
        tracks = list(self._board.tracks.values())
        # the poll loop adds answers in place: iterate a copy (taken at once, under the GIL)
        rejected = sum(1 for r in list(self._board.answers.values()) if r is not None and r.kind == "auth")
        parts = {
            "read": sum(1 for t in tracks if t.presence in ("present", "gone") and t.failing_since is None),
            "failing": sum(1 for t in tracks if t.failing_since is not None),
            "not found": sum(1 for t in tracks if t.presence == "not_found"),
            "waiting for a first poll": sum(1 for t in tracks if t.presence == "pending" and t.failing_since is None),
            "rejected (401/403)": rejected,
        }
        return f"{plural(len(tracks), 'batch')} watched: " + ", ".join(f"{n} {what}" for what, n in parts.items())

    def progress(self, now: float) -> None:
        """A pass of the scheduler: stamp it, and report a stdout that stopped (or resumed) keeping up."""
        self._board.last_progress = now
        self._stats.output_backlog = self._pump.backlog
        if self._pump.full != self._output_stalled:
            self._output_stalled = self._pump.full
            # the report queues behind the stall, so a reader that comes back learns what happened
            if self._pump.full:
                self._say("watcher.output_stalled", {"backlog": self._pump.backlog}, "warning")
            else:
                self._say("watcher.output_resumed", {"backlog": self._pump.backlog})
        slow = self._slow_render
        if slow is not None and not self._slow_reported:
            self._slow_reported = True
            seconds, size = slow
            fields = {"seconds": round(seconds, 3), "bytes": size, "batches": len(self._board.tracks)}
            self._say("watcher.metrics_slow", {**fields, "per_batch": self._per_batch}, "warning")

    def metrics_rendered(self, seconds: float, size: int) -> None:
        """A /metrics render finished (render thread): note the first one slower than SLOW_RENDER."""
        if seconds > SLOW_RENDER and self._slow_render is None:
            self._slow_render = (seconds, size)

    def hold_poll(self) -> bool:
        """Set a poll's answer aside while its events could not be committed or written (counted)."""
        held = self._held() is not None
        self._stats.held_polls += held
        return held


class StateWrites:
    """Reports the state file's commits failing and working again, each change once (an event, a self-metric)."""

    def __init__(self, stats: SelfMetrics, say: Say, path: str) -> None:
        self._stats, self._say, self._path = stats, say, path

    def __call__(self, reason: str | None) -> None:
        """A commit failed (``reason``) or, with None, commits work again; each change of state is reported once."""
        if reason is None:
            self._stats.state_writable = True
            self._say("watcher.state_write_recovered", {"path": self._path})
            return
        self._stats.commit_failures += 1
        if self._stats.state_writable:
            self._stats.state_writable = False
            self._say("watcher.state_write_failed", {"path": self._path, "reason": reason, "retrying": True}, "error")
