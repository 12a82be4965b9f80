"""``dli-watcher replay FILE``: a recording's events, offline; ``--check``: does it hold anything like a secret."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import anyio

from watcher.api.recordfile import parse_recording, read_lines
from watcher.core.recordformat import RecordingError
from watcher.core.secretscan import scan
from watcher.daemon.replay import replay, replay_config
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    import argparse
    from typing import TextIO

EXIT_OK, EXIT_DIVERGED, EXIT_REFUSED = 0, 1, 2
FORMATS = ("auto", "json", "readable", "console", "ecs")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``replay`` command."""
    rp = sub.add_parser(
        "replay",
        help="replay a recording offline and print its events; --check: look for secrets before attaching it",
        epilog="exit codes: 0 replayed (check: clean), 1 a divergence (check: findings), 2 unreadable or refused",
    )
    rp.add_argument("file", metavar="FILE", help="a recording made with --record or record.path")
    rp.add_argument("--check", action="store_true", help="list what looks like a secret instead of replaying")
    rp.add_argument("--format", choices=FORMATS, default="json", help="events format (default json)")
    rp.add_argument("--no-color", action="store_true", help="no colours in readable events")


def escaped(text: str) -> str:
    """Text from a recording, safe on any terminal: every control, bidi and non-ASCII character escaped."""
    return json.dumps(text)[1:-1]


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Replay or check; a hostile or unreadable file is refused with one line on stderr (exit 2)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        lines = read_lines(args.file)
        if args.check:
            return _check(lines, out)
        header, items = parse_recording(lines)
        cfg = replay_config(header)
        outcome = anyio.run(replay, header, items)
    except RecordingError as exc:
        err.write(f"dli-watcher: cannot replay {escaped(args.file)}: {escaped(str(exc))}\n")
        return EXIT_REFUSED
    writer = EventWriter.for_format(
        args.format, cfg.events.level, out, env=os.environ, time=cfg.events.time, no_color=args.no_color
    )
    writer.write(outcome.events)
    for divergence in outcome.divergences:
        err.write(f"dli-watcher: replay divergence: {escaped(divergence)}\n")
    if header.continued:
        err.write("dli-watcher: a rotated segment: its first polls depend on an earlier one, not kept\n")
    return EXIT_DIVERGED if outcome.divergences else EXIT_OK


def _check(lines: list[str], out: TextIO) -> int:
    """Each finding on a line of its own; exit 1 when there is one."""
    findings = [f for n, text in enumerate(lines, start=1) for f in scan(text, n)]
    out.writelines(f"line {f.line}: {f.kind}: {escaped(f.start)}\n" for f in findings)
    if not findings:
        out.write(f"clean: nothing that looks like a secret in {len(lines)} lines\n")
    return 1 if findings else EXIT_OK
