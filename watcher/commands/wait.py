"""`wait` and `logs`: follow batches to their end (exit code by outcome), or print a job's log.

Exit codes (a public contract for scripts): 0 every batch succeeded, 2 config or credentials, 3 failed
(dead/error), 4 killed, 5 not found or gone, 6 timed out, 130 interrupted; with several batches the
most severe outcome present, in the order 3, 4, 5, 6.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import anyio

from watcher.api.policy import RequestPolicy
from watcher.commands.follow import Follower, History, history_or_none
from watcher.commands.record import recorded_api
from watcher.core.logdiff import LogTrack, diff_log
from watcher.core.outcome import exit_code
from watcher.errors import ApiError, AuthError, ConfigError, NotFoundError
from watcher.output.status import StatusLine
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import Mapping

    from watcher.api.client import BatchApi
    from watcher.config.settings import Config
    from watcher.core.events import Event
    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track
    from watcher.daemon.recorder import Recorder

EXIT_HELP = """exit codes: 0 all succeeded, 2 config or credentials, 3 failed (dead/error), 4 killed,
5 not found or gone, 6 timed out, 130 interrupted; several batches: the most severe in the order 3, 4, 5, 6"""


@dataclass(frozen=True, slots=True)
class WaitOptions:
    """How `wait` (and `logs --follow`) follow: deadline, DLI's dead grace, output shape."""

    timeout: float | None = None
    grace: float = 120.0
    json: bool = False
    quiet: bool = False
    logs_only: bool = False
    streams: frozenset[str] = frozenset()
    recorder: Recorder | None = None  # --record: every exchange and clock reading goes there


class Printer:
    """Writes events as readable lines or JSON, or (for `logs`) a log's lines with a header per section."""

    def __init__(self, out: TextIO, status: StatusLine, opts: WaitOptions) -> None:
        self._out, self._status, self._opts = out, status, opts
        self._writer = EventWriter.for_format("json" if opts.json else "readable", "info", out)
        self._stream = ""
        self.lines = 0

    def __call__(self, events: list[Event]) -> None:
        """Show one lot of events (history or a poll's)."""
        if self._opts.quiet:
            return
        self._status.clear()
        self.lines += sum(1 for e in events if e.name == "batch.log")
        if not self._opts.logs_only:
            self._writer.write(events)
            return
        for event in events:
            if event.name == "batch.log":
                self.log_line(str(event.fields["stream"]), str(event.fields["line"]))
            elif event.name == "batch.log_gap":
                self._out.write(f"[{event.fields.get('stream')}: lines missing here]\n")
        self._out.flush()

    def log_line(self, stream: str, line: str) -> None:
        """One log line, under a ``==> stream <==`` header whenever the section changes (none with --stream)."""
        if self._opts.streams and _family(stream) not in self._opts.streams:
            return
        if not self._opts.streams and stream != self._stream:
            self._out.write(f"==> {stream} <==\n")
        self._stream = stream
        self._out.write(line + "\n")


def _family(stream: str) -> str:
    """The stream a user asks for: a log without sections (Livy 0.3) is the job's stdout."""
    return "stdout" if stream == "log" else stream


async def wait(cfg: Config, batch_ids: list[str], opts: WaitOptions, out: TextIO, err: TextIO) -> int:
    """Follow each batch to its final outcome, printing its log so far and every change; the exit code."""
    status = StatusLine(err, enabled=False if opts.quiet else None)
    show = Printer(out, status, opts)
    policy = RequestPolicy(cfg.api, cfg.watch.concurrency)
    started = time.monotonic()
    async with recorded_api(cfg, opts.recorder) as api:
        clock = opts.recorder.wall if opts.recorder is not None else time.time
        follower = Follower(cfg, api, policy, show, grace=opts.grace, clock=clock)
        for bid in batch_ids:
            await _seed(api, policy, follower, bid, err)
        with anyio.move_on_after(opts.timeout):
            await follower.run(batch_ids, tick=lambda tracks: status.show(_progress(tracks, started, show.lines)))
        outcomes = follower.results(batch_ids)
    status.clear()
    if not opts.quiet:
        for bid, outcome in outcomes.items():
            err.write(f"dli-watcher: {bid}: {outcome.replace('_', ' ')}\n")
    return exit_code(outcomes.values())


async def _credentials_accepted(api: BatchApi, policy: RequestPolicy, batch_id: str) -> Snapshot | None:
    """Read one batch first: refused credentials end the command with exit 2 rather than retrying for ever."""
    try:
        return await policy.call(lambda: api.details(batch_id))
    except AuthError as exc:
        if exc.status_code is not None and exc.status_code < 500:
            raise ConfigError("auth.method", f"credentials rejected: {exc.message}") from None
    except ApiError:
        pass  # not found, or trouble the follow will report and retry
    return None


async def _seed(api: BatchApi, policy: RequestPolicy, follower: Follower, bid: str, err: TextIO) -> None:
    """Print the batch's log so far, or say why it is not there (the window's lines still follow).

    Its details are read first: refused credentials stop here, and the history lines get their context.
    """
    snap = await _credentials_accepted(api, policy, bid)
    if not follower.log_endpoint:
        return
    history, failure = await history_or_none(api, policy, bid)
    if history is not None:
        follower.seed(bid, history, snap)
    elif failure is not None and not isinstance(failure, NotFoundError):
        note = f"the log so far is unavailable ({_why(failure)}); following what the API shows"
        err.write(f"dli-watcher: {bid}: {note}\n")


def _progress(tracks: Mapping[str, Track], started: float, lines: int) -> str:
    states: dict[str, int] = {}
    for track in tracks.values():
        state = track.snapshot.state if track.snapshot is not None else track.presence
        states[state] = states.get(state, 0) + 1
    shown = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    elapsed = int(time.monotonic() - started)
    return f"waiting: {shown or 'starting'} · {elapsed // 60:02d}:{elapsed % 60:02d} · {lines} lines"


async def logs(cfg: Config, batch_id: str, tail: int | None, opts: WaitOptions, out: TextIO, err: TextIO) -> int:
    """Print a job's whole log (or its last ``tail`` lines), sections labelled; 5 when the batch does not exist."""
    policy = RequestPolicy(cfg.api, cfg.watch.concurrency)
    show = Printer(out, StatusLine(err, enabled=False), opts)
    async with recorded_api(cfg, opts.recorder) as api:
        await _credentials_accepted(api, policy, batch_id)
        try:
            history = await _history_or_window(api, policy, batch_id, err) if cfg.api.log_endpoint else None
            if history is None:
                history = await _window(api, policy, batch_id, err, "the log endpoint is turned off")
        except NotFoundError as exc:
            err.write(f"dli-watcher: {batch_id}: not found ({exc.message})\n")
            return exit_code(["missing"])
    chosen = [(s, line) for s, line in history.lines if not opts.streams or _family(s) in opts.streams]
    for stream, line in chosen[-tail:] if tail else chosen:
        show.log_line(stream, line)
    out.flush()
    return 0


async def _history_or_window(api: BatchApi, policy: RequestPolicy, bid: str, err: TextIO) -> History:
    history, failure = await history_or_none(api, policy, bid)
    if history is not None:
        return history
    return await _window(api, policy, bid, err, f"the log endpoint did not answer ({_why(failure)})")


def _why(failure: ApiError | None) -> str:
    return f"{failure.reason}: {failure.message}" if failure is not None else "no answer"


async def _window(api: BatchApi, policy: RequestPolicy, bid: str, err: TextIO, why: str) -> History:
    """The lines the batch details carry (its last 10), with a note on what is missing."""
    snap = await policy.call(lambda: api.details(bid))
    diff = diff_log(LogTrack(), snap.log)
    note = f"{why}; showing the {len(diff.lines)} lines the batch details carry, earlier ones are missing"
    err.write(f"dli-watcher: {bid}: {note}\n")
    return History(diff.lines, diff.track)
