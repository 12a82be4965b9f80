"""What ``run``'s command-line flags set over the config file: ours and the exporter-toolkit's names."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from watcher.config.settings import parse_listen

if TYPE_CHECKING:
    import argparse

    from watcher.config.settings import Config
    from watcher.core.vocabulary import Format, Level


@dataclass(frozen=True, slots=True)
class Flags:
    """What ``run``'s flags set over the config file, at start and on every reload alike.

    Applied to each config read, a flag's value never differs between the running config and a
    reloaded one, so it is never in ``restart_required``.
    """

    web_config_file: str | None = None
    listen: str | None = None
    enable_lifecycle: bool = False
    level: str | None = None
    format: str | None = None

    @classmethod
    def of(cls, args: argparse.Namespace) -> Flags:
        """The flags ``run`` was given."""
        return cls(
            getattr(args, "web_config_file", None),
            getattr(args, "listen", None),
            bool(getattr(args, "enable_lifecycle", False)),
            getattr(args, "level", None),
            getattr(args, "format", None),
        )

    def apply(self, cfg: Config) -> Config:
        """``cfg`` with what the flags set."""
        metrics, events = cfg.metrics, cfg.events
        if self.web_config_file is not None:
            # like an exporter's --web.config.file: a deployment can add TLS without editing the config file
            metrics = replace(metrics, web_config_file=self.web_config_file)
        if self.listen is not None:
            host, port = parse_listen(self.listen, "--web.listen-address")
            metrics = replace(metrics, host=host, port=port)
        if self.enable_lifecycle:
            metrics = replace(metrics, enable_lifecycle=True)
        if self.level is not None:
            events = replace(events, level="warning" if self.level == "warn" else cast("Level", self.level))
        if self.format is not None:
            events = replace(events, format=cast("Format", self.format))
        return replace(cfg, metrics=metrics, events=events)
