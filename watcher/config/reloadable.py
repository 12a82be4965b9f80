"""Which config keys a SIGHUP applies to the running watcher, and which it names as needing a restart.

A reload that says "reloaded" while ignoring a key is worse than one that refuses: every changed key
is either applied or listed in ``watcher.reloaded``'s ``restart_required``.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watcher.config.settings import Config

# applied by a reload as they are (the README's reload table lists the same keys)
APPLIED: frozenset[str] = frozenset(
    {
        "api.timeout_seconds",
        "api.max_attempts",
        "api.backoff_base_seconds",
        "api.backoff_max_seconds",
        "api.log_endpoint",
        "api.max_response_bytes",
        "api.state_map",
        "watch.batch_ids",
        "watch.batch_ids_file",
        "watch.interval_seconds",
        "watch.terminal_grace_seconds",
        "watch.retention_seconds",
        "watch.not_found_interval_seconds",
        "watch.mode",
        "watch.list_page_size",
        "watch.max_list_pages",
        "watch.list_lookback",
        "watch.queues",
        "watch.shard",
        "metrics.web_config_file",
        "metrics.enable_lifecycle",
        "events.level",
        "events.include_req_body",
        "events.buffer_lines",
        "events.buffer_bytes",
        "discovery.enabled",
        "discovery.queues",
        "discovery.job_name",
        "discovery.owner",
        "discovery.created_after",
        "discovery.max_batches",
        "discovery.interval_seconds",
        "status.links",
        "status.pages",
        "status.allowed_hosts",
    }
)
# applied when lowered; raised above the value the watcher started with, they need a restart
# (the connection pool is sized once, at start)
LOWER_ONLY: frozenset[str] = frozenset({"watch.concurrency"})

# dataclass fields whose config key has another name
_KEY_OF = {
    "metrics.host": "metrics.listen",
    "metrics.port": "metrics.listen",
    "discovery.created_after_ms": "discovery.created_after",
}


def config_keys(cfg: Config) -> list[str]:
    """Every config key the reload compares, by its name in the file (secrets by the secret's name)."""
    keys = (f"{section.name}.{item.name}" for section in fields(cfg) for item in fields(getattr(cfg, section.name)))
    return list(dict.fromkeys(_KEY_OF.get(key, key) for key in keys))


def changed_keys(old: Config, new: Config) -> list[str]:
    """The config keys whose values differ, in file order; secrets are compared, never returned."""
    changed: dict[str, None] = {}
    for section in fields(old):
        before, after = getattr(old, section.name), getattr(new, section.name)
        for item in fields(before):
            if getattr(before, item.name) != getattr(after, item.name):
                name = f"{section.name}.{item.name}"
                changed[_KEY_OF.get(name, name)] = None
    return list(changed)


def restart_required(started: Config, new: Config) -> list[str]:
    """The keys whose ``new`` value the watcher that ``started`` with its config cannot take without a restart.

    Compared with what is running, not with the last reload: a second SIGHUP still names a change the
    first one could not apply (the old port is still served).
    """
    return [key for key in changed_keys(started, new) if not _applies(key, started, new)]


def _applies(key: str, started: Config, new: Config) -> bool:
    if key in APPLIED:
        return True
    if key in LOWER_ONLY:
        return bool(_value(new, key) <= _value(started, key))
    return False


def _value(cfg: Config, key: str) -> Any:
    section, name = key.split(".", 1)
    return getattr(getattr(cfg, section), name)
