"""Which batches the poller watches: the configured IDs and what discovery found, of this process's shard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watcher.core.listplan import hint_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from watcher.config.settings import Config
    from watcher.core.listplan import Hint
    from watcher.core.model import Snapshot
    from watcher.core.recent import Recent
    from watcher.daemon.conditions import Say
    from watcher.daemon.journal import Journal
    from watcher.daemon.live import LiveConfig
    from watcher.daemon.poller import Poller
    from watcher.errors import ApiError


def owned(cfg: Config, discovered: Iterable[str] = ()) -> list[str]:
    """The configured and discovered batch IDs that belong to this process's shard."""
    if cfg.watch.shard_by == "queue":
        return list(dict.fromkeys(discovered))  # discovery kept only this shard's queues (no batch_ids then)
    return cfg.watch.shard.select(dict.fromkeys([*cfg.watch.batch_ids, *discovered]))


class Watchlist:
    """Keeps the poller watching exactly the owned batches; what stops being watched is forgotten everywhere."""

    def __init__(
        self,
        live: LiveConfig,
        poller: Poller,
        journal: Journal,
        recent: Recent,
        say: Say,
        discovered: list[str],
    ) -> None:
        self._live, self._poller, self._journal, self._recent, self._say = live, poller, journal, recent, say
        self._discovered = discovered  # kept from earlier runs until this run's first discovery decides

    def owned(self) -> list[str]:
        """The batch IDs this process watches under the current config."""
        return owned(self._live.cfg, self._discovered)

    def rewatch(self, hints: Mapping[str, Hint] | None = None) -> tuple[list[str], list[str]]:
        """Watch the owned batches now; the (added, removed) IDs."""
        added, removed = self._poller.watch(self.owned(), hints)
        self._journal.forget(removed)
        self._recent.forget(removed)
        return added, removed

    def found(self, found: list[Snapshot]) -> None:
        """Watch exactly the batches discovery found (plus the listed IDs); list mode reads them in their queues."""
        self._discovered = [s.batch_id for s in found]
        self.rewatch({s.batch_id: hint_of(s) for s in found})
        self._poller.arrived("discovery")

    def stopped(self) -> None:
        """Discovery was switched off: what it found is no longer watched."""
        self.found([])

    def failed(self, exc: ApiError) -> None:
        """A discovery run failed: said, and a first run that failed does not hold readiness up for good."""
        fields = {"reason": exc.reason, "status_code": exc.status_code, "error_message": exc.message}
        self._say("watcher.discovery_failed", level="warning", fields=fields)
        self._poller.arrived("discovery")
