"""Terminal-safe text: one escaping for every human-facing output, tried on every unsafe class, in process."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest

from tests.helpers import simulator
from watcher import cli
from watcher.commands.check import Report, render_table
from watcher.commands.listing import render_table as ls_table
from watcher.commands.preflight import Finding
from watcher.core.events import Event
from watcher.core.model import Snapshot
from watcher.core.printable import printable, raw_line
from watcher.output.readable import ReadableRenderer

if TYPE_CHECKING:
    from watcher.simulator import SimServer

# one character of every class that must never reach a terminal raw, with its escape
UNSAFE = {
    "\x00": "\\x00",
    "\x07": "\\x07",
    "\n": "\\x0a",
    "\r": "\\x0d",
    "\x1b": "\\x1b",
    "\x1f": "\\x1f",
    "\x7f": "\\x7f",
    "\x85": "\\x85",
    "\x9b": "\\x9b",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
    "\u200e": "\\u200e",
    "\u200f": "\\u200f",
    "\u202a": "\\u202a",
    "\u202e": "\\u202e",
    "\u2066": "\\u2066",
    "\u2069": "\\u2069",
}
EVIL = "a" + "".join(UNSAFE) + "\tb"
# what the escapes look like once printed: the evil text, every unsafe character spelled out, TAB kept
SHOWN = "a" + "".join(UNSAFE.values()) + "\tb"
# an OSC 52 clipboard write, a screen clear and a forged journald emergency line, as a log could carry them
ATTACKS = ("\x1b]52;c;ZXZpbA==\x07", "\x1b[2J\x1b[H", "ok\n<0>forged emergency")


def assert_safe(text: str) -> None:
    """No unsafe character at all: only newlines that end output lines, and TAB."""
    for line in text.split("\n"):
        assert printable(line) == line, repr(line)


def test_printable_escapes_every_class_and_keeps_tab():
    """C0 but TAB, DEL, C1, U+2028/9, bidi marks, embeddings, overrides, isolates: escaped; the rest untouched."""
    assert printable(EVIL) == SHOWN
    assert printable("\tat org.apache.spark.Foo(Foo.java:1)") == "\tat org.apache.spark.Foo(Foo.java:1)"
    assert printable("naïve 日本 \u200d") == "naïve 日本 \u200d"  # ordinary Unicode stays as it is
    assert printable("\ud83d") == "\ufffd"  # a lone surrogate cannot be written at all
    for attack in ATTACKS:
        assert "\x1b" not in printable(attack) and "\n" not in printable(attack)


def test_raw_lines_keep_everything_but_line_breaks_and_escapes():
    """``logs --raw``: the text as it is, except CR, LF and ESC, which never go out."""
    assert raw_line("a\x07b\u202ec\td") == "a\x07b\u202ec\td"
    assert raw_line("a\rb\nc\x1b[2J") == "a\\x0db\\x0ac\\x1b[2J"


def test_readable_events_escape_the_job_name_the_state_and_the_line():
    """`run`'s readable lines: name, state and log line shown escaped, on a pipe as on a terminal."""
    render = ReadableRenderer(color=True)
    fields = {"job_name": EVIL, "queue": "q", "app_id": None}
    log = Event("batch.log", "info", "b1", 1, {**fields, "stream": "stdout", "line": EVIL})
    found = Event("batch.discovered", "info", "b1", 2, {**fields, "state": EVIL})
    for event in (log, found):
        line = render.render(event, "2026-01-01T00:00:00Z")
        assert "\n" not in line
        assert line.count(SHOWN) == 2  # the job name and the line (or the state)
        assert "\x1b" not in line.replace("\x1b[0m", "").replace("\x1b[2m", "").replace("\x1b[1m", "")


def test_checks_table_escapes_what_the_api_said():
    """`check`'s table: a detail from the network and a batch's fields are escaped."""
    report = Report(findings=[Finding("api", "failed", EVIL)])
    table = render_table(report)
    assert SHOWN in table
    assert_safe(table)


def run_cli(capsys: pytest.CaptureFixture[str], server: SimServer, *args: str) -> tuple[int, str, str]:
    """``dli-watcher ARGS`` in process against ``server``, with the environment a CI job has."""
    env = {
        "DLI_WATCHER_ENDPOINT": server.url,
        "DLI_WATCHER_PROJECT_ID": server.world.project_id,
        "DLI_WATCHER_FLAVOR": server.world.flavor,
        "DLI_WATCHER_AUTH": "none",
        "DLI_WATCHER_CONFIG": "/nonexistent/config.toml",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("DLI_", "HUAWEICLOUD"))]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_one_shot_output_escapes_name_state_and_line(capsys):
    """`ls`, `logs` and `wait`'s lines and its end: every escape class, never a raw control character."""
    with simulator("dli") as server:
        world = server.world
        bid = world.add_batch(name=EVIL, queue="q", owner=EVIL, state="running")
        world.append_stdout(bid, [EVIL, *ATTACKS])
        world.set_state(bid, "success")
        listed = run_cli(capsys, server, "ls", "--json")
        logs = run_cli(capsys, server, "logs", bid)
        raw = run_cli(capsys, server, "logs", bid, "--raw", "--stream", "stdout")
        waited = run_cli(capsys, server, "wait", bid, "--interval", "0.1", "--grace", "0")
        world.set_state(bid, EVIL)
        odd = run_cli(capsys, server, "wait", bid, "--interval", "0.1", "--timeout", "1s")
    code, out, err = listed
    assert code == 0, err
    assert json.loads(out)["job_name"] == EVIL  # JSON output is unchanged: JSON escapes it
    code, out, err = logs
    assert code == 0, err
    assert SHOWN in out and "\\x1b]52;c;ZXZpbA==\\x07" in out and "ok\\x0a<0>forged emergency" in out
    assert_safe(out)
    code, out, _ = raw
    assert code == 0
    assert "\x07" in out and "\x1b" not in out and "\r" not in out
    assert out.count("\n") == 1 + len(ATTACKS)  # one output line per log line, whatever it holds
    code, out, err = waited
    assert code == 0, err
    assert SHOWN in out
    assert_safe(out + err)
    code, out, err = odd
    assert code == 6
    assert SHOWN in out  # the state it changed to, in the readable line
    assert_safe(out + err)


def test_ls_table_escapes_every_field():
    """The table a terminal gets from `ls`: the name, owner and state escaped, the columns still one line each."""
    snap = Snapshot("b1", EVIL, EVIL, name=EVIL, queue="q", owner=EVIL)
    table = ls_table([snap])
    assert len(table.splitlines()) == 2
    assert "\\x1b" in table
    assert_safe(table)
