"""The command line a person meets: usage, help, completion, filters refused, and never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.helpers import simulator
from watcher import cli
from watcher.commands import oneshot
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from watcher.simulator import SimServer

COMMANDS = ("run", "check", "wait", "logs", "ls", "demo", "simulate", "completion")


def main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``dli-watcher ARGS`` in process; exit code, stdout, stderr."""
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse: --help, usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def target(monkeypatch: pytest.MonkeyPatch, server: SimServer | None = None) -> None:
    """The environment of a CI job: the target in DLI_WATCHER_* variables, no config file."""
    for key in [k for k in os.environ if k.startswith(("DLI_", "HUAWEICLOUD"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DLI_WATCHER_CONFIG", "/nonexistent/config.toml")
    monkeypatch.setenv("DLI_WATCHER_AUTH", "none")
    monkeypatch.setenv("DLI_WATCHER_ENDPOINT", server.url if server else "http://127.0.0.1:9")
    monkeypatch.setenv("DLI_WATCHER_PROJECT_ID", server.world.project_id if server else "p1")
    monkeypatch.setenv("DLI_WATCHER_FLAVOR", server.world.flavor if server else "dli")


def test_a_bare_command_prints_the_usage_with_every_command(capsys):
    """`dli-watcher` alone: the usage and the list of commands on stderr, exit 2."""
    code, out, err = main(capsys)
    assert code == 2 and out == ""
    assert err.startswith("usage: dli-watcher")
    for command in COMMANDS:
        assert f"\n    {command}" in err


def test_an_unexpected_error_is_one_line_saying_it_is_a_bug(capsys, monkeypatch):
    """Exit 1 and one line naming the bug; the traceback only with --debug or DLI_WATCHER_DEBUG=1."""
    target(monkeypatch)

    def broken(_: object) -> int:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(oneshot, "run", broken)
    monkeypatch.delenv("DLI_WATCHER_DEBUG", raising=False)
    code, _, err = main(capsys, "ls")
    assert code == 1
    assert err.count("\n") == 1 and "this is a bug in dli-watcher" in err and "something nobody expected" in err
    assert "Traceback" not in err
    code, _, err = main(capsys, "--debug", "ls")
    assert code == 1 and "Traceback" in err and "in broken" in err
    code, _, err = main(capsys, "ls", "--debug")
    assert code == 1 and "Traceback" in err
    monkeypatch.setenv("DLI_WATCHER_DEBUG", "1")
    code, _, err = main(capsys, "ls")
    assert code == 1 and "Traceback" in err


def test_a_reader_that_went_away_ends_a_one_shot_command_silently(capsys, monkeypatch):
    """`logs ID | head`: exit 141 as for any Unix tool, and no line about it."""
    target(monkeypatch)

    def hung_up(_: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(oneshot, "run", hung_up)
    assert main(capsys, "logs", "x") == (141, "", "")


def test_an_error_inside_a_task_group_is_still_one_line(capsys, monkeypatch):
    """Anyio wraps what a task raises: a config error in a group is still exit 2 and one line."""
    target(monkeypatch)

    def grouped(_: object) -> int:
        raise ExceptionGroup("tasks", [ConfigError("auth.method", "credentials rejected")])

    monkeypatch.setattr(oneshot, "run", grouped)
    code, _, err = main(capsys, "wait", "x")
    assert code == 2
    assert err == "dli-watcher: config error: auth.method: credentials rejected\n"


@pytest.mark.parametrize("command", ["run", "check", "wait", "logs", "ls"])
def test_help_gives_a_description_exit_codes_defaults_and_variables(capsys, command):
    """Every command's --help lists its exit codes; the one-shot ones name 7, their defaults and variables."""
    code, out, _ = main(capsys, command, "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "exit codes:" in text and "2 " in text
    if command in ("wait", "logs"):
        assert "7 the API gave no usable answer" in text and "order 3, 4, 5, 7, 6" in text
        assert "--unreachable-timeout" in text and "(default 2m)" in text and "(default 5s)" in text
    if command in ("wait", "logs", "ls"):
        assert "$DLI_WATCHER_ENDPOINT" in text and "$DLI_WATCHER_PROJECT_ID" in text
    if command in ("run", "check"):
        assert "$DLI_WATCHER_CONFIG" in text


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_load_in_their_shell(capsys, tmp_path: Path, shell: str):
    """The scripts come from the parser: every command is offered, and the shell parses the script."""
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell}")
    code, out, _ = main(capsys, "completion", shell)
    assert code == 0
    for command in COMMANDS:
        assert command in out
    assert "--unreachable-timeout" in out
    script = tmp_path / f"dli-watcher.{shell}"
    script.write_text(out, encoding="utf-8")
    assert subprocess.run([shell, "-n", str(script)], check=False).returncode == 0
    if shell == "bash":  # loaded for real: the completion function is registered
        loaded = subprocess.run(
            ["bash", "-c", f"source {script} && complete -p dli-watcher"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert loaded.returncode == 0 and "dli-watcher" in loaded.stdout, loaded.stderr


def test_an_unknown_state_is_refused_with_the_list(capsys, monkeypatch):
    """`ls --state bogus` would match nothing: exit 2, and the states there are."""
    target(monkeypatch)
    code, out, err = main(capsys, "ls", "--state", "bogus")
    assert code == 2 and out == ""
    assert "--state" in err and "running, recovering, success, dead" in err


def test_livy_refuses_since_and_queue_and_filters_by_owner(capsys, monkeypatch):
    """Livy batches carry no queue or creation time: exit 2 saying so; their owner does filter."""
    with simulator("livy") as server:
        mine = server.world.add_batch(name="a", owner="ops", state="running")
        server.world.add_batch(name="b", owner="someone", state="running")
        target(monkeypatch, server)
        since = main(capsys, "ls", "--since", "2h")
        queue = main(capsys, "ls", "--queue", "q1")
        owned = main(capsys, "ls", "--owner", "ops", "--json")
        state = main(capsys, "ls", "--state", "idle", "--json")
    for code, _, err in (since, queue):
        assert code == 2 and "Livy batches carry no queue or creation time" in err
    code, out, err = owned
    assert code == 0, err
    assert [json.loads(line)["batch_id"] for line in out.splitlines()] == [mine]
    assert state[0] == 0 and state[1] == ""  # a Livy state DLI does not have is a valid filter here
