"""`wait`, `logs` and `ls` end to end: real subprocesses against the simulator, no config file, exit codes."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import simulator
from tests.schemas import assert_valid
from watcher.simulator import SimAuth

if TYPE_CHECKING:
    from collections.abc import Callable

    from watcher.simulator import SimServer

FAST = ["--interval", "0.2"]


def target_env(server: SimServer, **extra: str) -> dict[str, str]:
    """The environment a CI job would set: endpoint, project, flavor, auth; no config file anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "HTTP", "HUAWEICLOUD"))}
    env.update(
        DLI_WATCHER_ENDPOINT=server.url,
        DLI_WATCHER_PROJECT_ID=server.world.project_id,
        DLI_WATCHER_FLAVOR=server.world.flavor,
        DLI_WATCHER_AUTH="none",
        DLI_WATCHER_CONFIG="/nonexistent/config.toml",
    )
    env.update(extra)
    return env


def cli(server: SimServer, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    """Run ``dli-watcher ARGS`` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        env=env or target_env(server),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def polled(server: SimServer, more: int = 2) -> None:
    """Block until the simulator has answered ``more`` further details requests (30 s at most)."""
    seen = server.requests["details"]
    deadline = time.monotonic() + 30
    while server.requests["details"] < seen + more and time.monotonic() < deadline:
        time.sleep(0.02)


def in_step(server: SimServer, *steps: Callable[[], object]) -> threading.Thread:
    """Change the world one step per poll the command makes, so it sees every step whatever its start-up costs."""

    def play() -> None:
        polled(server)  # the command has started following
        for step in steps:
            step()
            polled(server)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def events(stdout: str) -> list[dict[str, Any]]:
    """The JSON event lines of a `wait --json`."""
    return [json.loads(line) for line in stdout.splitlines()]


def lines_of(stdout: str, bid: str) -> list[str]:
    """The log lines `wait --json` printed for ``bid``, in order."""
    return [e["line"] for e in events(stdout) if e.get("batch_id") == bid and e["event"] == "batch.log"]


# --- ls -------------------------------------------------------------------------------------------------


def read_all(fd: int) -> bytes:
    """Everything written to a pty until its other end closes."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the writer is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_wait_prints_history_and_every_later_line_once_and_exits_0():
    """Lines before the wait come from the log endpoint; a burst far past the window arrives whole, once."""
    with simulator("dli", stdout_cap=5000) as server:
        world = server.world
        bid = world.add_batch(name="etl", state="running")
        world.append_stdout(bid, [f"early {n}" for n in range(30)])
        in_step(
            server,
            lambda: world.append_stdout(bid, [f"burst {n}" for n in range(200)]),
            lambda: world.set_state(bid, "success"),
        )
        done = cli(server, "wait", bid, "--json", *FAST)
        truth = world.truth_lines(bid, "stdout")
    assert done.returncode == 0, done.stderr
    assert lines_of(done.stdout, bid) == truth
    assert_valid("json", done.stdout.splitlines())  # the daemon's event schema, history lines included
    seqs = [e["seq"] for e in events(done.stdout) if e.get("batch_id") == bid]
    assert seqs == list(range(1, len(seqs) + 1))
    assert f"{bid}: succeeded" in done.stderr


@pytest.mark.parametrize(
    ("flavor", "final", "code"), [("dli", "dead", 3), ("livy", "dead", 3), ("livy", "error", 3), ("livy", "killed", 4)]
)
def test_wait_exit_code_per_outcome(flavor, final, code):
    """A failed batch exits 3, a killed one 4; only DLI's dead is held for its grace, and one line says so."""
    with simulator(flavor) as server:
        bid = server.world.add_batch(name="job", state="running")
        # once the command follows it: a batch first seen dead long enough ago is final at once
        in_step(server, lambda: server.world.set_state(bid, final))
        done = cli(server, "wait", bid, "--grace", "0.5s", *FAST)
    assert done.returncode == code, done.stderr
    holding = [line for line in done.stderr.splitlines() if "auto-recovery" in line]
    expected = [f"dli-watcher: {bid}: dead; waiting up to 0.5 s in case DLI's auto-recovery revives it"]
    assert holding == (expected if flavor == "dli" else [])


def test_a_dli_revival_inside_the_grace_ends_in_success():
    """A revival (dead, recovering, success) within the grace is one success: exit 0."""
    with simulator("dli") as server:
        world = server.world
        bid = world.add_batch(name="job", state="running")
        in_step(
            server,
            lambda: world.set_state(bid, "dead"),
            lambda: world.set_state(bid, "recovering"),
            lambda: world.set_state(bid, "success"),
        )
        done = cli(server, "wait", bid, "--grace", "10s", "--json", *FAST)
    assert done.returncode == 0, done.stderr
    states = [e["to_state"] for e in events(done.stdout) if e["event"] == "batch.state_changed"]
    assert states == ["dead", "recovering", "success"]


def test_two_batches_with_mixed_outcomes_and_an_unknown_one():
    """Several IDs: exits once all are final, with the most severe outcome (failed before not found)."""
    with simulator("dli") as server:
        world = server.world
        good = world.add_batch(name="good", state="running")
        bad = world.add_batch(name="bad", state="running")
        missing = "99999999-9999-4999-8999-999999999999"
        in_step(server, lambda: world.set_state(good, "success"), lambda: world.set_state(bad, "dead"))
        done = cli(server, "wait", good, bad, missing, "--grace", "0.3s", *FAST)
    assert done.returncode == 3, done.stderr
    assert f"{good}: succeeded" in done.stderr and f"{bad}: failed" in done.stderr
    # the API's own answer is shown: a wrong project reads exactly like this
    assert f"{missing}: not found (400 DLI.0002: " in done.stderr


def test_not_found_exits_5_and_timeout_exits_6():
    """An unknown ID is 5; a batch still running at --timeout is 6."""
    with simulator("dli") as server:
        running = server.world.add_batch(name="slow", state="running")
        missing = cli(server, "wait", "99999999-9999-4999-8999-999999999999", *FAST)
        timed_out = cli(server, "wait", running, "--timeout", "1.5s", "--quiet", *FAST)
    assert missing.returncode == 5, missing.stderr
    assert timed_out.returncode == 6, timed_out.stderr
    assert timed_out.stdout == "" and timed_out.stderr == ""


def test_bad_credentials_exit_2_with_one_line():
    """Credentials the API refuses end the wait at once: exit 2, one line naming the auth setting."""
    with simulator("dli", SimAuth(mode="token", tokens=["right"])) as server:
        bid = server.world.add_batch(name="job", state="running")
        done = cli(server, "wait", bid, *FAST, env=target_env(server, DLI_WATCHER_AUTH="token", DLI_TOKEN="wrong"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "auth.method" in lines[0] and "rejected" in lines[0]


def test_sigint_stops_a_wait_cleanly_with_130():
    """Ctrl-C: exit 130, one line, no traceback."""
    with simulator("dli") as server:
        bid = server.world.add_batch(name="job", state="running")
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "wait", bid, *FAST],
            env=target_env(server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        polled(server)  # it is following the batch
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err


def test_logs_prints_a_2000_line_log_exactly_and_its_tail():
    """Paged through the log endpoint: every stdout line, in order; --tail keeps the last N."""
    with simulator("dli", stdout_cap=5000) as server:
        bid = server.world.add_batch(name="big", state="running")
        server.world.append_stdout(bid, [f"line {n:04d}" for n in range(2000)])
        whole = cli(server, "logs", bid, "--stream", "stdout")
        tail = cli(server, "logs", bid, "--stream", "stdout", "--tail", "5")
        labelled = cli(server, "logs", bid)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.splitlines() == [f"line {n:04d}" for n in range(2000)]
    assert tail.stdout.splitlines() == [f"line {n:04d}" for n in range(1995, 2000)]
    assert labelled.stdout.splitlines()[0] == "==> stdout <=="


def test_logs_without_a_log_endpoint_shows_the_window_and_says_so():
    """When the log endpoint cannot be read, the details window is printed and the note names what is missing."""
    with simulator("dli") as server:
        bid = server.world.add_batch(name="job", state="running")
        server.world.append_stdout(bid, [f"l{n}" for n in range(30)])
        server.world.inject("log_endpoint_down", bid, None)
        done = cli(server, "logs", bid, "--stream", "stdout")
    assert done.returncode == 0, done.stderr
    shown = done.stdout.splitlines()
    # the 10-line window also holds the stderr and diagnostics markers: the last 8 stdout lines
    assert shown == [f"l{n}" for n in range(22, 30)]
    assert "earlier ones are missing" in done.stderr


def test_logs_follow_continues_until_the_end():
    """--follow prints the log so far, then new lines once each, and exits like wait."""
    with simulator("dli") as server:
        world = server.world
        bid = world.add_batch(name="job", state="running")
        world.append_stdout(bid, ["before"])
        in_step(
            server, lambda: world.append_stdout(bid, ["after 1", "after 2"]), lambda: world.set_state(bid, "success")
        )
        done = cli(server, "logs", bid, "--follow", "--stream", "stdout", *FAST)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["before", "after 1", "after 2"]


def test_ls_filters_by_queue_state_name_and_owner():
    """Only batches matching every filter are listed, newest first, as JSON lines on a pipe."""
    with simulator("dli") as server:
        world = server.world
        wanted = world.add_batch(name="etl-daily", queue="q1", owner="ops", state="running")
        world.add_batch(name="etl-daily", queue="q2", owner="ops", state="running")
        world.add_batch(name="ml-train", queue="q1", owner="ops", state="running")
        world.add_batch(name="etl-hourly", queue="q1", owner="ops", state="success")
        world.add_batch(name="etl-other", queue="q1", owner="someone", state="running")
        done = cli(server, "ls", "--queue", "q1", "--state", "running", "--name", "etl-*", "--owner", "ops")
        everything = cli(server, "ls", "--limit", "3")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["batch_id"] for line in done.stdout.splitlines()] == [wanted]
    assert len(everything.stdout.splitlines()) == 3


def test_progress_shows_on_a_terminal_and_never_on_a_pipe():
    """On a TTY stderr a status line updates in place; on a pipe there is none."""
    with simulator("dli") as server:
        world = server.world
        bid = world.add_batch(name="job", state="running")
        primary, secondary = pty.openpty()
        in_step(server, lambda: world.set_state(bid, "success"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "wait", bid, "--quiet", *FAST],
            env=target_env(server),
            stdout=subprocess.DEVNULL,
            stderr=secondary,
        )
        os.close(secondary)
        shown = read_all(primary)
        code = proc.wait(timeout=30)
        piped = cli(server, "wait", bid, *FAST)
    assert code == 0
    assert b"\r\x1b[K" not in shown  # --quiet: nothing at all
    assert "waiting:" not in piped.stderr
    with simulator("dli") as server:
        bid = server.world.add_batch(name="job", state="running")
        primary, secondary = pty.openpty()
        # after two polls, not after a delay: a loaded machine may take longer than any delay to start
        in_step(server, lambda: server.world.set_state(bid, "success"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "wait", bid, *FAST],
            env=target_env(server),
            stdout=subprocess.DEVNULL,
            stderr=secondary,
        )
        os.close(secondary)
        shown = read_all(primary)
        assert proc.wait(timeout=30) == 0
    assert b"\r\x1b[Kwaiting: 1 running" in shown
