"""The config a running watcher follows: the one it started with, until a reload replaces it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watcher.config.settings import Config


class LiveConfig:
    """The started config (what connections and the listen address were built from) and the current one.

    Every part reads ``cfg`` when it acts, so a reload applies everywhere; only the reload replaces it.
    """

    def __init__(self, cfg: Config) -> None:
        self.started = cfg
        self._cfg = cfg

    @property
    def cfg(self) -> Config:
        """The config in force now."""
        return self._cfg

    def replace(self, new: Config) -> None:
        """A reload's new config, in force from now on."""
        self._cfg = new
