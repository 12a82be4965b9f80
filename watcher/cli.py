"""The ``dli-watcher`` command line: run, check, demo, simulate, wait, logs, ls; maps errors to exit codes.

A person never sees a traceback: every failure is one line on stderr with a documented exit code, and
an exception nobody expected is one line saying it is a bug (exit 1). ``--debug`` (or
``DLI_WATCHER_DEBUG=1``) shows the traceback as well.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import logging
import os
import signal
import sys
import traceback
from functools import partial
from typing import TYPE_CHECKING

import anyio

import watcher  # the package's SIGHUP note, kept from its first line on
from watcher import __version__
from watcher.config.duration import parse_duration
from watcher.config.flags import Flags
from watcher.config.settings import Config, default_path, load, load_all
from watcher.core.printable import printable
from watcher.core.vocabulary import FORMATS, LEVELS
from watcher.errors import ConfigError, SetupError
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2
# what a shell reports for a process SIGPIPE ended: a one-shot command whose reader went away
EXIT_PIPE = 141
EXIT_INTERRUPTED = 130
READERS = frozenset({"wait", "logs", "ls", "completion"})
NO_FLAGS = Flags()


RUN_HELP = """exit codes: 0 stopped (SIGTERM/SIGINT), 1 crashed (one line on stderr, the traceback in the
watcher.crashed event), 2 could not start: config, credentials file, state file held or unusable,
port busy, stdout closed or the disk full"""
CHECK_HELP = """exit codes: 0 everything run needs is there, 1 a check failed (see the table), 2 the config
is invalid or the credentials were rejected"""
BUG = "this is a bug in dli-watcher {version}; please report it to the dli-watcher issue tracker with this line"


def parser() -> argparse.ArgumentParser:
    """The whole command line, also the source of the shell completion scripts."""
    parser = argparse.ArgumentParser(
        prog="dli-watcher",
        description="Watch DLI / Livy Spark batch jobs.",
        epilog="exit codes: see each command's --help; 1 is always a bug, 2 always config or credentials",
    )
    parser.add_argument("--version", action="version", version=f"dli-watcher {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error (also: DLI_WATCHER_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the watcher daemon",
        description="Run the watcher: poll the batches, write events on stdout, serve /metrics.",
        epilog=RUN_HELP,
    )
    run.add_argument(
        "--config",
        help="config file (default: $DLI_WATCHER_CONFIG, then /etc/dli-watcher/config.toml)",
    )
    _no_color(run)
    _exporter_flags(run)
    from watcher.commands.record import add_record_argument

    add_record_argument(run)
    check = sub.add_parser(
        "check",
        help="the preflight: validate the config, check what run needs, read each batch",
        description="Validate the config, check everything `run` needs (secrets, files, port, API), read each batch.",
        epilog=CHECK_HELP,
    )
    check.add_argument("--config", help="config file (default: $DLI_WATCHER_CONFIG, then /etc/dli-watcher/config.toml)")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.add_argument(
        "--offline", action="store_true", help="validate the file alone: no secrets, files or network (for CI)"
    )
    check.add_argument(
        "--deadline",
        type=_duration,
        help="the most the network checks may take, e.g. 30s (default: 3 x api.timeout_seconds)",
    )
    from watcher.commands.oneshot import add_parsers

    add_parsers(sub)
    from watcher.commands import shipped

    shipped.add_parsers(sub)
    from watcher.commands.replay import add_parser as add_replay

    add_replay(sub)
    demo = sub.add_parser("demo", help="run a scripted story against the built-in simulator")
    demo.add_argument("--forever", action="store_true", help="keep running after the story ends")
    demo.add_argument("--listen", default="127.0.0.1:0", help="metrics address (default: a free loopback port)")
    demo.add_argument("--json", action="store_true", help="print JSON events instead of readable lines")
    _no_color(demo)
    from watcher.simulator.cli import add_arguments

    add_arguments(sub.add_parser("simulate", help="run the DLI/Livy simulator alone"))
    done = sub.add_parser("completion", help="print a shell completion script: bash or zsh")
    done.add_argument("shell", choices=("bash", "zsh"))
    for command in sub.choices.values():  # after the command too; SUPPRESS keeps one given before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _exporter_flags(run: argparse.ArgumentParser) -> None:
    """The Prometheus exporter-toolkit's flag names beside ours: each beats its config key."""
    run.add_argument(
        "--web-config-file",
        "--web.config.file",
        dest="web_config_file",
        help="TLS and basic auth for the endpoints (exporter-toolkit format); overrides metrics.web_config_file",
    )
    run.add_argument(
        "--web.listen-address", dest="listen", metavar="HOST:PORT", help="where to serve; overrides metrics.listen"
    )
    run.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="serve POST /-/reload; sets metrics.enable_lifecycle",
    )
    run.add_argument(
        "--log.level", dest="level", choices=(*LEVELS, "warn"), help="overrides events.level (warn means warning)"
    )
    run.add_argument("--log.format", dest="format", choices=FORMATS, help="overrides events.format")


def _no_color(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--no-color", action="store_true", help="no colours in readable events (also: a non-empty NO_COLOR)"
    )


def _duration(text: str) -> float:
    """A ``--deadline``: seconds, or a duration such as ``45s`` or ``2m``."""
    try:
        seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return seconds


def _load(path: str | None, flags: Flags = NO_FLAGS) -> Config:
    return flags.apply(load(path or default_path(os.environ)))


def _load_at_start(path: str | None, flags: Flags) -> Config:
    """The config ``run`` starts with: every problem in it reported at once (as ``check --offline`` does)."""
    cfg, problems = load_all(path or default_path(os.environ), os.environ)
    if len(problems) > 1:
        raise ConfigProblemsError(problems)
    if problems:
        raise problems[0]
    return flags.apply(cfg)


class ConfigProblemsError(Exception):
    """More than one config problem, each reported on a line of its own."""

    def __init__(self, problems: list[ConfigError]) -> None:
        super().__init__(f"{len(problems)} config problems")
        self.problems = problems


def process_settings() -> None:
    """What a watcher process sets for itself, once, here at the entry rather than inside the daemon."""
    # a scrape renders in a worker thread; a short switch interval lets the loop get the GIL back quickly
    sys.setswitchinterval(0.001)
    # httpx logs every request at INFO through stdlib logging; the event stream is ours alone
    for name in ("httpx", "httpcore", "hpack"):
        logging.getLogger(name).setLevel(logging.WARNING)


def settle_heap() -> None:
    """Once the first cycle is done, keep what it left alive out of the cyclic collector's full passes.

    Every cycle makes a new track per batch, and those promote to the oldest generation, whose full
    collections walked every object the fleet holds (~5% of the CPU of steady list cycles at 20,000
    batches, timed with a gc callback). Frozen, the start's objects are skipped; the start's cyclic
    garbage is collected first, as a frozen object is never collected as part of a cycle. Once per process.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def _run(args: argparse.Namespace) -> int:
    from watcher.daemon.app import Daemon

    flags = Flags.of(args)
    cfg = _load_at_start(args.config, flags)
    process_settings()
    writer = EventWriter.for_format(
        cfg.events.format, cfg.events.level, env=os.environ, time=cfg.events.time, no_color=args.no_color
    )
    from watcher.commands.record import open_recorder
    from watcher.config.settings import read_document

    recorder = open_recorder(cfg, read_document(args.config or default_path(os.environ)), args.record)
    reread = partial(_load, args.config, flags)
    daemon = Daemon(cfg, reread, os.environ, writer=writer, recorder=recorder, after_start=settle_heap)
    anyio.run(partial(daemon.run, reload_pending=lambda: bool(watcher.EARLY_HUPS)))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from watcher.commands import check

    path = args.config or default_path(os.environ)
    cfg, problems = check.validate(path, os.environ, offline=args.offline)
    if problems:
        if args.json:
            print(check.render_problems_json(problems))
        for problem in problems:  # every one, one line each
            print(f"dli-watcher: config error: {_one_line(str(problem))}", file=sys.stderr)
        return EXIT_CONFIG
    if args.offline:
        report = check.offline_report(cfg, path)
    else:
        deadline = args.deadline or 3 * cfg.api.timeout_seconds
        report = anyio.run(partial(check.check, cfg, path, deadline=deadline, env=os.environ))
    print(check.render_json(report) if args.json else check.render_table(report))
    refused = check.auth_failure(report)
    if refused is not None:
        reason = _one_line(refused.message)
        print(f"dli-watcher: credentials rejected (auth.method {cfg.auth.method}): {reason}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK if report.ok else EXIT_ERROR


def _demo(args: argparse.Namespace) -> int:
    from watcher.commands.demo import run_demo

    process_settings()
    return run_demo(forever=args.forever, listen=args.listen, json_events=args.json, no_color=args.no_color)


def _simulate(args: argparse.Namespace) -> int:
    from watcher.simulator.cli import run

    return run(args)


def _one_line(text: str) -> str:
    """Messages from config keys or servers may hold newlines; stderr gets exactly one line."""
    return printable(" ".join(text.split("\n")).replace("\r", " ").strip())


def _completion(args: argparse.Namespace) -> int:
    import shtab

    print(shtab.complete(parser(), shell=args.shell))
    return EXIT_OK


def _shipped(args: argparse.Namespace) -> int:
    from watcher.commands import shipped

    return shipped.run(args)


def _replay(args: argparse.Namespace) -> int:
    from watcher.commands import replay

    return replay.run(args)


def _oneshot(args: argparse.Namespace) -> int:
    from watcher.commands import oneshot

    return oneshot.run(args)


COMMANDS = {
    "run": _run,
    "check": _check,
    "demo": _demo,
    "simulate": _simulate,
    "wait": _oneshot,
    "logs": _oneshot,
    "ls": _oneshot,
    "config": _shipped,
    "completion": _completion,
    "replay": _replay,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run a command: every failure one line on stderr and an exit code, never a traceback."""
    # the package installed this already unless SIGHUP was not at its default (e.g. ignored by nohup)
    signal.signal(signal.SIGHUP, watcher.remember_hup)
    args = _arguments(argv)
    if isinstance(args, int):
        return args
    if sys.stdout is None:  # started with stdout closed (`>&-`): Python did not even make a stream for it
        _say("cannot write to stdout: it is closed")
        return EXIT_CONFIG
    debug = args.debug or os.environ.get("DLI_WATCHER_DEBUG", "") not in ("", "0")
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the one place every failure becomes a line and an exit code
        leaf = _leaf(exc)
        if isinstance(leaf, BrokenPipeError) and args.command in READERS:
            _stdout_closed(leaf)
            return EXIT_PIPE  # `logs | head`: the reader has what it wanted, as with any Unix tool
        return _failed(leaf, debug=debug)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed command line, or the exit code when there is no command to run."""
    try:
        cli = parser()  # imports most of the watcher: a Ctrl-C may well land here
        args = cli.parse_args(argv)
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    if args.command is None:
        cli.print_help(sys.stderr)
        return EXIT_CONFIG
    return args


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside task groups that hold only one (anyio wraps what a task raises)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _failed(exc: BaseException, *, debug: bool) -> int:
    """One line on stderr for ``exc`` (and its traceback with --debug); the exit code."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, ConfigError):
        _say(f"config error: {exc}")
        return EXIT_CONFIG
    if isinstance(exc, ConfigProblemsError):
        for problem in exc.problems:  # every one, one line each, as check --offline prints them
            _say(f"config error: {problem}")
        return EXIT_CONFIG
    if isinstance(exc, SetupError):
        _say(f"cannot start: {exc}")
        return EXIT_CONFIG
    if isinstance(exc, BrokenPipeError | ValueError) and _stdout_closed(exc):
        _say("cannot write to stdout: it is closed")
        return EXIT_CONFIG
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        _say(f"cannot write: {exc.strerror} ({exc.filename or 'stdout'})")
        return EXIT_CONFIG
    _say(f"{BUG.format(version=__version__)}: {type(exc).__name__}: {exc}")
    return EXIT_ERROR


def _stdout_closed(exc: BaseException) -> bool:
    """A write to a closed pipe or a closed stdout (``ValueError: I/O operation on closed file``)."""
    if isinstance(exc, BrokenPipeError):
        # what is left in stdout's buffer would fail again at exit: point it at nothing
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return True
    return sys.stdout.closed or "closed file" in str(exc)


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr gone as well: the exit code is all that is left
        print(f"dli-watcher: {_one_line(text)}", file=sys.stderr, flush=True)
