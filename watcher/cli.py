"""The ``dli-watcher`` command line: run, check, demo, simulate; maps errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import anyio

from watcher import EARLY_HUPS, __version__, remember_hup
from watcher.config.duration import parse_duration
from watcher.config.settings import Config, default_path, load
from watcher.errors import ConfigError, SetupError
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dli-watcher", description="Watch DLI / Livy Spark batch jobs.")
    parser.add_argument("--version", action="version", version=f"dli-watcher {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the watcher daemon")
    run.add_argument("--config", help="config file (default: $DLI_WATCHER_CONFIG, then /etc/dli-watcher/config.toml)")
    _no_color(run)
    from watcher.commands.record import add_record_argument

    add_record_argument(run)
    run.add_argument(
        "--web-config-file",
        help="TLS and basic auth for the endpoints (exporter-toolkit format); overrides metrics.web_config_file",
    )
    check = sub.add_parser("check", help="the preflight: validate the config, check what run needs, read each batch")
    check.add_argument("--config", help="config file")
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
    from watcher.commands.replay import add_parser as add_replay

    add_replay(sub)
    demo = sub.add_parser("demo", help="run a scripted story against the built-in simulator")
    demo.add_argument("--forever", action="store_true", help="keep running after the story ends")
    demo.add_argument("--listen", default="127.0.0.1:0", help="metrics address (default: a free loopback port)")
    demo.add_argument("--json", action="store_true", help="print JSON events instead of readable lines")
    _no_color(demo)
    from watcher.simulator.cli import add_arguments

    add_arguments(sub.add_parser("simulate", help="run the DLI/Livy simulator alone"))
    return parser


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


def _load(path: str | None, web_config_file: str | None = None) -> Config:
    cfg = load(path or default_path(os.environ))
    if web_config_file is None:
        return cfg
    # like an exporter's --web.config.file: a deployment can add TLS without editing the config file
    return replace(cfg, metrics=replace(cfg.metrics, web_config_file=web_config_file))


def process_settings() -> None:
    """What a watcher process sets for itself, once, here at the entry rather than inside the daemon."""
    # a scrape renders in a worker thread; a short switch interval lets the loop get the GIL back quickly
    sys.setswitchinterval(0.001)
    # httpx logs every request at INFO through stdlib logging; the event stream is ours alone
    for name in ("httpx", "httpcore", "hpack"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _run(args: argparse.Namespace) -> int:
    from watcher.daemon.app import Daemon

    cfg = _load(args.config, args.web_config_file)
    process_settings()
    writer = EventWriter.for_format(
        cfg.events.format, cfg.events.level, env=os.environ, time=cfg.events.time, no_color=args.no_color
    )
    from watcher.commands.record import open_recorder
    from watcher.config.settings import read_document

    recorder = open_recorder(cfg, read_document(args.config or default_path(os.environ)), args.record)
    load_again = partial(_load, args.config, args.web_config_file)
    daemon = Daemon(cfg, load_again, os.environ, writer=writer, recorder=recorder)
    anyio.run(partial(daemon.run, reload_pending=lambda: bool(EARLY_HUPS)))
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
    return " ".join(text.split("\n")).replace("\r", " ").strip()


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
    "replay": _replay,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run a command; config errors exit 2 with one line, no traceback."""
    # the package installed this already unless SIGHUP was not at its default (e.g. ignored by nohup)
    signal.signal(signal.SIGHUP, remember_hup)
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"dli-watcher: config error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except SetupError as exc:
        print(f"dli-watcher: cannot start: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_OK
