"""Which config keys a SIGHUP applies to the running watcher, and which it names as needing a restart.

A reload that says "reloaded" while ignoring a key is worse than one that refuses: every changed key
is either applied or listed in ``watcher.reloaded``'s ``restart_required``.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from watcher.config.keys import Reload, declared, key_of
from watcher.config.settings import SECTION_TYPES, SECTIONS

if TYPE_CHECKING:
    from watcher.config.settings import Config


def _by_reload(reload: Reload) -> frozenset[str]:
    return frozenset(
        f"{section}.{decl.name}"
        for section, cls in SECTION_TYPES.items()
        for _, decl in declared(cls)
        if decl.reload == reload
    )


# applied by a reload as they are (the README's reload table lists the same keys: tests/config/test_config_keys.py)
APPLIED = _by_reload("applied")
# applied when lowered; raised above the value the watcher started with, they need a restart
LOWER_ONLY = _by_reload("lowered")


def _key_name(section: str, field_name: str) -> str:
    return f"{section}.{key_of(SECTION_TYPES[section], field_name)}"


def config_keys(cfg: Config) -> list[str]:
    """Every config key the reload compares, by its name in the file (secrets by the secret's name)."""
    keys = (_key_name(section, item.name) for section in SECTIONS for item in fields(getattr(cfg, section)))
    return list(dict.fromkeys(keys))


def changed_keys(old: Config, new: Config) -> list[str]:
    """The config keys whose values differ, in file order; secrets are compared, never returned."""
    changed: dict[str, None] = {}
    for section in SECTIONS:
        before, after = getattr(old, section), getattr(new, section)
        for item in fields(before):
            if getattr(before, item.name) != getattr(after, item.name):
                changed[_key_name(section, item.name)] = None
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
