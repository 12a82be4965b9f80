"""A stdout reader that stops reading (a stuck log shipper), end to end with a real pipe nobody drains.

The watcher must keep its event loop: /healthz and /metrics answer, polls go on but are held (nothing
is produced that could not be written), the stall is reported, SIGTERM is honoured at once, and with
a state file every event still arrives, once, after the reader comes back or the watcher restarts.
"""

from __future__ import annotations

import fcntl
import io
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config

if TYPE_CHECKING:
    from pathlib import Path

    from watcher.simulator import SimServer


A = "11111111-1111-4111-8111-111111111111"
HELD = "dli_watcher_polls_held_total"
LONG = "y" * 400  # a few of these fill a one-page pipe


def free_port() -> int:
    """A loopback port nobody listens on (so the test need not read stdout to learn the address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_unread(config: Path) -> subprocess.Popen[bytes]:
    """The watcher with its stdout on a one-page pipe that nobody reads yet."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    return proc


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    """Poll ``predicate`` until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def metric(base: str, name: str) -> float:
    """One unlabelled sample from the watcher's /metrics."""
    for line in httpx.get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


def config_for(tmp_path: Path, server: Any, port: int) -> Path:
    """A config with a state file, a tiny output buffer and a known metrics port."""
    return write_config(
        tmp_path / "config.toml",
        server,
        [A],
        state={"path": str(tmp_path / "state.db")},
        events={"format": "json", "buffer_lines": 20},
        metrics={"listen": f"127.0.0.1:{port}"},
    )


def _answers(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def write_bursts(server: SimServer, base: str) -> None:
    """Six bursts of long lines, each read before the next unless polls are held; then wait for a held poll."""
    for burst in range(6):
        read = server.requests["details"]
        server.world.append_stdout(A, [f"b{burst} {n} {LONG}" for n in range(8)])
        wait_until(lambda n=read: server.requests["details"] > n or metric(base, HELD) > 0)
    wait_until(lambda: metric(base, HELD) > 0)


def parse(raw: bytes) -> list[dict[str, Any]]:
    """The JSON events in ``raw`` (a killed reader may leave half a line at the end)."""
    return [json.loads(line) for line in raw.decode().splitlines() if line.endswith("}")]


def check_stream(events: list[dict[str, Any]], truth: list[str]) -> None:
    """Every (batch_id, seq) names one event; its log lines, de-duplicated by key, are exactly the truth."""
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    for e in events:
        if e.get("batch_id") is None:
            continue
        key = (e["batch_id"], e["seq"])
        body = {k: v for k, v in e.items() if k != "timestamp"}
        assert by_key.setdefault(key, body) == body, f"{key} names two different events"
    ordered = [by_key[k] for k in sorted(by_key)]
    assert [k[1] for k in sorted(by_key)] == list(range(1, len(by_key) + 1))
    assert [e["line"] for e in ordered if e["event"] == "batch.log"] == truth


def test_a_stalled_reader_holds_polls_keeps_the_loop_and_catches_up(tmp_path: Path):
    """While nobody reads: health and metrics answer, polls are held; once read again, every line arrives once."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        proc = start_unread(config_for(tmp_path, server, port))
        try:
            wait_until(lambda: _answers(base))
            write_bursts(server, base)
            assert metric(base, "dli_watcher_output_backlog_lines") >= 20
            assert httpx.get(base + "/healthz", timeout=5).status_code == 200
            ready = httpx.get(base + "/readyz", timeout=5)
            assert ready.status_code == 503 and "event output" in ready.text
            chunks: list[bytes] = []
            out = proc.stdout
            assert isinstance(out, io.BufferedReader)
            reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: out.read1(65536), b"")))
            reader.start()
            wait_until(lambda: b"watcher.output_resumed" in b"".join(chunks))
            server.world.append_stdout(A, ["last"])
            server.world.set_state(A, "success")
            wait_until(lambda: b"batch.finished" in b"".join(chunks))
            truth = server.world.truth_lines(A, "stdout")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=20)
        reader.join(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            assert pipe is not None
            pipe.close()
    assert code == 0
    events = parse(b"".join(chunks))
    check_stream(events, truth)
    names = [e["event"] for e in events if e.get("batch_id") is None]
    assert names.count("watcher.output_stalled") == 1 and names.count("watcher.output_resumed") == 1


def test_sigterm_while_nobody_reads_exits_promptly_and_a_restart_delivers_the_rest(tmp_path: Path):
    """A stalled reader cannot keep SIGTERM from working; the events it missed wait in the outbox."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        config = config_for(tmp_path, server, port)
        proc = start_unread(config)
        wait_until(lambda: _answers(base))
        write_bursts(server, base)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        stopped_in = time.monotonic() - started
        assert proc.stdout is not None
        first = parse(proc.stdout.read())
        proc.stdout.close()
        assert proc.stderr is not None
        proc.stderr.close()
        second = WatcherProcess(config)
        server.world.append_stdout(A, ["last"])
        server.world.set_state(A, "success")
        second.wait_for(lambda: second.of(A, "batch.finished"), timeout=30)
        assert second.stop() == 0
        truth = server.world.truth_lines(A, "stdout")
    assert code == 0
    assert stopped_in < 12  # the stop grace is 5 s; before the fix SIGTERM was never handled
    check_stream(first + second.events, truth)
