"""`wait` and `logs`: follow batches to their end (exit code by outcome), or print a job's log.

Exit codes (a public contract for scripts): 0 every batch succeeded, 2 config or credentials, 3 failed
(dead/error), 4 killed, 5 not found or gone, 6 timed out, 7 the API gave no usable answer for
--unreachable-timeout, 130 interrupted; with several batches the most severe outcome present, in the
order 3, 4, 5, 7, 6.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import anyio

from watcher.commands.follow import Follower, History, history_or_none
from watcher.commands.record import recorded_api
from watcher.commands.watched import WatchedPolicy
from watcher.core.log.diff import LogTrack, diff_log
from watcher.core.outcome import exit_code
from watcher.core.printable import printable, raw_line
from watcher.errors import ApiError, ConfigError, NotFoundError
from watcher.output.status import StatusLine
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from watcher.api.client import BatchApi
    from watcher.config.settings import Config
    from watcher.core.events import Event
    from watcher.core.model import Snapshot
    from watcher.core.outcome import Outcome
    from watcher.core.reach import Reachability
    from watcher.core.tracker import Track
    from watcher.daemon.recorder import Recorder

EXIT_HELP = """exit codes: 0 all succeeded, 1 a bug (please report it), 2 config or credentials rejected,
3 failed (dead/error), 4 killed, 5 not found or gone, 6 timed out (--timeout), 7 the API gave no usable
answer for --unreachable-timeout (retry the step), 130 interrupted, 141 stdout's reader went away;
several batches: the most severe in the order 3, 4, 5, 7, 6"""
# the most memory the lines `logs --tail` holds take, whatever N is (the bound is 32 MiB; with the
# page in flight and the interpreter, a process stays well under 100 MB): a tail of huge lines is cut to
# fit, and says so
MAX_TAIL_BYTES = 24 * 1024 * 1024
WATCHDOG_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class WaitOptions:
    """How `wait` (and `logs --follow`) follow: deadline, DLI's dead grace, output shape."""

    timeout: float | None = None
    grace: float = 120.0
    json: bool = False
    quiet: bool = False
    logs_only: bool = False
    streams: frozenset[str] = frozenset()
    unreachable: float = 120.0
    raw: bool = False
    recorder: Recorder | None = None  # --record: every exchange and clock reading goes there


class Printer:
    """Writes events as readable lines or JSON, or (for `logs`) a log's lines with a header per section."""

    def __init__(self, out: TextIO, status: StatusLine, opts: WaitOptions) -> None:
        self._out, self._status, self._opts = out, status, opts
        self._writer = EventWriter.for_format("json" if opts.json else "readable", "info", out)
        self._stream = ""
        self._line = raw_line if opts.raw else printable
        self.lines = 0
        self.mask: Callable[[str], str] = str  # the API client's secret mask, once it exists: log lines are server text

    def __call__(self, events: list[Event]) -> None:
        """Show one lot of events (history or a poll's)."""
        if self._opts.quiet:
            return
        self._status.clear()
        self.lines += sum(1 for e in events if e.name == "batch.log")
        if not self._opts.logs_only:
            self._out.write("".join(self.mask(line) for line in self._writer.lines(events)))
            self._out.flush()
            return
        for event in events:
            if event.name == "batch.log":
                self.log_line(str(event.fields["stream"]), str(event.fields["line"]))
            elif event.name == "batch.log_gap":
                self._out.write(f"[{printable(event.fields.get('stream'))}: lines missing here]\n")
        self._out.flush()

    def wanted(self, stream: str) -> bool:
        """Whether lines of ``stream`` are shown (``--stream``)."""
        return not self._opts.streams or _family(stream) in self._opts.streams

    def log_line(self, stream: str, line: str) -> None:
        """One log line, under a ``==> stream <==`` header whenever the section changes (none with --stream)."""
        if not self.wanted(stream):
            return
        if not self._opts.streams and stream != self._stream:
            self._out.write(f"==> {printable(stream)} <==\n")
        self._stream = stream
        self._out.write(self._line(self.mask(line)) + "\n")

    def log_lines(self, lines: list[tuple[str, str]]) -> None:
        """A page of log lines, written out before the next page is asked for."""
        for stream, line in lines:
            self.log_line(stream, line)
        self._out.flush()


class TailRing:
    """The last ``size`` lines of a log read from its start, never more than ``max_bytes`` of them in memory."""

    def __init__(self, size: int, max_bytes: int = MAX_TAIL_BYTES) -> None:
        self._size, self._max = size, max_bytes
        self._kept: deque[tuple[str, str]] = deque()
        self._chars = 0
        self.seen = 0

    def add(self, lines: list[tuple[str, str]]) -> None:
        """Take a page's lines (those of the wanted streams)."""
        for item in lines:
            self._kept.append(item)
            self._chars += sys.getsizeof(item[1])  # what the line takes: 4 bytes a character for emoji
            self.seen += 1
            while len(self._kept) > self._size or (self._chars > self._max and len(self._kept) > 1):
                self._chars -= sys.getsizeof(self._kept.popleft()[1])

    @property
    def cut(self) -> int:
        """Lines of the last ``size`` that did not fit in ``max_bytes``."""
        return min(self._size, self.seen) - len(self._kept)

    def lines(self) -> list[tuple[str, str]]:
        """What is kept, oldest first."""
        return list(self._kept)


def _family(stream: str) -> str:
    """The stream a user asks for: a log without sections (Livy 0.3) is the job's stdout."""
    return "stdout" if stream == "log" else stream


@dataclass(slots=True)
class _Stop:
    """Why the watchdog ended a wait early: the API stopped answering, or refused our credentials."""

    unreachable: bool = False
    refusal: ApiError | None = None


async def _watchdog(reach: Reachability, limit: float, scope: anyio.CancelScope, stop: _Stop) -> None:
    """End the wait when the API refuses the credentials, or has not answered for ``limit`` seconds in a row."""
    while True:
        await anyio.sleep(WATCHDOG_SECONDS)
        if reach.refusal is not None:
            stop.refusal = reach.refusal
        elif reach.unreachable(time.monotonic(), limit):
            stop.unreachable = True
        else:
            continue
        scope.cancel()
        return


async def wait(cfg: Config, batch_ids: list[str], opts: WaitOptions, out: TextIO, err: TextIO) -> int:
    """Follow each batch to its final outcome, printing its log so far and every change; the exit code."""
    status = StatusLine(err, enabled=False if opts.quiet else None)
    show = Printer(out, status, opts)
    policy = WatchedPolicy(cfg.api, cfg.watch.concurrency)
    started = time.monotonic()
    stop = _Stop()
    async with recorded_api(cfg, opts.recorder) as api:
        show.mask = api.mask
        clock = opts.recorder.wall if opts.recorder is not None else time.time
        on_hold = _holding(err, status, opts.quiet)
        follower = Follower(cfg, api, policy, show, grace=opts.grace, on_hold=on_hold, clock=clock)
        with anyio.move_on_after(opts.timeout):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_watchdog, policy.reach, opts.unreachable, tg.cancel_scope, stop)
                for bid in batch_ids:
                    await _seed(api, policy, follower, bid, err)
                tick = lambda tracks: status.show(_progress(tracks, started, show.lines))  # noqa: E731
                await follower.run(batch_ids, tick=tick)
                tg.cancel_scope.cancel()
        outcomes = follower.results(batch_ids)
    status.clear()
    if stop.refusal is not None:
        raise ConfigError("auth.method", f"credentials rejected: {stop.refusal.message}")
    if stop.unreachable:
        outcomes = {bid: "unreachable" if o == "timed_out" else o for bid, o in outcomes.items()}
    if not opts.quiet:
        for bid, outcome in outcomes.items():
            said = _said(follower.said(bid, outcome), outcome, cfg, opts, policy.reach)
            err.write(f"dli-watcher: {printable(bid)}: {said}\n")
    return exit_code(outcomes.values())


def _said(plain: str, outcome: Outcome, cfg: Config, opts: WaitOptions, reach: Reachability) -> str:
    """The outcome's line: the follower's words, or for an API that stopped answering, what it last said."""
    if outcome != "unreachable":
        return printable(plain)
    last = reach.last_failure
    why = f"{last.reason}: {last.message}" if last is not None else "no answer"
    return printable(f"no usable answer from {cfg.api.endpoint} for {opts.unreachable:g}s in a row ({why})")


async def _seed(api: BatchApi, policy: WatchedPolicy, follower: Follower, bid: str, err: TextIO) -> None:
    """Print the batch's log so far, page by page, or say why it is not there (the window's lines still follow).

    Its details are read first: refused credentials stop here, and the history lines get their context.
    """
    snap = await _details(api, policy, bid)
    if not follower.log_endpoint or policy.reach.refusal is not None:
        return
    history, failure = await history_or_none(api, policy, bid, follower.history_sink(bid, snap))
    if history is not None:
        follower.seed(bid, history.track)
        if history.cut:
            err.write(f"dli-watcher: {printable(bid)}: the log so far is incomplete ({printable(history.cut)})\n")
    elif failure is not None and not isinstance(failure, NotFoundError):
        note = f"the log so far is unavailable ({_why(failure)}); following what the API shows"
        err.write(f"dli-watcher: {printable(bid)}: {printable(note)}\n")


async def _details(api: BatchApi, policy: WatchedPolicy, batch_id: str) -> Snapshot | None:
    """The batch's details when they can be read; refusals are noted by the policy for the watchdog."""
    try:
        return await policy.call(lambda: api.details(batch_id))
    except ApiError:
        return None  # not found, refused, or trouble the follow will report and retry


def _holding(err: TextIO, status: StatusLine, quiet: bool) -> Callable[[str, float], None]:
    """The one line `wait` prints while it holds a dead DLI batch for its grace (auto-recovery may revive it)."""

    def say(bid: str, grace: float) -> None:
        if not quiet:
            status.clear()
            why = f"dead; waiting up to {grace:g} s in case DLI's auto-recovery revives it"
            err.write(f"dli-watcher: {printable(bid)}: {why}\n")

    return say


def _progress(tracks: Mapping[str, Track], started: float, lines: int) -> str:
    states: dict[str, int] = {}
    for track in tracks.values():
        state = track.snapshot.state if track.snapshot is not None else track.presence
        states[state] = states.get(state, 0) + 1
    shown = ", ".join(f"{n} {printable(s)}" for s, n in sorted(states.items()))
    elapsed = int(time.monotonic() - started)
    return f"waiting: {shown or 'starting'} · {elapsed // 60:02d}:{elapsed % 60:02d} · {lines} lines"


async def logs(cfg: Config, batch_id: str, tail: int | None, opts: WaitOptions, out: TextIO, err: TextIO) -> int:
    """Print a job's log as it is read (or its last ``tail`` lines), sections labelled; 5 when it does not exist.

    Raises ApiError when the API gives no usable answer once the retries are spent.
    """
    policy = WatchedPolicy(cfg.api, cfg.watch.concurrency)
    show = Printer(out, StatusLine(err, enabled=False), opts)
    ring = TailRing(tail) if tail else None

    def sink(lines: list[tuple[str, str]]) -> None:
        chosen = [(s, line) for s, line in lines if show.wanted(s)]
        if ring is not None:
            ring.add(chosen)
        else:
            show.log_lines(chosen)

    async with recorded_api(cfg, opts.recorder) as api:
        show.mask = api.mask
        try:
            await policy.call(lambda: api.details(batch_id))
            history = await _history_or_window(api, policy, (batch_id, cfg.api.log_endpoint), err, sink)
        except NotFoundError as exc:
            err.write(f"dli-watcher: {printable(batch_id)}: not found ({printable(exc.message)})\n")
            return exit_code(["not_found"])
    if ring is not None:
        show.log_lines(ring.lines())
        _tail_note(batch_id, tail or 0, ring, err)
    if history.cut:
        err.write(f"dli-watcher: {printable(batch_id)}: the log is incomplete ({printable(history.cut)})\n")
    out.flush()
    return 0


def _tail_note(batch_id: str, tail: int, ring: TailRing, err: TextIO) -> None:
    if ring.cut:
        shown = len(ring.lines())
        note = (
            f"--tail {tail}: showing the last {shown} of {ring.seen} lines; {ring.cut} more were skipped "
            f"to stay within {MAX_TAIL_BYTES // (1024 * 1024)} MiB"
        )
        err.write(f"dli-watcher: {printable(batch_id)}: {note}\n")


async def _history_or_window(
    api: BatchApi,
    policy: WatchedPolicy,
    which: tuple[str, bool],
    err: TextIO,
    sink: Callable[[list[tuple[str, str]]], None],
) -> History:
    """The log through the log endpoint (when it is on), else the details window with a note why."""
    bid, enabled = which
    if not enabled:
        return await _window(api, policy, bid, err, "the log endpoint is turned off", sink)
    history, failure = await history_or_none(api, policy, bid, sink)
    if history is not None:
        return history
    if failure is not None and (isinstance(failure, NotFoundError) or policy.reach.refusal is not None):
        raise failure
    return await _window(api, policy, bid, err, f"the log endpoint did not answer ({_why(failure)})", sink)


def _why(failure: ApiError | None) -> str:
    return f"{failure.reason}: {failure.message}" if failure is not None else "no answer"


async def _window(
    api: BatchApi,
    policy: WatchedPolicy,
    bid: str,
    err: TextIO,
    why: str,
    sink: Callable[[list[tuple[str, str]]], None],
) -> History:
    """The lines the batch details carry (its last 10), with a note on what is missing."""
    snap = await policy.call(lambda: api.details(bid))
    diff = diff_log(LogTrack(), snap.log)
    note = f"{why}; showing the {len(diff.lines)} lines the batch details carry, earlier ones are missing"
    err.write(f"dli-watcher: {printable(bid)}: {printable(note)}\n")
    sink(list(diff.lines))
    return History(diff.track, len(diff.lines))
