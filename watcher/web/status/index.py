"""The page at ``/``: the watcher's own state, counts by state and watch status, and one page of the batch table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.core.tracker import shown_state
from watcher.core.watchstatus import watch_status
from watcher.web.status.markup import batch_link, esc, page
from watcher.web.status.oncall import DEFAULT_SETTINGS, Attention, PageSettings, duration_of, outcome_of, state_css
from watcher.web.status.query import PAGE_SIZES, link, params
from watcher.web.status.table import NO_STATE, WATCH_STATUSES
from watcher.web.status.units import DASH, age, ago, span, when

if TYPE_CHECKING:
    from watcher.core.recent import Recent
    from watcher.core.tracker import Track
    from watcher.web.status.query import Query
    from watcher.web.status.table import Selection

# (sort key, heading) of each column, in order; a column without a key does not sort
COLUMNS: tuple[tuple[str | None, str], ...] = (
    ("id", "Batch ID"),
    ("name", "Job name"),
    ("queue", "Queue"),
    ("state", "State"),
    (None, "Outcome"),
    (None, "Duration"),
    ("in_state", "In state"),
    ("updated", "Updated"),
    ("polled", "Last poll"),
    ("attention", "Watch"),
    ("error", "Last error"),
)
REFRESH_CHOICES = (10, 30, 60)
SHOWN_ERROR_CHARS = 120  # of the last error's message, in the table; all of it on hover and on the batch page


@dataclass(frozen=True, slots=True)
class About:
    """The watcher itself, as the top of ``/`` shows it; ``not_ready`` is the reason, None when ready."""

    version: str
    uptime_seconds: float
    shard: str
    mode: str
    not_ready: str | None
    healthy: bool


def about_line(about: About) -> str:
    """Version, uptime, shard and mode, readiness (with the reason) and liveness."""
    ready = '<span class="ok">ready</span>'
    if about.not_ready is not None:
        ready = f'<span class="bad">not ready: {esc(about.not_ready)}</span>'
    healthy = '<span class="ok">healthy</span>' if about.healthy else '<span class="bad">stalled</span>'
    return (
        f"<h1>dli-watcher {esc(about.version)}</h1><p>up {span(about.uptime_seconds)} · shard "
        f"{esc(about.shard or 'all')} · mode {esc(about.mode)} · {ready} · {healthy}</p>"
    )


def counts(title: str, key: str, items: tuple[tuple[str, int], ...], query: Query) -> str:
    """One line of counts, each a link that filters the table to it."""
    spans = "".join(
        f'<span><a href="{esc(link(query, **{key: value, "page": 1}))}">{esc(value)}</a> {n:,}</span>'
        for value, n in items
    )
    return f'<div class="counts"><b>{title}:</b> {spans or DASH}</div>'


def options(choices: tuple[str, ...], chosen: str) -> str:
    """``<option>``s with "any" first; a chosen value the list lacks (a shared URL) is still offered."""
    if chosen and chosen not in choices:
        choices = (*choices, chosen)
    items = "".join(f'<option value="{esc(c)}"{" selected" if c == chosen else ""}>{esc(c)}</option>' for c in choices)
    return f'<option value="">any</option>{items}'


def filters(query: Query, selection: Selection) -> str:
    """The filter form: GET to ``/``, carrying the order and page size along; no script needed."""
    states = tuple(state for state, _ in selection.by_state)
    kept = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
        for k, v in params(query).items()
        if k in {"sort", "order", "per", "refresh"}
    )
    return (
        '<form method="get" action="/">'
        f'<label>State <select name="state">{options(states, query.state)}</select></label>'
        f'<label>Queue <select name="queue">{options(selection.queues, query.queue)}</select></label>'
        f'<label>Watch <select name="watch">{options(WATCH_STATUSES, query.watch)}</select></label>'
        f'<label>Name or ID <input type="search" name="name" value="{esc(query.name)}" size="24"></label>'
        f'{kept}<button type="submit">Filter</button> {_a(link(query, state="", queue="", watch="", name=""), "clear")}'
        "</form>"
    )


def _a(href: str, text: str) -> str:
    return f'<a href="{esc(href)}">{text}</a>'


def pager(query: Query, selection: Selection) -> str:
    """Where this page is among the matches, links to the others, the page size and auto-refresh choices."""
    n, last = selection.page, selection.pages
    shown = f"{selection.start + 1:,}&ndash;{selection.start + len(selection.rows):,}" if selection.rows else "0"
    moves = [
        _a(link(query, page=1), "&laquo; first") if n > 1 else "",
        _a(link(query, page=n - 1), "&lsaquo; previous") if n > 1 else "",
        _a(link(query, page=n + 1), "next &rsaquo;") if n < last else "",
        _a(link(query, page=last), "last &raquo;") if n < last else "",
    ]
    sizes = " ".join(
        f"<b>{size}</b>" if size == query.per else _a(link(query, per=size, page=1), str(size)) for size in PAGE_SIZES
    )
    refresh = " ".join(
        f"<b>{s}s</b>" if s == query.refresh else _a(link(query, refresh=s), f"{s}s") for s in REFRESH_CHOICES
    )
    off = "<b>off</b>" if not query.refresh else _a(link(query, refresh=0), "off")
    return (
        f'<div class="pager"><span>batches {shown} of {selection.matched:,} matching '
        f"({selection.total:,} watched)</span><span>page {n} of {last}</span>{''.join(m for m in moves if m)}"
        f"<span>per page: {sizes}</span><span>auto-refresh: {off} {refresh}</span></div>"
    )


def heading(query: Query, key: str | None, title: str) -> str:
    """A column heading that sorts by it; the current sort column flips its order and shows it."""
    if key is None:
        return f"<th>{title}</th>"
    if key != query.sort:
        return f"<th>{_a(link(query, sort=key, desc=False, page=1), title)}</th>"
    arrow = "▼" if query.desc else "▲"
    return f"<th>{_a(link(query, desc=not query.desc, page=1), f'{title} {arrow}')}</th>"


def last_poll(track: Track, recent: Recent, status: str, now: float) -> str:
    """When the batch was last polled and how that went."""
    at = recent.last_poll(track)
    if at is None:
        return "never"
    outcome = {"failing": "failed", "not_found": "not found", "gone": "gone"}.get(status, "ok")
    return f"{ago(now, at)} · {outcome}"


def not_found_codes(track: Track) -> str:
    """What the API answered a batch that is not found: ``not found``, its HTTP status and error code."""
    codes = (track.not_found_status, track.not_found_code)
    return " ".join(str(p) for p in ("not found", *codes) if p is not None)


def last_error(track: Track, recent: Recent, now: float) -> str:
    """The last failed poll's reason, status and error code, its age, and its message (whole on hover).

    A batch not found shows the API's answer instead: a wrong project, endpoint or region reads so.
    """
    if track.presence == "not_found":
        message = track.not_found_message or ""
        shown = message if len(message) <= SHOWN_ERROR_CHARS else message[: SHOWN_ERROR_CHARS - 1] + "…"
        said = f'<br><span class="muted" title="{esc(message)}">{esc(shown)}</span>' if message else ""
        return f"{esc(not_found_codes(track))}{said}"
    problem = recent.error(track.batch_id)
    if problem is None:
        return DASH
    what = " ".join(str(p) for p in (problem.reason, problem.status_code, problem.error_code) if p is not None)
    message = problem.message
    shown = message if len(message) <= SHOWN_ERROR_CHARS else message[: SHOWN_ERROR_CHARS - 1] + "…"
    said = f'<br><span class="muted" title="{esc(message)}">{esc(shown)}</span>' if message else ""
    return f"{esc(what)} · {ago(now, problem.at)}{said}"


def outcome_cell(track: Track, now: float, settings: PageSettings) -> str:
    """The outcome with its text cue and whether it is final; a dash while the batch runs."""
    shown = outcome_of(track, now, settings)
    return "<td>&ndash;</td>" if shown is None else f'<td class="{shown.css}">{esc(shown.text)}</td>'


def needs_attention(counts: Attention | None, query: Query) -> str:
    """The summary on-call reads first: failing, not found, stuck, failed in the last hour (links filter)."""
    if counts is None:
        return ""
    if not counts.total:
        return '<div class="attention ok-box"><b>Needs attention:</b> nothing ✓</div>'
    items = [
        (counts.failing, "failing to be read", link(query, watch="failing", page=1)),
        (counts.not_found, "not found", link(query, watch="not_found", page=1)),
        (counts.stuck, "stuck waiting for resources over 30m", ""),
        (counts.failed_last_hour, "failed in the last hour", ""),
    ]
    parts = "".join(f"<li><b>{n:,}</b> {_a(href, text) if href else text}</li>" for n, text, href in items if n)
    return f'<div class="attention bad-box"><b>⚠ Needs attention:</b><ul>{parts}</ul></div>'


def row(track: Track, recent: Recent, query: Query, now: float, settings: PageSettings = DEFAULT_SETTINGS) -> str:
    """One batch as a table row; every value from the API is escaped."""
    snap, status = track.snapshot, watch_status(track)
    name = esc(snap.name) if snap and snap.name else DASH
    queue = _a(link(query, queue=snap.queue, page=1), esc(snap.queue)) if snap and snap.queue else DASH
    state = esc(shown_state(snap)) if snap else NO_STATE
    updated = ago(now, snap.update_time / 1000) if snap and snap.update_time is not None else DASH
    polled, error = last_poll(track, recent, status, now), last_error(track, recent, now)
    in_state = when(track.state_since, age(now, track.state_since))
    return (
        f'<tr class="{status}"><td class="id">{batch_link(track.batch_id)}</td><td>{name}</td><td>{queue}</td>'
        f'<td class="{state_css(track.state)}">{state}</td>{outcome_cell(track, now, settings)}'
        f"<td>{span(duration_of(track, now))}</td><td>{in_state}</td><td>{updated}</td>"
        f"<td>{polled}</td><td>{status}</td><td>{error}</td></tr>"
    )


def index(
    about: About,
    selection: Selection,
    recent: Recent,
    query: Query,
    now: float,
    settings: PageSettings = DEFAULT_SETTINGS,
    attention: Attention | None = None,
) -> str:
    """The whole ``/`` document."""
    head = "".join(heading(query, key, title) for key, title in COLUMNS)
    rows = "".join(row(t, recent, query, now, settings) for t in selection.rows)
    if not rows:
        rows = f'<tr><td colspan="{len(COLUMNS)}">No batch matches.</td></tr>'
    body = (
        about_line(about)
        + needs_attention(attention, query)
        + counts("By state", "state", selection.by_state, query)
        + counts("By watch status", "watch", selection.by_watch, query)
        + filters(query, selection)
        + pager(query, selection)
        + f'<table id="batches"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        + pager(query, selection)
    )
    return page(f"dli-watcher {esc(about.version)}", body, query.refresh)
