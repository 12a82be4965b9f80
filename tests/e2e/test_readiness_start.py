"""Readiness at start, as systemd and a kubelet see it: READY=1 after the first cycle, 401 exits 2, 403 stays up."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

import httpx

from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config
from tests.schemas import assert_valid
from watcher.simulator.auth import SimAuth

if TYPE_CHECKING:
    from pathlib import Path

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
TYPO = "33333333-3333-4333-8333-333333333334"  # a valid ID no batch has


def notify_listener(path: Path) -> socket.socket:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(20)
    return listener


def receive_until(listener: socket.socket, word: str) -> list[str]:
    """Notifications until one carries ``word`` (the socket's timeout fails the test when none does)."""
    messages = [listener.recv(4096).decode()]
    while word not in messages[-1]:
        messages.append(listener.recv(4096).decode())
    return messages


def pending(listener: socket.socket) -> list[str]:
    """The notifications already sent (the process has exited)."""
    listener.setblocking(False)
    messages = []
    while True:
        try:
            messages.append(listener.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_a_restored_not_found_id_does_not_hold_ready_1(tmp_path):
    """After a restart with a state file, a mistyped ID read as not found last run is not polled before READY=1."""
    state = {"path": str(tmp_path / "state.db")}
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        # the typo's next poll is minutes away: readiness must not wait for it
        watch = {"not_found_interval_seconds": 300}
        config = write_config(tmp_path / "config.toml", server, [A, TYPO], state=state, watch=watch)
        first = WatcherProcess(config)
        first.wait_for(lambda: first.of(TYPO, "batch.not_found") and first.of(A, "batch.discovered"))
        assert first.stop() == 0
        with notify_listener(tmp_path / "notify.sock") as listener:
            second = WatcherProcess(config, env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
            messages = receive_until(listener, "READY=1")
            probe = httpx.get(second.metrics_url + "/readyz", timeout=5)
            assert second.stop() == 0
    ready = next(e for e in second.events if e["event"] == "watcher.ready")
    # the first cycle of the restart is one details poll: the running batch's, not the typo's
    assert ready["details_requests"] == 1
    assert ready["batches"] == 2
    assert any("READY=1" in m for m in messages)
    assert probe.status_code == 200
    counts = "2 batches watched: 1 read, 0 failing, 1 not found, 0 waiting for a first poll, 0 rejected (401/403)"
    assert probe.text.splitlines() == ["ready", counts]
    assert TYPO not in probe.text


def test_credentials_rejected_with_401_on_every_batch_exit_2_without_ready(tmp_path):
    """Every batch of the first cycle answered 401: watcher.credentials_rejected, exit 2, no READY=1 sent."""
    with simulator("dli", auth=SimAuth(mode="token", tokens=["the-right-token"])) as server:
        server.world.add_batch(A, name="a-job", state="running")
        server.world.add_batch(B, name="b-job", state="running")
        auth = {"method": "token", "token_env": "TEST_DLI_TOKEN"}
        config = write_config(tmp_path / "config.toml", server, [A, B], auth=auth)
        with notify_listener(tmp_path / "notify.sock") as listener:
            env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "TEST_DLI_TOKEN": "a-wrong-token"}
            proc = WatcherProcess(config, env=env)
            code = proc.proc.wait(timeout=30)
            proc.stop()
            messages = pending(listener)
    rejected = [e for e in proc.events if e["event"] == "watcher.credentials_rejected"]
    assert code == 2
    assert not any("READY=1" in m for m in messages)
    assert [(e["batches"], e["status_code"], e["auth_method"]) for e in rejected] == [(2, 401, "token")]
    assert "watcher.ready" not in [e["event"] for e in proc.events]
    assert "credentials rejected" in proc.stderr and "Traceback" not in proc.stderr
    assert "a-wrong-token" not in proc.stderr + "".join(proc.raw)
    assert_valid("json", [json.dumps(e) for e in rejected])


def test_403_on_every_batch_keeps_running_not_ready_with_ready_1_sent(tmp_path):
    """403 (the credentials work, the grant does not): READY=1 is sent, /readyz is 503 naming it, no exit."""
    with simulator("dli") as server:
        server.world.add_batch(A, name="a-job", state="running")
        server.world.add_batch(B, name="b-job", state="running")
        server.world.inject("status", None, None, status=403, error_code="DLI.0003", error_msg="no permission")
        config = write_config(tmp_path / "config.toml", server, [A, B])
        with notify_listener(tmp_path / "notify.sock") as listener:
            proc = WatcherProcess(config, env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
            messages = receive_until(listener, "READY=1")
            probe = httpx.get(proc.metrics_url + "/readyz", timeout=5)
            server.world.clear_faults()  # a grant mends it: ready once every batch has been read again
            proc.wait_for(lambda: httpx.get(proc.metrics_url + "/readyz", timeout=5).status_code == 200)
            running = proc.proc.poll() is None
            code = proc.stop()
    reason, counts = probe.text.splitlines()
    assert any("READY=1" in m for m in messages)
    assert probe.status_code == 503
    assert reason == "every watched batch (2 batches) was last answered rejected (403 DLI.0003)"
    assert counts.startswith("2 batches watched:") and counts.endswith("2 rejected (401/403)")
    assert A not in probe.text and B not in probe.text
    assert running and code == 0
