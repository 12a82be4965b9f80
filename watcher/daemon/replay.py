"""Offline replay: the daemon's own poller, decoder, log reader and tracker, fed a recording instead of the network.

No scheduler, jitter, network or sleep: each poll the recording holds is started in the order it was
made, its requests are answered from the file (by method, path and query, in order), and the poller's
wall clock reads the times the run read. A request the file does not hold is a divergence, answered
as a failed request and reported, never guessed.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import httpx

from watcher.api.client import BatchApi
from watcher.api.policy import RequestPolicy
from watcher.config.settings import Config, parse
from watcher.core.board import Board
from watcher.core.labels import LabelCap
from watcher.core.recordformat import Clock, Exchange, Header, RecordingError
from watcher.daemon.codec import decode_track
from watcher.daemon.poller import Clocks, Poller
from watcher.daemon.results import settles
from watcher.errors import ApiError, ConfigError, ConnectApiError, DecodeError, TimeoutApiError

if TYPE_CHECKING:
    from watcher.core.events import Event
    from watcher.core.tracker import Track
    from watcher.errors import FailureReason

_RAISED: dict[str, type[ApiError]] = {"timeout": TimeoutApiError, "connect": ConnectApiError, "decode": DecodeError}
# the body is kept decoded: these described the wire form, not what is served again
_NOT_SERVED = frozenset({"content-encoding", "content-length"})
# config sections and keys a replay must not act on: it opens no file, port or connection
_DROPPED_API_KEYS = ("proxy", "no_proxy", "ca_file", "ca_dir", "client_cert_file", "client_key_file")


def replay_config(header: Header) -> Config:
    """The recorded run's config, made inert: no credentials, files, proxy, state or waiting between retries."""
    doc: dict[str, Any] = copy.deepcopy(header.config)
    doc["auth"] = {"method": "none"}
    for section in ("state", "record", "metrics"):
        doc.pop(section, None)
    api = doc.get("api")
    if isinstance(api, dict):
        for key in _DROPPED_API_KEYS:
            api.pop(key, None)
    try:
        cfg = parse(doc, {}, offline=True)
    except ConfigError as exc:
        raise RecordingError(f"the header's config is not valid: {exc}", 1) from None
    # retries follow at once: a replay never sleeps
    return replace(cfg, api=replace(cfg.api, backoff_base_seconds=0.0, backoff_max_seconds=0.0))


@dataclass
class Recorded:
    """The recording's exchanges served in order per request, and its clock readings in order after them."""

    exchanges: list[Exchange]
    clocks: list[Clock]
    taken: set[int] = field(default_factory=set)
    divergences: list[str] = field(default_factory=list)
    last_clock: int = 0  # the file position of the last clock reading served
    _after: int = 0
    _wall: float = 0.0
    _queues: dict[tuple[str, str, tuple[tuple[str, str], ...]], deque[Exchange]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a queue per request, so that a recording of many thousands of exchanges replays in linear time
        for ex in self.exchanges:
            self._queues.setdefault((ex.method, ex.path, ex.query), deque()).append(ex)
        self._clock_at = [c.index for c in self.clocks]

    def take(self, method: str, path: str, query: tuple[tuple[str, str], ...]) -> Exchange | None:
        """The first exchange not served yet with this method, path and query."""
        queue = self._queues.get((method, path, query))
        if queue:
            ex = queue.popleft()
            self.taken.add(ex.index)
            self._after, self._wall = ex.index, ex.wall
            return ex
        shown = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
        self.divergences.append(f"{method} {shown} is not in the recording")
        return None

    def wall(self) -> float:
        """The run's next clock reading after the last exchange served (the last one again past them)."""
        for clock in self.clocks[bisect_right(self._clock_at, self._after) :]:
            if clock.index not in self.taken:
                self.taken.add(clock.index)
                self.last_clock, self._wall = clock.index, clock.wall
                return clock.wall
        return self._wall


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers each request with the recorded one; a failed request fails again the same way."""

    def __init__(self, recorded: Recorded) -> None:
        self._recorded = recorded

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The recorded answer, or a connect failure for a request the file does not hold."""
        query = tuple(parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True))
        ex = self._recorded.take(request.method, request.url.path, query)
        if ex is None:
            raise ConnectApiError("replay divergence: the recording holds no answer to this request")
        if ex.error is not None:
            raise _RAISED[ex.error[0]](ex.error[1])
        headers = [(k, v) for k, v in ex.headers if k.lower() not in _NOT_SERVED]
        return httpx.Response(ex.status, headers=headers, content=ex.body, request=request)


class _Quiet:
    """Telemetry nobody reads."""

    def poll_done(self, seconds: float, reason: FailureReason | None) -> None:
        """Ignored."""


@dataclass
class Outcome:
    """What a replay produced: the events in the order the run wrote them, and what did not match."""

    events: list[Event]
    divergences: list[str]
    unused: list[str]


def _target(path: str, base: str) -> tuple[str, str | None]:
    """('details'|'log'|'list'|'other', batch ID) of a request path under the batches collection."""
    if path == base:
        return "list", None
    if not path.startswith(base + "/"):
        return "other", None
    rest = path[len(base) + 1 :]
    if rest.endswith("/log"):
        return "log", unquote(rest[:-4])
    return ("details", unquote(rest)) if "/" not in rest else ("other", None)


async def replay(header: Header, items: list[Exchange | Clock]) -> Outcome:
    """Replay a recording through the daemon's poll pipeline; the events as the run wrote them."""
    cfg = replay_config(header)
    api_items = [x for x in items if isinstance(x, Exchange) and not x.iam]
    recorded = Recorded(api_items, [x for x in items if isinstance(x, Clock)])
    base = httpx.URL(cfg.api.endpoint.rstrip("/") + cfg.api.flavor_spec.batches_path(cfg.api.project_id)).path
    board = Board(labels=LabelCap(cfg.metrics.max_label_values))
    board.restore(_restored(header), {}, {})
    produced: list[tuple[int, int, list[Event]]] = []

    revivable, grace = cfg.api.flavor_spec.revives_dead, cfg.watch.terminal_grace_seconds

    def sink(track: Track, events: list[Event], changed: bool) -> None:
        # as the daemon does after each poll: a run whose outcome became final says so once
        if not settles(track, events, changed):
            return
        _, final = board.count_outcome(track, recorded.wall(), grace, revivable=revivable)
        produced.append((recorded.last_clock, len(produced), [*events, *final]))

    async with httpx.AsyncClient(transport=ReplayTransport(recorded)) as http:
        api = BatchApi(http, cfg.api)
        policy = RequestPolicy(cfg.api, cfg.watch.concurrency, throttle=board.throttle)
        poller = Poller(api, policy, cfg, board, sink, _Quiet(), clocks=Clocks(wall=recorded.wall))
        ids = [bid for kind, bid in (_target(x.path, base) for x in api_items) if kind == "details" and bid]
        poller.watch(dict.fromkeys([*cfg.watch.batch_ids, *board.tracks, *ids]))
        for ex in api_items:
            if ex.index in recorded.taken:
                continue
            kind, bid = _target(ex.path, base)
            if kind == "details" and bid is not None:
                await poller.poll_now(bid)
            elif kind == "list" and cfg.watch.mode == "list":
                await poller.cycle_now()  # in details mode a list request is discovery's: not replayed
    # the run wrote each poll's events right after its last clock reading, in that order
    produced.sort(key=lambda item: (item[0], item[1]))
    unused = [f"{x.method} {x.path}" for x in api_items if x.index not in recorded.taken]
    return Outcome([e for _, _, events in produced for e in events], recorded.divergences, unused)


def _restored(header: Header) -> dict[str, Track]:
    tracks = header.state.get("tracks", [])
    if not isinstance(tracks, list):
        raise RecordingError("the header's state is misshapen", 1)
    restored = {}
    for text in tracks:
        try:
            track = decode_track(text)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RecordingError("the header's state holds a track that does not decode", 1) from None
        restored[track.batch_id] = track
    return restored
