"""The ``[status]`` section: who sees the status pages, by which Host names, and their link-outs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from watcher.config.keys import key, one_of
from watcher.config.problems import Problems
from watcher.core.vocabulary import PAGES_MODES, PagesMode
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from watcher.config.keys import Ctx
    from watcher.config.tomltable import Table

# what a link's URL template may name; each value is URL-encoded where it is put
PLACEHOLDERS = (
    "batch_id",
    "app_id",
    "job_name",
    "queue",
    "project_id",
    "owner",
    "create_time_ms",
    "finish_time_ms",
)
MAX_LINKS = 20


@dataclass(frozen=True, slots=True)
class StatusLink:
    """One link-out: the text shown and the URL template (http or https) its placeholders fill."""

    name: str
    url: str


def _link(key: str, item: object) -> StatusLink:
    if not isinstance(item, dict) or set(item) != {"name", "url"}:
        raise ConfigError(key, 'must be a table with "name" and "url" (and nothing else)')
    name, url = item["name"], item["url"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{key}.name", "must be a non-empty string")
    if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigError(f"{key}.url", f"must be an http:// or https:// URL template, got {url!r}")
    unknown = [p for p in re.findall(r"\{([^{}]*)\}", url) if p not in PLACEHOLDERS]
    if unknown:
        raise ConfigError(f"{key}.url", f"unknown placeholder {{{unknown[0]}}} (known: {', '.join(PLACEHOLDERS)})")
    return StatusLink(name.strip(), url)


def _links(sec: Table, name: str, default: Any, ctx: Ctx) -> tuple[StatusLink, ...]:
    """Each bad link is a problem of its own."""
    problems = Problems() if ctx.problems is None else ctx.problems
    items = sec.get(name, list, [])
    if len(items) > MAX_LINKS:
        raise ConfigError(sec.key(name), f"must be a list of at most {MAX_LINKS} tables of name and url")
    links = []
    for n, item in enumerate(items):
        with problems.guard():
            links.append(_link(f"{sec.key(name)}[{n}]", item))
    return tuple(links)


def _allowed_hosts(sec: Table, name: str, default: Any, ctx: Ctx) -> tuple[str, ...]:
    """Host names the status pages answer to; a port or a wildcard here would never match, so each is refused."""
    hosts = sec.get(name, list, [])
    for n, item in enumerate(hosts):
        if not isinstance(item, str) or not re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?", item):
            raise ConfigError(f"{sec.key(name)}[{n}]", "must be a host name (no port, no wildcard)")
    return tuple(dict.fromkeys(h.lower() for h in hosts))


@dataclass(frozen=True, slots=True)
class StatusConfig:
    """Who sees the status pages (``/``, ``/batches/{id}``), by which Host names, and what they link out to."""

    # auto: loopback peers and authenticated requests; on: everyone who reaches the port; off: no one
    pages: PagesMode = key("auto", one_of(PAGES_MODES), "who sees the status pages: auto, on or off", "applied")
    # names besides IP literals and localhost; lower case
    allowed_hosts: tuple[str, ...] = key((), _allowed_hosts, "Host names the status pages answer to", "applied")
    links: tuple[StatusLink, ...] = key((), _links, "link-outs: tables of name and url template", "applied")
