"""The one-shot commands' arguments and their runs: `wait`, `logs` and `ls`, with the exit codes scripts rely on."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, TextIO

import anyio

from watcher.commands.listing import ListFilter, list_batches, since_ms, write_listing
from watcher.commands.record import add_record_argument, open_recorder, target_document
from watcher.commands.target import add_target_arguments, target_config
from watcher.commands.wait import EXIT_HELP, WaitOptions, logs, wait
from watcher.commands.watched import WatchedPolicy
from watcher.config.duration import parse_duration
from watcher.core import states
from watcher.core.printable import printable
from watcher.core.reach import rejected
from watcher.errors import ApiError, ConfigError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.config.settings import Config

EXIT_INTERRUPTED = 130
EXIT_UNREACHABLE = 7
STREAM_CHOICES = ("stdout", "stderr", "diagnostics")


def duration(text: str) -> float:
    """A DURATION argument: seconds, or text such as ``45s``, ``10m``, ``2h``."""
    try:
        seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return seconds


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(text)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`wait`, `logs` and `ls`, each with the target flags (no config file needed)."""
    epilog = EXIT_HELP
    w = sub.add_parser(
        "wait",
        help="follow batches to their end; the exit code says how they ended",
        description="Print each batch's log so far, then every change and new line, until every batch is final.",
        epilog=epilog,
    )
    w.add_argument("batch_ids", nargs="+", metavar="ID")
    w.add_argument("--timeout", type=duration, help="give up after this long (exit 6), e.g. 2h (default: never)")
    w.add_argument(
        "--grace", type=duration, help="DLI: how long 'dead' must last to be final (default: the config's, 2m)"
    )
    w.add_argument("--json", action="store_true", help="JSON event lines (the daemon's schema) instead of text")
    w.add_argument("--quiet", action="store_true", help="print nothing; only the exit code")
    _follow_arguments(w)
    lg = sub.add_parser(
        "logs",
        help="print a job's log (paged through the log endpoint)",
        description="Print a job's log as it is read, page by page, a header per section; --follow continues.",
        epilog=epilog,
    )
    lg.add_argument("batch_id", metavar="ID")
    lg.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until the job ends")
    lg.add_argument("--stream", choices=STREAM_CHOICES, action="append", help="only this section (repeatable)")
    lg.add_argument("--tail", type=_positive, metavar="N", help="only the last N lines (default: all)")
    lg.add_argument(
        "--raw", action="store_true", help="lines as they are, but for CR, LF and ESC (default: escape controls)"
    )
    lg.add_argument("--timeout", type=duration, help="with --follow: give up after this long (exit 6)")
    lg.add_argument("--grace", type=duration, help="with --follow on DLI: how long 'dead' must last to be final")
    _follow_arguments(lg)
    ls = sub.add_parser(
        "ls",
        help="list batches (find the IDs to wait on)",
        description="List batches, newest first: a table on a terminal, JSON lines on a pipe.",
        epilog=LS_EXIT_HELP,
    )
    ls.add_argument("--queue", action="append", default=[], help="only this queue (repeatable; DLI only)")
    ls.add_argument("--state", default="", help=f"only batches in this state: {', '.join(states.KNOWN)}")
    ls.add_argument("--name", default="", metavar="PATTERN", help="job name pattern, e.g. 'etl-*'")
    ls.add_argument("--owner", default="", help="only batches of this owner")
    ls.add_argument(
        "--since", default="", metavar="TIME", help="created since: RFC 3339, or a duration back (2h; DLI only)"
    )
    ls.add_argument("--limit", type=_positive, default=50, help="at most N batches (default 50)")
    ls.add_argument("--json", action="store_true", default=None, help="JSON lines even on a terminal")
    add_target_arguments(ls)


LS_EXIT_HELP = """exit codes: 0 listed (perhaps nothing), 1 a bug (please report it), 2 config, a bad filter or
credentials rejected, 7 the API gave no usable answer once the retries were spent, 130 interrupted"""


def _follow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=duration, default=5.0, help="poll interval (default 5s)")
    _unreachable_argument(parser)
    add_record_argument(parser)
    add_target_arguments(parser)


def _unreachable_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--unreachable-timeout",
        type=duration,
        default=120.0,
        metavar="DURATION",
        help="exit 7 once the API has given no usable answer this long in a row; 0 waits for ever (default 2m)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the one-shot command ``args`` names; Ctrl-C stops it cleanly with exit 130."""
    cfg = target_config(args, os.environ)
    commands: dict[str, Callable[[argparse.Namespace, Config], int]] = {"wait": _wait, "logs": _logs, "ls": _ls}
    try:
        return commands[args.command](args, cfg)
    except ApiError as exc:
        return api_failure(exc, cfg, _subject(args), sys.stderr)
    except KeyboardInterrupt:
        # the progress line may still be on the terminal
        sys.stderr.write(("\r\x1b[K" if sys.stderr.isatty() else "") + "dli-watcher: interrupted\n")
        return EXIT_INTERRUPTED


def _subject(args: argparse.Namespace) -> str:
    """What a failure is about: the batch `logs` reads, or the listing."""
    return str(args.batch_id) if args.command == "logs" else "ls"


def api_failure(exc: ApiError, cfg: Config, subject: str, err: TextIO) -> int:
    """One line on ``err`` for an API call that failed for good, and the exit code: 2, 5 or 7."""
    where = f"{printable(subject)}: {printable(cfg.api.endpoint)}"
    if rejected(exc):
        err.write(f"dli-watcher: {where}: credentials rejected (auth.method {cfg.auth.method}): ")
        err.write(f"{printable(exc.message)}\n")
        return 2
    if isinstance(exc, NotFoundError):
        err.write(f"dli-watcher: {where}: not found ({printable(exc.message)})\n")
        return 5
    tries = f" after {exc.attempts} attempts" if exc.attempts > 1 else ""
    err.write(f"dli-watcher: {where}: no usable answer{tries} ({exc.reason}: {printable(exc.message)})\n")
    return EXIT_UNREACHABLE


def _polling(cfg: Config, interval: float) -> Config:
    return replace(cfg, watch=replace(cfg.watch, interval_seconds=max(interval, 0.05)))


def _options(args: argparse.Namespace, cfg: Config) -> WaitOptions:
    grace = cfg.watch.terminal_grace_seconds if args.grace is None else args.grace
    ids = getattr(args, "batch_ids", None) or [args.batch_id]
    recorder = open_recorder(cfg, target_document(cfg, ids), args.record) if args.record else None
    return WaitOptions(timeout=args.timeout, grace=grace, unreachable=args.unreachable_timeout, recorder=recorder)


def _wait(args: argparse.Namespace, cfg: Config) -> int:
    opts = replace(_options(args, cfg), json=args.json, quiet=args.quiet)
    ids = list(dict.fromkeys(args.batch_ids))
    return anyio.run(partial(wait, _polling(cfg, args.interval), ids, opts, sys.stdout, sys.stderr))


def _logs(args: argparse.Namespace, cfg: Config) -> int:
    opts = replace(_options(args, cfg), logs_only=True, streams=frozenset(args.stream or ()), raw=args.raw)
    cfg = _polling(cfg, args.interval)
    if args.follow:
        return anyio.run(partial(wait, cfg, [args.batch_id], opts, sys.stdout, sys.stderr))
    return anyio.run(partial(logs, cfg, args.batch_id, args.tail, opts, sys.stdout, sys.stderr))


def _ls(args: argparse.Namespace, cfg: Config) -> int:
    _check_filters(args, cfg)
    try:
        after = since_ms(args.since, time.time()) if args.since else None
    except ValueError as exc:
        raise ConfigError("--since", str(exc)) from None
    wanted = ListFilter(
        queues=tuple(args.queue),
        job_name=args.name,
        owner=args.owner,
        created_after_ms=after,
        max_batches=args.limit,
        state=args.state,
    )
    policy = WatchedPolicy(cfg.api, cfg.watch.concurrency)
    write_listing(anyio.run(list_batches, cfg, wanted, policy), sys.stdout, as_json=args.json)
    return 0


def _check_filters(args: argparse.Namespace, cfg: Config) -> None:
    """Filters that would silently match nothing are refused (exit 2) instead."""
    known = [s for s in states.FLAVOR_STATES[cfg.api.flavor] if s != states.UNKNOWN]
    if args.state and states.normalise(args.state) not in known:
        raise ConfigError("--state", f"unknown state {args.state!r}; {cfg.api.flavor} states: {', '.join(known)}")
    if cfg.api.flavor == "livy":
        for flag, given in (("--since", args.since), ("--queue", args.queue)):
            if given:
                raise ConfigError(flag, "Livy batches carry no queue or creation time, so this cannot be answered")
