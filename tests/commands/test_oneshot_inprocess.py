"""`wait`, `logs` and `ls` in process: `watcher.cli.main` against a simulator in this process, exit codes and output."""

from __future__ import annotations

import io
import json
import os
import socket
import sys
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from tests.helpers import simulator
from watcher.cli import main
from watcher.simulator import SimAuth

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from watcher.simulator import SimServer

FAST = ("--interval", "0.05")
MISSING = "99999999-9999-4999-8999-999999999999"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DLI_*, proxy or Huawei Cloud variable of the outer environment reaches the command; no config file."""
    for name in list(os.environ):
        if name.upper().startswith(("DLI_", "HTTP", "HUAWEICLOUD", "ALL_PROXY", "NO_PROXY")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DLI_WATCHER_CONFIG", "/nonexistent/config.toml")


def target(monkeypatch: pytest.MonkeyPatch, server: SimServer, **extra: str) -> None:
    """The variables a CI job would set for ``server``: endpoint, project, flavor, auth."""
    monkeypatch.setenv("DLI_WATCHER_ENDPOINT", server.url)
    monkeypatch.setenv("DLI_WATCHER_PROJECT_ID", server.world.project_id)
    monkeypatch.setenv("DLI_WATCHER_FLAVOR", server.world.flavor)
    monkeypatch.setenv("DLI_WATCHER_AUTH", "none")
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``dli-watcher ARGV`` in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def polled(server: SimServer, stop: threading.Event, more: int = 2) -> None:
    """Block until the simulator has answered ``more`` further details requests, or ``stop`` is set (20 s at most)."""
    seen = server.requests["details"]
    deadline = time.monotonic() + 20
    while server.requests["details"] < seen + more and time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.01)


@contextmanager
def in_step(server: SimServer, *steps: Callable[[], object]) -> Iterator[None]:
    """Change the world one step per poll the command makes; the stepping thread is joined on the way out."""
    stop = threading.Event()

    def play() -> None:
        polled(server, stop)  # the command has started following
        for step in steps:
            if stop.is_set():
                return
            step()
            polled(server, stop)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()  # the command has ended: no poll is coming
        thread.join(timeout=25)


class Terminal(io.StringIO):
    """A stdout that says it is a terminal, so `ls` prints its table."""

    def isatty(self) -> bool:
        """Always a terminal."""
        return True


# --- ls -------------------------------------------------------------------------------------------------


def test_ls_prints_a_table_on_a_terminal(monkeypatch, capsys):
    """On a terminal: a header row, then one row per batch, newest first."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        older = server.world.add_batch(name="etl-old", queue="q1", owner="ops", state="running")
        newer = server.world.add_batch(name="etl-new", queue="q2", owner="ops", state="success")
        server.world.set_field(older, "create_time", server.world.now_ms() - 60_000)
        screen = Terminal()
        monkeypatch.setattr(sys, "stdout", screen)
        code = main(["ls"])
    rows = screen.getvalue().splitlines()
    assert code == 0, capsys.readouterr().err
    assert rows[0].split() == ["BATCH", "ID", "STATE", "JOB", "NAME", "QUEUE", "OWNER", "CREATED"]
    assert [row.split()[:5] for row in rows[1:]] == [
        [newer, "success", "etl-new", "q2", "ops"],
        [older, "running", "etl-old", "q1", "ops"],
    ]


def test_ls_json_and_the_state_filter(monkeypatch, capsys):
    """--json: one object per line; --state keeps only the batches in that state."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        running = server.world.add_batch(name="a", state="running")
        done = server.world.add_batch(name="b", state="success")
        code, out, err = run(capsys, "ls", "--json")
        only, filtered, _ = run(capsys, "ls", "--json", "--state", "running")
    assert code == 0 and only == 0, err
    listed = [json.loads(line) for line in out.splitlines()]
    assert {(b["batch_id"], b["state"]) for b in listed} == {(running, "running"), (done, "success")}
    assert [json.loads(line)["batch_id"] for line in filtered.splitlines()] == [running]


def test_ls_refuses_an_unknown_state_with_exit_2(monkeypatch, capsys):
    """--state bogus would match nothing: exit 2, one line naming the flag and the flavor's states."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        code, out, err = run(capsys, "ls", "--state", "bogus")
        asked = server.requests["list"]
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--state" in err and "'bogus'" in err and "running" in err
    assert asked == 0  # refused before any request


def test_ls_refuses_filters_that_cannot_be_answered(monkeypatch, capsys):
    """A --since that is no time, and a --queue on Livy (no queues there): exit 2 naming the flag."""
    with simulator("livy") as server:
        target(monkeypatch, server)
        since = run(capsys, "ls", "--since", "yesterday-ish")
        queue = run(capsys, "ls", "--queue", "q1")
    assert since[0] == 2 and "--since" in since[2]
    assert queue[0] == 2 and "--queue" in queue[2] and "Livy" in queue[2]


def test_ls_since_a_duration_back_and_a_since_that_is_no_time(monkeypatch, capsys):
    """DLI --since 1h lists what was created in the last hour; a --since that is no time is exit 2."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        recent = server.world.add_batch(name="new", state="running")
        old = server.world.add_batch(name="old", state="running")
        server.world.set_field(old, "create_time", server.world.now_ms() - 3 * 3600_000)
        code, out, err = run(capsys, "ls", "--json", "--since", "1h")
        bad = run(capsys, "ls", "--since", "yesterday-ish")
    assert code == 0, err
    assert [json.loads(line)["batch_id"] for line in out.splitlines()] == [recent]
    assert bad[0] == 2 and "--since" in bad[2] and "RFC 3339" in bad[2]


def test_ls_with_rejected_credentials_exits_2(monkeypatch, capsys):
    """The list endpoint refusing the token: exit 2, one line naming auth.method."""
    with simulator("dli", SimAuth(mode="token", tokens=["right"])) as server:
        target(monkeypatch, server, DLI_WATCHER_AUTH="token", DLI_TOKEN="wrong")
        code, out, err = run(capsys, "ls")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "credentials rejected (auth.method token)" in err


def test_logs_with_no_api_there_exits_7(monkeypatch, capsys, tmp_path):
    """A config file (--config) with one attempt a call, nothing listening: exit 7, one line naming the endpoint."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nendpoint = "{endpoint}"\nproject_id = "p1"\nmax_attempts = 1\n[auth]\nmethod = "none"\n')
    code, out, err = run(capsys, "logs", MISSING, "--config", str(config))
    assert code == 7, err
    assert out == "" and err.count("\n") == 1 and f"{MISSING}: {endpoint}: no usable answer (" in err


# --- logs -----------------------------------------------------------------------------------------------


def test_logs_prints_every_section_under_its_header(monkeypatch, capsys):
    """Without --stream: the whole log, a ``==> stream <==`` header where each section starts."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        bid = server.world.add_batch(name="job", state="running")
        server.world.append_stdout(bid, ["out 1", "out 2"])
        server.world.append_stderr(bid, ["err 1"])
        code, out, err = run(capsys, "logs", bid)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "==> stdout <=="
    assert lines[1:3] == ["out 1", "out 2"]
    assert lines.index("==> stderr <==") < lines.index("err 1")
    assert lines.count("==> stdout <==") == 1


def test_logs_stream_and_tail(monkeypatch, capsys):
    """--stream stdout: only its lines, no header; --tail 3: the last three of them."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        bid = server.world.add_batch(name="job", state="running")
        server.world.append_stdout(bid, [f"line {n}" for n in range(20)])
        server.world.append_stderr(bid, ["not this"])
        code, out, err = run(capsys, "logs", bid, "--stream", "stdout")
        tail_code, tail, _ = run(capsys, "logs", bid, "--stream", "stdout", "--tail", "3")
    assert code == 0 and tail_code == 0, err
    assert out.splitlines() == [f"line {n}" for n in range(20)]
    assert tail.splitlines() == ["line 17", "line 18", "line 19"]


def test_logs_of_an_unknown_batch_exits_5(monkeypatch, capsys):
    """An ID the API does not know: exit 5, one line quoting the API's answer, nothing on stdout."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        code, out, err = run(capsys, "logs", MISSING)
    assert code == 5 and out == ""
    assert err.count("\n") == 1 and f"{MISSING}: not found (" in err


def test_logs_without_the_log_endpoint_shows_the_window_and_says_so(monkeypatch, capsys):
    """The log endpoint failing: the lines the details carry, and a note that earlier ones are missing."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        bid = server.world.add_batch(name="job", state="running")
        server.world.append_stdout(bid, [f"l{n}" for n in range(30)])
        server.world.inject("log_endpoint_down", bid, None)
        code, out, err = run(capsys, "logs", bid, "--stream", "stdout")
    assert code == 0, err
    assert out.splitlines()[-1] == "l29" and "l0" not in out.splitlines()
    assert "earlier ones are missing" in err


def test_logs_follow_prints_new_lines_until_the_end(monkeypatch, capsys):
    """--follow: the log so far, then each new line once, and the exit code of the outcome."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        world = server.world
        bid = world.add_batch(name="job", state="running")
        world.append_stdout(bid, ["before"])
        with in_step(server, lambda: world.append_stdout(bid, ["after"]), lambda: world.set_state(bid, "success")):
            code, out, err = run(capsys, "logs", bid, "--follow", "--stream", "stdout", *FAST)
    assert code == 0, err
    assert out.splitlines() == ["before", "after"]


# --- wait -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavor", "final", "code", "said"),
    [("dli", "success", 0, "succeeded"), ("livy", "error", 3, "failed"), ("livy", "killed", 4, "killed")],
)
def test_wait_exit_code_per_outcome(monkeypatch, capsys, flavor, final, code, said):
    """Success is 0, failed 3, killed 4; the outcome's line names the batch."""
    with simulator(flavor) as server:
        target(monkeypatch, server)
        bid = server.world.add_batch(name="job", state="running")
        server.world.append_stdout(bid, ["hello"])
        with in_step(server, lambda: server.world.set_state(bid, final)):
            got, out, err = run(capsys, "wait", bid, *FAST)
    assert got == code, err
    assert f"dli-watcher: {bid}: {said}" in err
    assert "hello" in out  # the log so far is printed


def test_wait_json_prints_the_event_schema(monkeypatch, capsys):
    """--json: one event object per line, the state change among them; --quiet prints nothing at all."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        bid = server.world.add_batch(name="job", state="running")
        with in_step(server, lambda: server.world.set_state(bid, "success")):
            code, out, err = run(capsys, "wait", bid, "--json", *FAST)
        quiet = run(capsys, "wait", bid, "--quiet", *FAST)
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    changes = [e["to_state"] for e in events if e["event"] == "batch.state_changed"]
    assert changes[-1] == "success"
    assert quiet == (0, "", "")


def test_wait_not_found_exits_5_and_timeout_exits_6(monkeypatch, capsys):
    """An unknown ID is 5; a batch still running at --timeout is 6."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        running = server.world.add_batch(name="slow", state="running")
        missing = run(capsys, "wait", MISSING, *FAST)
        timed_out = run(capsys, "wait", running, "--timeout", "0.5s", *FAST)
    assert missing[0] == 5, missing[2]
    assert f"{MISSING}: not found (" in missing[2]
    assert timed_out[0] == 6, timed_out[2]
    assert f"{running}: " in timed_out[2]


def test_several_ids_exit_with_the_most_severe_outcome(monkeypatch, capsys):
    """Succeeded, killed and not found: 4, the most severe; each batch gets its line."""
    with simulator("livy") as server:
        target(monkeypatch, server)
        good = server.world.add_batch(name="good", state="running")
        bad = server.world.add_batch(name="bad", state="running")
        with in_step(
            server, lambda: server.world.set_state(good, "success"), lambda: server.world.set_state(bad, "killed")
        ):
            code, _, err = run(capsys, "wait", good, bad, "424242", *FAST)
    assert code == 4, err
    assert f"{good}: succeeded" in err and f"{bad}: killed" in err and "424242: not found" in err


def test_dli_dead_is_held_for_the_grace_then_final(monkeypatch, capsys):
    """DLI's dead is held for --grace (one line says so), then ends the wait as failed: exit 3."""
    with simulator("dli") as server:
        target(monkeypatch, server)
        bid = server.world.add_batch(name="job", state="running")
        with in_step(server, lambda: server.world.set_state(bid, "dead")):
            code, _, err = run(capsys, "wait", bid, "--grace", "0.3s", *FAST)
    assert code == 3, err
    holding = [line for line in err.splitlines() if "auto-recovery" in line]
    assert holding == [f"dli-watcher: {bid}: dead; waiting up to 0.3 s in case DLI's auto-recovery revives it"]
    assert f"{bid}: failed" in err


# --- the API not there, or refusing --------------------------------------------------------------------


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_endpoint_that_never_answers_exits_7(monkeypatch, capsys):
    """Nothing listening: after --unreachable-timeout the wait ends with 7 and one line naming the endpoint."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("DLI_WATCHER_ENDPOINT", endpoint)
    monkeypatch.setenv("DLI_WATCHER_PROJECT_ID", "p1")
    monkeypatch.setenv("DLI_WATCHER_AUTH", "none")
    code, out, err = run(capsys, "wait", MISSING, "--unreachable-timeout", "0.3s", *FAST)
    assert code == 7, err
    assert out == ""
    assert f"no usable answer from {endpoint} for 0.3s in a row" in err and "Traceback" not in err


def test_rejected_credentials_exit_2(monkeypatch, capsys):
    """A token the API refuses (401): exit 2 at once, one line naming auth.method."""
    with simulator("dli", SimAuth(mode="token", tokens=["right"])) as server:
        target(monkeypatch, server, DLI_WATCHER_AUTH="token", DLI_TOKEN="wrong")
        bid = server.world.add_batch(name="job", state="running")
        code, out, err = run(capsys, "wait", bid, *FAST)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "auth.method" in lines[0] and "rejected" in lines[0]
