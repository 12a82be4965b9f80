"""The real daemon as a subprocess: restarts without repeats, crashes without losses, signals, systemd notify."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
# fields that carry wall-clock times or generated IDs, which differ between two runs of the same story
# (and the message, a sentence made of the other fields)
VOLATILE = {
    "timestamp",
    "message",
    "previous_state_seconds",
    "duration_seconds",
    "update_time",
    "create_time",
    "failed_seconds",
    "app_id",
}


def normalise(events):
    """Per batch, in seq order, without wall-clock fields: what downstream de-duplication sees."""
    out = []
    for e in events:
        if not e.get("batch_id"):
            continue
        fields = {k: v for k, v in e.items() if k not in VOLATILE}
        if "changes" in fields:
            fields["changes"] = sorted(fields["changes"])
        out.append(fields)
    return sorted(out, key=lambda e: (e["batch_id"], e["seq"]))


def has_line(line):
    return lambda proc: any(e.get("line") == line for e in proc.events)


def has_state(bid, state):
    return lambda proc: any(e.get("to_state") == state for e in proc.of(bid))


BEFORE = [
    (lambda w: w.set_state(A, "running"), has_state(A, "running")),
    (lambda w: w.append_stdout(A, ["l1", "l2"]), has_line("l2")),
    (lambda w: w.set_state(B, "running"), has_state(B, "running")),
    (lambda w: w.append_stdout(A, ["l3", "l4", "l5"]), has_line("l5")),
]
# more lines than the 10-line window holds: they scroll out while the watcher is down
WHILE_DOWN = lambda w: w.append_stdout(A, [f"l{i}" for i in range(6, 21)])  # noqa: E731 - a story step
AFTER = [
    (lambda w: w.set_state(A, "success"), has_state(A, "success")),
    (lambda w: (w.set_diagnostics(B, ["OOM"]), w.set_state(B, "dead")), has_state(B, "dead")),
]


def play(world, proc, steps):
    for act, done in steps:
        act(world)
        proc.wait_for(lambda d=done: d(proc))


def story(tmp_path: Path, interrupt: signal.Signals | None):
    """Play the story once; with ``interrupt``, stop the watcher midway, change the world, restart it."""
    tmp_path.mkdir()
    with simulator("dli") as server:
        world = server.world
        world.add_batch(A, name="a-job")
        world.add_batch(B, name="b-job")
        config = write_config(tmp_path / "config.toml", server, [A, B], state={"path": str(tmp_path / "state.db")})
        first = WatcherProcess(config)
        first.wait_for(lambda: first.of(A, "batch.discovered") and first.of(B, "batch.discovered"))
        play(world, first, BEFORE)
        procs = [first]
        if interrupt is not None:
            code = first.stop(interrupt)
            assert code == (0 if interrupt == signal.SIGTERM else -signal.SIGKILL), first.stderr
            WHILE_DOWN(world)
            procs.append(WatcherProcess(config))
        else:
            WHILE_DOWN(world)
        play(world, procs[-1], [(lambda _: None, has_line("l20")), *AFTER])
        # two more polls of each batch (within their 5 s grace): what the last change leads to is out
        polled = server.requests["details"]
        procs[-1].wait_for(lambda: server.requests["details"] >= polled + 4)
        assert procs[-1].stop() == 0
        truth = world.truth_lines(A, "stdout")
    return [e for p in procs for e in p.events], truth, [line for p in procs for line in p.raw]


def test_sigterm_and_restart_give_exactly_the_uninterrupted_stream(tmp_path):
    """Stop with SIGTERM midway, change the world while down, restart: no repeats, no losses, seq continues."""
    reference, truth, _ = story(tmp_path / "ref", None)
    interrupted, _, _ = story(tmp_path / "int", signal.SIGTERM)
    assert normalise(interrupted) == normalise(reference)
    assert [e["line"] for e in interrupted if e.get("batch_id") == A and e["event"] == "batch.log"] == truth
    assert [e["event"] for e in interrupted if not e.get("batch_id")] == [
        "watcher.started",
        "watcher.ready",
        "watcher.stopped",
        "watcher.started",
        "watcher.ready",
        "watcher.stopped",
    ]


def test_sigkill_loses_nothing_and_replays_the_same_bytes(tmp_path):
    """After SIGKILL events may repeat, byte for byte as first written; keyed by (batch_id, seq) nothing is lost."""
    reference, truth, _ = story(tmp_path / "ref", None)
    crashed, _, raw = story(tmp_path / "kill", signal.SIGKILL)
    first_seen: dict[tuple[str, int], dict[str, Any]] = {}
    first_written: dict[tuple[str, int], str] = {}
    replays = []
    for e, line in zip(crashed, raw, strict=True):
        if e.get("batch_id"):
            key = (e["batch_id"], e["seq"])
            first_seen.setdefault(key, e)
            if key in first_written:
                replays.append((first_written[key], line))
            first_written.setdefault(key, line)
    assert normalise(first_seen.values()) == normalise(reference)
    lines = {e["line"] for e in crashed if e.get("batch_id") == A and e["event"] == "batch.log"}
    assert lines == set(truth)
    # the last lot before the kill was written but never acknowledged: the restart writes it again
    assert replays
    assert all(again == first for first, again in replays)


def test_sighup_adds_and_removes_batches_and_survives_a_bad_reload(tmp_path):
    """SIGHUP re-reads batch_ids_file: added batches start, removed ones leave /metrics; a bad config is kept out."""
    with simulator("dli") as server:
        world = server.world
        world.add_batch(A, name="a-job", state="running")
        world.add_batch(B, name="b-job", state="running")
        ids = tmp_path / "ids.txt"
        ids.write_text(f"# watched\n{A}\n")
        config = write_config(tmp_path / "config.toml", server, [], watch={"batch_ids_file": str(ids)})
        proc = WatcherProcess(config)
        proc.wait_for(lambda: proc.of(A, "batch.discovered"))
        ids.write_text(f"{B}\n")
        proc.send(signal.SIGHUP)
        proc.wait_for(lambda: proc.of(B, "batch.discovered"))
        reloaded = next(e for e in proc.events if e["event"] == "watcher.reloaded")
        metrics = httpx.get(proc.metrics_url + "/metrics").text
        good = config.read_text()
        config.write_text(good.replace("[watch]", "[watch]\nbogus_key = 1"))
        proc.send(signal.SIGHUP)
        proc.wait_for(lambda: any(e["event"] == "watcher.reload_failed" for e in proc.events))
        world.set_state(B, "success")
        proc.wait_for(lambda: proc.of(B, "batch.finished"))
        assert proc.stop() == 0
    assert (reloaded["added"], reloaded["removed"]) == ([B], [A])
    assert f'batch_id="{B}"' in metrics and f'batch_id="{A}"' not in metrics
    failed = next(e for e in proc.events if e["event"] == "watcher.reload_failed")
    assert failed["key"] == "watch.bogus_key"


def test_systemd_notify_ready_watchdog_stopping(tmp_path):
    """Under $NOTIFY_SOCKET: READY=1 after the first cycle, WATCHDOG=1 from the loop, STATUS=, STOPPING=1."""
    sock_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(sock_path))
    listener.settimeout(10)
    with simulator("dli") as server, listener:
        server.world.add_batch(A, name="a-job", state="running")
        config = write_config(tmp_path / "config.toml", server, [A])
        proc = WatcherProcess(config, env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"})
        messages: list[str] = []
        deadline = time.monotonic() + 10

        def enough() -> bool:
            return sum("WATCHDOG=1" in m for m in messages) >= 3 and any("READY=1" in m for m in messages)

        while time.monotonic() < deadline and not enough():
            messages.append(listener.recv(4096).decode())
        proc.stop()
        while "STOPPING=1" not in messages[-1]:
            messages.append(listener.recv(4096).decode())
    ready = next(i for i, m in enumerate(messages) if "READY=1" in m)
    # the first cycle is done when READY=1 goes out, so the status after it counts the batch as up
    assert any("1 up" in m for m in messages[ready:])
    assert proc.of(A, "batch.discovered")
    assert sum("WATCHDOG=1" in m for m in messages) >= 3
    assert any(line.startswith("STATUS=watching 1 batch,") for m in messages for line in m.splitlines())
    assert "STOPPING=1" in messages[-1]


def test_sigterm_stops_within_seconds_even_with_hanging_requests(tmp_path):
    """With every request hanging, SIGTERM still exits 0 within a few seconds."""
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        config = write_config(tmp_path / "config.toml", server, [A], api={"timeout_seconds": 60})
        proc = WatcherProcess(config)
        proc.wait_for(lambda: proc.of(A, "batch.discovered"))
        server.world.inject("latency", None, None, seconds=60.0)
        asked = server.requests["details"]
        proc.wait_for(lambda: server.requests["details"] > asked)  # a request now hangs in the watcher
        started = time.monotonic()
        code = proc.stop(timeout=15)
        elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 6.0
    assert proc.events[-1]["event"] == "watcher.stopped"


def test_garbage_state_file_is_kept_aside_and_reported(tmp_path):
    """A state file that is not SQLite is moved aside, reported with its new name, and the watcher starts fresh."""
    state = tmp_path / "state.db"
    state.write_bytes(b"this is not a database\n" * 100)
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job")
        config = write_config(tmp_path / "config.toml", server, [A], state={"path": str(state)})
        proc = WatcherProcess(config)
        proc.wait_for(lambda: proc.of(A, "batch.discovered"))
        assert proc.stop() == 0
    reset = next(e for e in proc.events if e["event"] == "watcher.state_reset")
    kept = Path(reset["kept"])
    assert kept.read_bytes().startswith(b"this is not a database")
    assert reset["level"] == "warning" and "unreadable" in reset["reason"]
    assert state.exists() and state.read_bytes()[:15] == b"SQLite format 3"


def test_a_failure_right_after_binding_metrics_ends_the_process(tmp_path):
    """Stdout on /dev/full fails the first event, just after /metrics is bound: exit 2 with one line, never a hang."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[api]\nflavor = "livy"\nendpoint = "http://127.0.0.1:9"\n[watch]\nbatch_ids = ["1"]\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n[events]\nformat = "json"\n'
    )
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "watcher", "run", "--config", str(config)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=20,  # before the fix: alive and silent for good, its port unanswered
            check=False,
        )
    assert done.returncode == 2  # a full disk at start is the environment, as a busy port is (issue 26)
    assert len(done.stderr.splitlines()) == 1 and "No space left on device" in done.stderr, done.stderr


def test_sighup_during_startup_becomes_a_reload_once_started(tmp_path):
    """A SIGHUP before the daemon has started no longer kills it: it is held and acted on as one reload."""
    with simulator("dli") as server:
        bid = server.world.add_batch(name="early", state="running")
        ids = tmp_path / "batch_ids"
        os.mkfifo(ids)
        config = write_config(tmp_path / "config.toml", server, [], watch={"batch_ids_file": str(ids)})
        proc = WatcherProcess(config)
        try:
            # opening a FIFO for writing returns once the reader has it: the watcher is loading its config
            with ids.open("w") as feed:
                proc.send(signal.SIGHUP)
                proc.wait_for(lambda: proc.signal_taken(signal.SIGHUP))  # while the watcher waits on the file
                feed.write(bid + "\n")
            proc.wait_for(lambda: any(e["event"] == "watcher.started" for e in proc.events))
            with ids.open("w") as feed:  # the reload reads the file again
                feed.write(bid + "\n")
            proc.wait_for(lambda: any(e["event"] == "watcher.reloaded" for e in proc.events))
        finally:
            code = proc.stop()
    assert code == 0
    assert [e["event"] for e in proc.events].count("watcher.reloaded") == 1
