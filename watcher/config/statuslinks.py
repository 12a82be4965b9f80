"""The ``[status]`` section: who sees the status pages, by which Host names, and their link-outs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from watcher.config.tomltable import Table, choice
from watcher.core.vocabulary import PAGES_MODES, PagesMode
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from watcher.config.problems import Problems

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


@dataclass(frozen=True, slots=True)
class StatusConfig:
    """Who sees the status pages (``/``, ``/batches/{id}``), by which Host names, and what they link out to."""

    # auto: loopback peers and authenticated requests; on: everyone who reaches the port; off: no one
    pages: PagesMode = "auto"
    allowed_hosts: tuple[str, ...] = ()  # names besides IP literals and localhost; lower case
    links: tuple[StatusLink, ...] = ()


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


def parse_status(raw: object, problems: Problems) -> StatusConfig:
    """The ``[status]`` section; each bad link is a problem of its own."""
    sec = Table("status", raw, {"pages", "allowed_hosts", "links"}, problems)
    return StatusConfig(
        **problems.values(
            pages=lambda: choice(sec, "pages", PAGES_MODES, "auto"),
            allowed_hosts=lambda: _allowed_hosts(sec),
            links=lambda: _links(sec, problems),
        )
    )


def _links(sec: Table, problems: Problems) -> tuple[StatusLink, ...]:
    items = sec.get("links", list, [])
    if len(items) > MAX_LINKS:
        raise ConfigError(sec.key("links"), f"must be a list of at most {MAX_LINKS} tables of name and url")
    links = []
    for n, item in enumerate(items):
        with problems.guard():
            links.append(_link(f"{sec.key('links')}[{n}]", item))
    return tuple(links)


def _allowed_hosts(sec: Table) -> tuple[str, ...]:
    """Host names the status pages answer to; a port or a wildcard here would never match, so each is refused."""
    hosts = sec.get("allowed_hosts", list, [])
    for n, item in enumerate(hosts):
        if not isinstance(item, str) or not re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?", item):
            raise ConfigError(f"{sec.key('allowed_hosts')}[{n}]", "must be a host name (no port, no wildcard)")
    return tuple(dict.fromkeys(h.lower() for h in hosts))
