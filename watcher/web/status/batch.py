"""The page at ``/batches/{id}``: one batch's fields, how its polls went, its recent events and its last log lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watcher.core.tracker import context, shown_state
from watcher.core.watchstatus import watch_status
from watcher.web.status.index import REFRESH_CHOICES, last_poll, not_found_codes
from watcher.web.status.markup import batch_path, esc, page
from watcher.web.status.oncall import DEFAULT_SETTINGS, PageSettings, duration_of, links_of, outcome_of
from watcher.web.status.units import DASH, age, ago, millis_stamp, span, stamp

if TYPE_CHECKING:
    from watcher.core.recent import Recent
    from watcher.core.tracker import Track

BACK = '<p><a href="/">&larr; all batches</a></p>'
# (label, Snapshot attribute) of the fields shown as the API gave them
FIELDS = (
    ("Job name", "name"),
    ("Queue", "queue"),
    ("Owner", "owner"),
    ("Kind", "kind"),
    ("Spark type", "sc_type"),
    ("Application ID", "app_id"),
    ("Spark version", "spark_version"),
    ("Image", "image"),
    ("Proxy user", "proxy_user"),
)


def _when(now: float, at: float | None) -> str:
    return DASH if at is None else f"{stamp(at)} ({age(now, at)} ago)"


def details(track: Track, recent: Recent, now: float) -> list[tuple[str, str]]:
    """(label, HTML) of everything the watcher knows about the batch; API values escaped."""
    snap, status = track.snapshot, watch_status(track)
    values = [getattr(snap, attr) if snap else None for _, attr in FIELDS]
    rows = [(label, esc(value) if value else DASH) for (label, _), value in zip(FIELDS, values, strict=True)]
    rows += [
        ("State", esc(shown_state(snap)) if snap else DASH),
        ("In state for", span(None if track.state_since is None else now - track.state_since)),
        ("Watch status", status),
        ("Created", millis_stamp(snap.create_time) if snap else DASH),
        ("Updated", _when(now, snap.update_time / 1000) if snap and snap.update_time is not None else DASH),
        ("First seen", _when(now, track.first_seen)),
        ("Finished (seen)", _when(now, track.terminal_at)),
        ("Last poll", last_poll(track, recent, status, now)),
        ("Last successful poll", _when(now, track.last_success)),
        ("Failing since", _when(now, track.failing_since)),
        ("Log layout", track.log.layout),
    ]
    if track.presence == "not_found":
        said = f": {esc(track.not_found_message)}" if track.not_found_message else ""
        rows.append(("API answer", f"{esc(not_found_codes(track))}{said}"))
    problem = recent.error(track.batch_id)
    if problem is not None:
        codes = ", ".join(f"{k} {v}" for k, v in (("status", problem.status_code), ("code", problem.error_code)) if v)
        text = f"{esc(problem.reason)}{f' ({esc(codes)})' if codes else ''}: {esc(problem.message)}"
        rows.append(("Last error", f"{text} · {_when(now, problem.at)}"))
    return rows


def events_table(recent: Recent, track: Track, now: float | None = None) -> str:
    """The batch's recent events (log lines aside), newest first: each by its message, its fields on demand."""
    entries = recent.events(track.batch_id, context(track.snapshot))
    if not entries:
        return "<p>None kept yet.</p>"
    rows = "".join(
        f"<tr><td>{stamp(e.at) if now is None else ago(now, e.at)}</td><td>{esc(e.name)}</td><td>{esc(e.level)}</td>"
        f"<td><details><summary>{esc(e.message or e.name)}</summary><code>{esc(e.detail)}</code></details></td></tr>"
        for e in reversed(entries)
    )
    return (
        '<table id="events"><thead><tr><th>Written</th><th>Event</th><th>Level</th><th>Message (click for fields)</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def headline(track: Track, now: float, settings: PageSettings) -> str:
    """The sentence the page opens with: "failed after 2m 40s, 3m ago", "running for 12m", "not found"."""
    snap, shown = track.snapshot, outcome_of(track, now, settings)
    css = ""
    if track.presence == "not_found":
        text = "not found: the API does not know this ID"
    elif track.presence == "pending" and snap is None:
        text = "not read yet"
    elif shown is not None and snap is not None:
        took = duration_of(track, now)
        after = f" after {span(took)}" if took is not None else ""
        ended = snap.update_time / 1000 if snap.update_time is not None else track.terminal_at
        since = f", {ago(now, ended)}" if ended is not None else ""
        css = shown.css
        text = f"{esc(shown.text)}{after}{since}"
    elif snap is not None:
        text = f"{esc(snap.state)} for {span(None if track.state_since is None else now - track.state_since)}"
    else:
        text = esc(track.presence)
    if not track.up and track.failing_since is not None:
        text += f"; polls failing since {ago(now, track.failing_since)}"
        css = "bad"
    return f'<p class="headline {css}">{text}</p>'


def links_list(track: Track, settings: PageSettings) -> str:
    """The configured link-outs, filled in for this batch (URL-encoded values, escaped attributes)."""
    links = links_of(track, settings)
    if not links:
        return ""
    items = "".join(f'<li><a href="{esc(url)}" rel="noopener noreferrer">{esc(name)}</a></li>' for name, url in links)
    return f'<ul class="links">{items}</ul>'


def log_section(track: Track) -> str:
    """The last lines seen of each log stream, under the stream's name."""
    streams = [(name, stream) for name, stream in track.log.streams.items() if stream.tail]
    if not streams:
        return "<p>No log lines seen yet.</p>"
    parts = []
    for name, stream in streams:
        total = f", {stream.seen:,} since the stream began" if stream.seen >= 0 else ""
        lines = "\n".join(esc(line) for line in stream.tail)
        parts.append(
            f'<h3>{esc(name)} <span class="muted">(last {len(stream.tail)} lines seen{total})</span></h3>'
            f'<pre class="log" data-stream="{esc(name)}">{lines}</pre>'
        )
    return "".join(parts)


def refresh_choices(batch_id: str, refresh: int) -> str:
    """Links that turn the page's auto-refresh off or on."""
    path = batch_path(batch_id)
    choices = [(0, "off", path), *((s, f"{s}s", f"{path}?refresh={s}") for s in REFRESH_CHOICES)]
    links = " ".join(
        f"<b>{text}</b>" if s == refresh else f'<a href="{esc(href)}">{text}</a>' for s, text, href in choices
    )
    return f'<p class="pager">auto-refresh: {links}</p>'


def batch_page(
    track: Track, recent: Recent, now: float, refresh: int = 0, settings: PageSettings = DEFAULT_SETTINGS
) -> str:
    """The whole ``/batches/{id}`` document."""
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in details(track, recent, now))
    body = (
        f'{BACK}<h1>Batch <span class="id">{esc(track.batch_id)}</span></h1>'
        f"{headline(track, now, settings)}{links_list(track, settings)}"
        f"{refresh_choices(track.batch_id, refresh)}<dl>{items}</dl>"
        f'<h2>Recent events <span class="muted">(the last {recent.per_batch} kept, log lines aside)</span></h2>'
        f"{events_table(recent, track, now)}"
        f'<h2>Log <span class="muted">(the last lines seen, by stream)</span></h2>{log_section(track)}'
    )
    return page(f"Batch {esc(track.batch_id)} · dli-watcher", body, refresh)


def unwatched_page(batch_id: str) -> str:
    """The page for an ID the watcher does not watch."""
    body = f"{BACK}<h1>Not watched</h1><p>No watched batch has the ID {esc(batch_id)}.</p>"
    return page("Not watched · dli-watcher", body)
