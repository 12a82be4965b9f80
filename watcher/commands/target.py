"""Which API a one-shot command talks to: a config file, or flags and ``DLI_WATCHER_*`` variables without one.

A CI job that submitted a batch has an endpoint, a project and credentials in its environment, not a
config file; the flags build the same validated config the daemon uses, and errors name the flag and
the variable rather than a config key nobody wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from watcher.config.settings import default_path, load, parse
from watcher.errors import ConfigError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

    from watcher.config.settings import Config

# config key -> (flag, environment variable); credentials come from the daemon's own variables and files
FLAGS: dict[str, tuple[str, str]] = {
    "api.endpoint": ("--endpoint", "DLI_WATCHER_ENDPOINT"),
    "api.project_id": ("--project-id", "DLI_WATCHER_PROJECT_ID"),
    "api.flavor": ("--flavor", "DLI_WATCHER_FLAVOR"),
    "auth.method": ("--auth", "DLI_WATCHER_AUTH"),
    "auth.user": ("--user", "DLI_WATCHER_USER"),
    "auth.domain": ("--domain", "DLI_WATCHER_DOMAIN"),
    "auth.project_name": ("--project-name", "DLI_WATCHER_PROJECT_NAME"),
}

# what a flag left unset means, for --help
DEFAULTS = {"api.flavor": "dli", "auth.method": "aksk on DLI, none on Livy"}


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say which API to use (each also read from its ``DLI_WATCHER_*`` variable)."""
    group = parser.add_argument_group(
        "target", "without --config: flags, else DLI_WATCHER_* variables; credentials as for the daemon"
    )
    group.add_argument(
        "--config", help="a config file instead of the flags below (default: $DLI_WATCHER_CONFIG when none is set)"
    )
    for key, (flag, var) in FLAGS.items():
        default = DEFAULTS.get(key)
        shown = f"{key} (${var}; default {default})" if default else f"{key} (${var})"
        group.add_argument(flag, dest=_dest(flag), metavar=key.split(".")[1].upper(), help=shown)


def _dest(flag: str) -> str:
    return "target_" + flag.lstrip("-").replace("-", "_")


def target_config(args: argparse.Namespace, env: Mapping[str, str]) -> Config:
    """The config a one-shot command uses; raises ConfigError naming the flag and variable at fault."""
    given = _given(args, env)
    if args.config or not given:
        path = args.config or default_path(env)
        if not args.config and not Path(path).exists():
            flag, var = FLAGS["api.endpoint"]
            raise ConfigError(f"{flag} / ${var}", "is required (or --config FILE)")
        return load(path, env)
    data: dict[str, dict[str, object]] = {}
    for key, value in given.items():
        section, name = key.split(".")
        data.setdefault(section, {})[name] = value
    data.setdefault("api", {})
    try:
        return parse(data, env)
    except ConfigError as exc:
        raise _named(exc) from None


def _given(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, str]:
    """The target settings set by flag (first) or variable."""
    given = {}
    for key, (flag, var) in FLAGS.items():
        value = getattr(args, _dest(flag), None) or env.get(var, "")
        if value:
            given[key] = value
    return given


def _named(exc: ConfigError) -> ConfigError:
    """The error with the flag and variable in place of the config key they stand for."""
    if exc.key in FLAGS:
        flag, var = FLAGS[exc.key]
        return ConfigError(f"{flag} / ${var}", exc.problem)
    return exc
