"""What an on-call person looks for first: each batch's outcome and duration, what needs attention, link-outs.

Pure functions of a track, the clock and the page settings; the HTML and JSON views both use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from watcher.core import states
from watcher.core.outcome import final_outcome
from watcher.core.tracker import duration_seconds

if TYPE_CHECKING:
    from collections.abc import Iterable

    from watcher.core.tracker import Track

# a batch waiting for resources longer than this is "stuck" (the mixin's DLIBatchStuckStarting default)
STUCK_SECONDS = 30 * 60
RECENT_FAILURE_SECONDS = 3600
# the colour class and the text cue of each outcome: colour never carries the meaning alone
CUES = {"succeeded": ("good", "✓"), "failed": ("bad", "✗"), "killed": ("warn", "■")}


@dataclass(frozen=True, slots=True)
class PageSettings:
    """The parts of the config the pages read, at render time (a reload applies them)."""

    terminal_grace_seconds: float = 300.0
    # DLI brings some dead batches back (auto-recovery): dead is final only after the grace
    revivable: bool = True
    project_id: str = ""
    # (name, URL template) of each link-out; the config has checked the scheme and placeholders
    links: tuple[tuple[str, str], ...] = ()


DEFAULT_SETTINGS = PageSettings()


@dataclass(frozen=True, slots=True)
class Shown:
    """A batch's outcome as the pages show it: the outcome, and whether it can still change."""

    outcome: str
    final: bool

    @property
    def text(self) -> str:
        """``✗ failed (provisional)``: the cue, the word, and whether it may change."""
        cue = CUES.get(self.outcome, ("", "?"))[1]
        return f"{cue} {self.outcome} ({'final' if self.final else 'provisional'})"

    @property
    def css(self) -> str:
        """The colour class."""
        return CUES.get(self.outcome, ("",))[0]


def outcome_of(track: Track, now: float, settings: PageSettings) -> Shown | None:
    """The batch's outcome once it is in a terminal state (None before): final, or provisional while it may revive.

    Final exactly when the stream's ``batch.outcome`` is said: the same ``final_outcome`` decision (a kept
    batch the API now says it never knew shows its last state's outcome, provisionally).
    """
    snap = track.snapshot
    if snap is None or not states.is_terminal(snap.state):
        return None
    final = final_outcome(track, now, settings.terminal_grace_seconds, revivable=settings.revivable)
    if final is None or final == "not_found":
        return Shown(states.outcome(snap.state), False)
    return Shown(final, True)


def state_css(state: str | None) -> str:
    """The colour class of a state: dead and error look bad, success good, waiting and killed a warning."""
    if state is None:
        return ""
    if state in states.TERMINAL:
        return CUES[states.outcome(state)][0]
    return "warn" if state in states.WAITING else ""


def duration_of(track: Track, now: float) -> float | None:
    """How long the batch ran (finished: the API's own times) or has run so far (since its create time)."""
    snap = track.snapshot
    if snap is None:
        return None
    if states.is_terminal(snap.state):
        return duration_seconds(snap)
    return None if snap.create_time is None else max(0.0, now - snap.create_time / 1000)


def stuck(track: Track, now: float) -> bool:
    """Waiting for resources (not started, starting) for longer than ``STUCK_SECONDS``."""
    snap = track.snapshot
    since = track.state_since
    return snap is not None and snap.state in states.WAITING and since is not None and now - since > STUCK_SECONDS


def failed_recently(track: Track, now: float) -> bool:
    """Ended failed (dead, error) within the last hour, as the watcher saw it end."""
    snap = track.snapshot
    at = track.terminal_at
    failed = snap is not None and snap.state in states.TERMINAL and states.outcome(snap.state) == "failed"
    return failed and at is not None and now - at <= RECENT_FAILURE_SECONDS


@dataclass(frozen=True, slots=True)
class Attention:
    """The "needs attention" counts at the top of ``/``."""

    failing: int
    not_found: int
    stuck: int
    failed_last_hour: int

    @property
    def total(self) -> int:
        """Every batch counted above (one may count twice: failing and stuck)."""
        return self.failing + self.not_found + self.stuck + self.failed_last_hour


def attention_counts(tracks: Iterable[Track], now: float) -> Attention:
    """How many batches are failing to be read, not found, stuck waiting, or failed in the last hour."""
    failing = not_found = waiting = failed = 0
    for track in tracks:
        failing += not track.up and track.failing_since is not None
        not_found += track.presence == "not_found"
        waiting += stuck(track, now)
        failed += failed_recently(track, now)
    return Attention(failing, not_found, waiting, failed)


def link_values(track: Track, settings: PageSettings) -> dict[str, str]:
    """What each link placeholder stands for in this batch (empty when unknown)."""
    snap = track.snapshot
    finished = snap is not None and states.is_terminal(snap.state) and snap.update_time is not None
    values = {
        "batch_id": track.batch_id,
        "app_id": snap.app_id if snap else None,
        "job_name": snap.name if snap else None,
        "queue": snap.queue if snap else None,
        "project_id": settings.project_id,
        "owner": snap.owner if snap else None,
        "create_time_ms": snap.create_time if snap else None,
        "finish_time_ms": snap.update_time if finished and snap else None,
    }
    return {key: "" if value is None else str(value) for key, value in values.items()}


def links_of(track: Track, settings: PageSettings) -> list[tuple[str, str]]:
    """(name, URL) of each link-out, every placeholder URL-encoded whole (a ``/`` or ``&`` in a value included)."""
    values = {key: quote(value, safe="") for key, value in link_values(track, settings).items()}
    out = []
    for name, template in settings.links:
        url = template
        for key, value in values.items():
            url = url.replace("{" + key + "}", value)
        out.append((name, url))
    return out
