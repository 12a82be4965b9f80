"""The batch table's query string: its filters, its order and its page, read leniently and written back as links.

Anything unknown or malformed falls back to the default, never to an error page: the query comes from
a URL a person edited, shared or truncated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

# the table's columns that sort, plus "attention": failing first, then never read, then the rest
SORTS = ("attention", "id", "name", "queue", "state", "in_state", "updated", "polled", "error")
PAGE_SIZES = (25, 50, 100, 200, 500)
MAX_FILTER_CHARS = 200
MAX_FIELDS = 32
MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS = 5, 3600


@dataclass(frozen=True, slots=True)
class Query:
    """What one request of ``/`` asks for; ``refresh`` is the auto-refresh period in seconds, 0 for none."""

    state: str = ""
    queue: str = ""
    watch: str = ""
    name: str = ""
    sort: str = "attention"
    desc: bool = False
    page: int = 1
    per: int = 100
    refresh: int = 0

    @property
    def filtered(self) -> bool:
        """Whether any filter is set."""
        return bool(self.state or self.queue or self.watch or self.name)


DEFAULT = Query()


def _number(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.isdigit() and len(text) <= 9 else default


def _refresh(text: str | None) -> int:
    seconds = _number(text, 0)
    return 0 if seconds == 0 else min(MAX_REFRESH_SECONDS, max(MIN_REFRESH_SECONDS, seconds))


def parse(query: str) -> Query:
    """The Query of a raw (still percent-encoded) query string; the last of repeated parameters wins."""
    try:
        raw = dict(parse_qsl(query, max_num_fields=MAX_FIELDS))
    except ValueError:  # more parameters than any link of ours has: someone else's URL
        return DEFAULT
    text = {key: raw.get(key, "").strip()[:MAX_FILTER_CHARS] for key in ("state", "queue", "watch", "name")}
    per = _number(raw.get("per"), DEFAULT.per)
    return Query(
        **text,
        sort=raw.get("sort", "") if raw.get("sort") in SORTS else DEFAULT.sort,
        desc=raw.get("order") == "desc",
        page=max(1, _number(raw.get("page"), 1)),
        per=per if per in PAGE_SIZES else DEFAULT.per,
        refresh=_refresh(raw.get("refresh")),
    )


def params(query: Query) -> dict[str, str]:
    """The query as URL parameters, leaving out those at their default so links stay short."""
    out: dict[str, str] = {}
    for f in fields(query):
        value: Any = getattr(query, f.name)
        if value == getattr(DEFAULT, f.name):
            continue
        if f.name == "desc":
            out["order"] = "desc"
        else:
            out[f.name] = str(value)
    return out


def link(query: Query, **changes: Any) -> str:
    """The URL of ``/`` for ``query`` with ``changes`` applied (unescaped for HTML: the caller escapes)."""
    encoded = urlencode(params(replace(query, **changes)))
    return f"/?{encoded}" if encoded else "/"
