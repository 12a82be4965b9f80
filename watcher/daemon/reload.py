"""A reload: the config and the batch IDs read again, every key that can be applied to the running watcher applied."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

from watcher import __version__
from watcher.config.reloadable import restart_required
from watcher.daemon.abandon import run_abandonable
from watcher.errors import ConfigError
from watcher.web.access import PageAccess
from watcher.web.webconfig import load_web_config, weakening

if TYPE_CHECKING:
    from watcher.config.settings import Config
    from watcher.daemon.conditions import Say
    from watcher.daemon.runtime import Runtime

MAX_LISTED_IDS = 100  # IDs named in watcher.reloaded's added and removed; the counts give the rest


def page_access(cfg: Config) -> PageAccess:
    """The ``[status]`` rules as the server reads them."""
    return PageAccess(cfg.status.pages, frozenset(cfg.status.allowed_hosts))


def listed_changes(added: list[str], removed: list[str]) -> dict[str, Any]:
    """``watcher.reloaded``'s ID lists: at most ``MAX_LISTED_IDS`` each (100,000 IDs made a 7.8 MB line), and counts."""
    return {
        "added": added[:MAX_LISTED_IDS],
        "removed": removed[:MAX_LISTED_IDS],
        "added_count": len(added),
        "removed_count": len(removed),
        "truncated": len(added) > MAX_LISTED_IDS or len(removed) > MAX_LISTED_IDS,
    }


def say_deprecations(say: Say, cfg: Config) -> None:
    """One warning per key the config gave by an old name."""
    for old in cfg.deprecated:
        say("watcher.deprecated_key", {"key": old.key, "alias": old.alias, "message": old.message}, "warning")


async def reload(rt: Runtime) -> str | None:
    """SIGHUP: re-read the config and the batch IDs; apply every key that can be, name the others.

    A bad new config is reported and the old one kept; the one-line error is returned (None: reloaded).
    """
    basis = rt.basis
    say, stats, live = basis.outlet.say, basis.stats, basis.live
    try:
        # config, ID, secret and certificate files are read off the loop, in a thread a SIGTERM can walk
        # away from (a FIFO or a hung mount would otherwise hold the stop up for good)
        new = await run_abandonable(basis.read_config, "dli-watcher reload")
        web = await run_abandonable(partial(load_web_config, new.metrics.web_config_file), "dli-watcher reload")
    except ConfigError as exc:
        say("watcher.reload_failed", level="error", fields={"key": exc.key, "error_message": exc.problem})
        stats.reload_ok = False
        return str(exc)
    started = live.started  # what the parts set up once (connections, listen address) were built from
    restart = restart_required(started, new)
    if weakening(rt.server.web, web) is not None:
        # /metrics keeps the protection it has: lowering it takes a restart, a deliberate act
        web = rt.server.web
        restart = list(dict.fromkeys([*restart, "metrics.web_config_file"]))
    # the connection pool was sized at start: more slots than connections would only queue for them
    rt.policy.configure(new.api, min(new.watch.concurrency, started.watch.concurrency))
    rt.api.configure(new.api)
    rt.poller.configure(new)
    basis.outlet.writer.set_level(new.events.level)
    basis.outlet.pump.limit = new.events.buffer_lines
    basis.outlet.pump.byte_limit = new.events.buffer_bytes
    rt.server.configure(web, page_access(new))
    live.replace(new)
    rt.discovery.apply(rt.tg, new)
    added, removed = rt.watchlist.rewatch()
    say(
        "watcher.reloaded",
        {
            "version": __version__,
            "batches": len(rt.watchlist.owned()),
            **listed_changes(added, removed),
            "restart_required": restart,
        },
    )
    say_deprecations(say, new)
    stats.reload_ok, stats.reload_success_at = True, time.time()
    stats.restart_pending = bool(restart)
    return None
