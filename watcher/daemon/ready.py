"""The readiness hook: the first poll cycle done makes the watcher ready, unless every batch it read was a 401."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.core.plural import plural
from watcher.core.readiness import credentials_rejected, ready_fields
from watcher.errors import SetupError

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.core.board import Board
    from watcher.daemon.conditions import Conditions, Say
    from watcher.daemon.live import LiveConfig
    from watcher.daemon.notify import Notifier
    from watcher.metrics.collectors import SelfMetrics


@dataclass(frozen=True, slots=True)
class FirstCycle:
    """Called by the poller once its first cycle is done."""

    live: LiveConfig
    board: Board
    stats: SelfMetrics
    conditions: Conditions
    notifier: Notifier
    say: Say
    born: float  # monotonic: watcher.ready says how long the start took
    after: Callable[[], None] = lambda: None  # the process's step once ready (``Basis.after_start``)

    def __call__(self) -> None:
        """READY=1 with watcher.ready, unless every batch it read was answered 401.

        Wrong credentials exit 2 (the unit's RestartPreventExitStatus=2 ends the loop); a 403 keeps the
        watcher running, ready to systemd and not ready on /readyz, since a grant can mend it.
        """
        answers = self.board.answers
        rejected = credentials_rejected(answers.keys(), answers)
        if rejected is not None:
            method = self.live.cfg.auth.method
            fields: dict[str, object] = {
                "batches": len(answers),
                "status_code": rejected.status_code,
                "error_code": rejected.error_code,
                "error_message": rejected.message,
                "auth_method": method,
            }
            self.say("watcher.credentials_rejected", fields, "error")
            problem = f"credentials rejected: every batch ({plural(len(answers), 'batch')}) was answered 401"
            raise SetupError(f"auth.method {method}", f"{problem}: {rejected.message}")
        took = time.monotonic() - self.born
        self.say("watcher.ready", ready_fields(len(self.board.tracks), took, self.stats.requests))
        self.notifier.send("READY=1", f"STATUS={self.conditions.not_ready() or 'first poll cycle done'}")
        self.after()
