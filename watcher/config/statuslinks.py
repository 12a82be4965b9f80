"""The ``[status]`` section: link-outs from the status pages to the places a batch's logs and runs live."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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
    """What the status pages add to the watcher's own data."""

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
    if not isinstance(raw, dict):
        raise ConfigError("status", "must be a table")
    for key in raw:
        if key != "links":
            problems.add(ConfigError(f"status.{key}", "unknown key (known: links)"))
    items = raw.get("links", [])
    if not isinstance(items, list) or len(items) > MAX_LINKS:
        raise ConfigError("status.links", f"must be a list of at most {MAX_LINKS} tables of name and url")
    links = []
    for n, item in enumerate(items):
        with problems.guard():
            links.append(_link(f"status.links[{n}]", item))
    return StatusConfig(tuple(links))
