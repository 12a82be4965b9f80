"""``check`` as the preflight, in process: state file, metrics address, watch set, discovery, deadline."""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.helpers import make_config, simulator, start_watch
from watcher import __version__
from watcher.commands import preflight
from watcher.commands.check import check, validate
from watcher.commands.preflight import listen_address, lock_holder, state_file, watch_set
from watcher.config.settings import MetricsConfig
from watcher.daemon.store import SCHEMA_VERSION, Store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.helpers import WatchRun
    from watcher.config.settings import Config

DLI = "https://dli.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"
ID1 = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"

pytestmark = pytest.mark.anyio


# --- the state file ---------------------------------------------------------------------------------


def test_state_not_configured_is_skipped():
    assert state_file("").status == "skipped"


def test_missing_state_file_in_a_writable_directory_is_fine(tmp_path):
    """``run`` creates the file: ok, and nothing is created by the check."""
    path = tmp_path / "state.db"
    finding = state_file(str(path))
    assert (finding.status, finding.detail) == ("ok", f"{path} does not exist yet; run creates it")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make", ["directory", "parent-is-a-file", "missing-parent", "symlink"])
def test_unusable_state_path_fails(tmp_path, make):
    """What run refuses (exit 2) is a failed finding, saying which."""
    if make == "directory":
        path = tmp_path / "state.db"
        path.mkdir()
        expected = f"{path} is a directory"
    elif make == "missing-parent":
        path = tmp_path / "sub" / "state.db"
        expected = f"cannot create {path}: {tmp_path / 'sub'} does not exist"
    elif make == "symlink":
        path = tmp_path / "state.db"
        path.symlink_to(tmp_path / "elsewhere")
        expected = f"{path} is a symbolic link: run refuses it (exit 2)"
    else:
        (tmp_path / "blocker").write_text("x")
        path = tmp_path / "blocker" / "state.db"
        expected = f"cannot create {path}: {tmp_path / 'blocker'} is not a directory"
    finding = state_file(str(path))
    assert (finding.status, finding.detail) == ("failed", expected)


def test_valid_state_file_is_read_without_leaving_files_behind(tmp_path):
    """A closed WAL database is opened read-only and immutable: no -wal or -shm file appears."""
    path = tmp_path / "state.db"
    store, _ = Store.open(str(path))
    store.close()
    before = sorted(p.name for p in tmp_path.iterdir())
    finding = state_file(str(path))
    assert (finding.status, finding.detail) == ("ok", f"{path}: schema {SCHEMA_VERSION}, 0 batches")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_state_file_in_use_by_a_running_store_is_read(tmp_path):
    """While a watcher has it open (WAL, -shm present, its lock held), the check reads it and names the holder."""
    path = tmp_path / "state.db"
    store, _ = Store.open(str(path))
    try:
        finding = state_file(str(path))
    finally:
        store.close()
    assert finding.status == "warning"
    assert finding.detail.startswith(f"{path}: schema {SCHEMA_VERSION}, 0 batches; held by another watcher")
    assert f"pid {os.getpid()}" in finding.detail


def test_damaged_state_file_is_a_warning_and_a_newer_one_fails(tmp_path):
    """A damaged file run would move aside (a warning that says so); a newer one run refuses (failed)."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite " * 500)
    finding = state_file(str(junk))
    assert finding.status == "warning"
    assert "unreadable" in finding.detail
    assert "move it aside" in finding.detail
    newer = tmp_path / "newer.db"
    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version=99")
    db.close()
    finding = state_file(str(newer))
    assert finding.status == "failed"
    assert f"schema 99, newer than this watcher's {SCHEMA_VERSION}" in finding.detail


@contextmanager
def held_lock(path: Path, pid: str) -> Iterator[None]:
    """``<path>.lock`` held with flock by another open file, as a running watcher holds it."""
    lock = path.with_name(path.name + ".lock")
    lock.write_text(pid + "\n")
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)


def test_state_file_held_by_another_watcher_names_its_pid(tmp_path):
    """The lock beside the state file is tried, never created; a holder is named by the PID inside."""
    path = tmp_path / "state.db"
    assert lock_holder(str(path)) is None
    assert not (tmp_path / "state.db.lock").exists()
    store, _ = Store.open(str(path))
    store.close()
    assert lock_holder(str(path)) is None  # the daemon leaves its lock file behind, free
    with held_lock(path, "4242"):
        assert lock_holder(str(path)) == "pid 4242"
        finding = state_file(str(path))
    assert finding.status == "warning"
    assert "held by another watcher (pid 4242)" in finding.detail
    assert lock_holder(str(path)) is None  # the file is left, free


# --- the metrics address -----------------------------------------------------------------------------


async def test_listen_port_zero_and_a_free_port_are_fine():
    assert (await listen_address(MetricsConfig(port=0))).status == "ok"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    finding = await listen_address(MetricsConfig(port=port))
    assert (finding.status, finding.detail) == ("ok", f"127.0.0.1:{port} can be bound")


async def test_listen_address_taken_by_another_program_fails(monkeypatch):
    """Something that is not a watcher holds the port: failed, and it says so."""
    monkeypatch.setattr(preflight, "PROBE_TIMEOUT_SECONDS", 0.2)  # it never answers: the probe times out
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        finding = await listen_address(MetricsConfig(port=port))
    assert (finding.status, finding.detail) == ("failed", f"127.0.0.1:{port} is in use by another program")


async def test_listen_address_taken_by_a_watcher_is_named():
    """A running dli-watcher on the address is recognised by its landing page: a warning naming its version."""
    with simulator() as server:
        cfg = make_config(server, [server.world.add_batch()])
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            assert run.address is not None
            host, port = run.address
            finding = await listen_address(MetricsConfig(host, port))
            run.stopped.set()
    assert (finding.status, finding.detail) == (
        "warning",
        f"127.0.0.1:{port}: a dli-watcher {__version__} already listens there",
    )


async def test_listen_address_not_on_this_host_fails():
    finding = await listen_address(MetricsConfig(host="192.0.2.1", port=19847))
    assert finding.status == "failed"
    assert "not an address of this host" in finding.detail


# --- what there is to watch --------------------------------------------------------------------------


def write(tmp_path: Path, text: str, api: str = "") -> str:
    """A config file with ``api`` lines added to [api] and ``text`` after [auth]."""
    path = tmp_path / "config.toml"
    path.write_text(f'[api]\nendpoint = "{DLI}"\nproject_id = "{PID}"\n{api}[auth]\nmethod = "none"\n' + text)
    return str(path)


def test_nothing_to_watch_is_a_config_problem(tmp_path):
    """No IDs, no IDs file, no discovery: ``run`` would sit idle, so ``check`` fails on it."""
    _, problems = validate(write(tmp_path, ""), {}, offline=True)
    assert [p.key for p in problems] == ["watch.batch_ids"]
    assert "nothing to watch" in problems[0].problem


def test_empty_batch_ids_file_is_a_normal_first_state(tmp_path):
    """An IDs file with no IDs yet is no problem, but a warning saying run waits for it."""
    ids = tmp_path / "ids"
    ids.write_text("# none yet\n")
    cfg, problems = validate(write(tmp_path, f'[watch]\nbatch_ids_file = "{ids}"\n'), {}, offline=False)
    assert problems == []
    finding = watch_set(cfg)
    assert finding.status == "warning"
    assert f"{ids} lists no batch IDs yet" in finding.detail


def test_discovery_alone_is_something_to_watch(tmp_path):
    _, problems = validate(write(tmp_path, "[discovery]\nenabled = true\n"), {}, offline=True)
    assert problems == []


def test_online_validation_adds_proxy_and_tls_problems(tmp_path):
    """Online, an unusable proxy variable and a CA file without certificates are config problems too."""
    ca = tmp_path / "ca.pem"
    ca.write_text("nothing here\n")
    path = write(tmp_path, f'[watch]\nbatch_ids = ["{ID1}"]\n', api=f'ca_file = "{ca}"\n')
    _, problems = validate(path, {"HTTPS_PROXY": "socks5://proxy:1080"}, offline=False)
    assert [p.key for p in problems] == ["HTTPS_PROXY", "api.ca_file"]
    _, offline = validate(path, {"HTTPS_PROXY": "socks5://proxy:1080"}, offline=True)
    assert offline == []


# --- the API: discovery, the list endpoint, the deadline -----------------------------------------------


def finding_of(report, name):
    return next(f for f in report.findings if f.name == name)


async def test_discovery_reads_the_list_endpoint_and_says_how_many(tmp_path):
    """Discovery on: the list endpoint is read as ``run`` would, and the count it would watch is shown."""
    with simulator() as server:
        for _ in range(3):
            server.world.add_batch(state="running")
        cfg = make_config(server, [], discovery={"enabled": True})
        report = await check(cfg, "c.toml", deadline=20, env={})
    found = finding_of(report, "discovery")
    assert (found.status, found.detail) == ("ok", "the list endpoint answered; discovery would watch 3 batches")
    assert report.ok


async def test_discovery_against_an_unreachable_endpoint_fails():
    """Today's empty table and exit 0 become a failed discovery finding naming the cause."""
    with simulator() as server:
        cfg = make_config(server, [], discovery={"enabled": True}, api={"max_attempts": 1})
    report = await check(cfg, "c.toml", deadline=20, env={})
    found = finding_of(report, "discovery")
    assert found.status == "failed"
    assert found.detail == f"list endpoint: connect: cannot connect to 127.0.0.1:{server.port}: connection refused"
    assert not report.ok


async def test_no_batch_ids_yet_still_checks_the_api(tmp_path):
    """With an empty IDs file, one list page proves the endpoint and credentials work."""
    ids = tmp_path / "ids"
    ids.write_text("")
    with simulator() as server:
        server.world.add_batch()
        cfg = make_config(server, [], watch={"batch_ids_file": str(ids)})
        report = await check(cfg, "c.toml", deadline=20, env={})
    assert finding_of(report, "api").detail == "the list endpoint answered (1 batch)"
    assert finding_of(report, "watch").status == "warning"
    assert report.ok


class DripServer:
    """Answers every request one byte a second, forever: each read succeeds, so no read timeout fires."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 10_000:
                if self.stop.wait(1.0):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


async def test_one_deadline_ends_the_check_of_a_dripping_server():
    """A server sending a byte a second: without the deadline, retries would run for a minute; it ends at 0.5 s."""
    drip = DripServer()
    try:
        with simulator() as server:
            cfg = make_config(server, [ID1])
        cfg = replace(cfg, api=replace(cfg.api, endpoint=drip.url, timeout_seconds=2.0, max_attempts=20))
        started = time.monotonic()
        report = await check(cfg, "c.toml", deadline=0.5, env={})
        elapsed = time.monotonic() - started
    finally:
        drip.close()
    assert elapsed < 20  # generous: the point is far less than 20 attempts x 3 s
    assert finding_of(report, "deadline").status == "failed"
    assert report.rows[0].error is not None
    assert "no answer within the 0.5 s deadline" in report.rows[0].error.message
    assert not report.ok


# --- run says when it watches nothing ------------------------------------------------------------------


def started(run: WatchRun) -> Callable[[], bool]:
    return lambda: any(e.name == "watcher.started" for e in run.events)


async def test_run_warns_when_it_starts_with_nothing_to_watch(tmp_path):
    """``watcher.nothing_to_watch`` (warning) follows ``watcher.started`` when there is no batch and no discovery."""
    ids = tmp_path / "ids"
    ids.write_text("")
    with simulator() as server:
        quiet = make_config(server, [], watch={"batch_ids_file": str(ids)})
        busy: Config = make_config(server, [], discovery={"enabled": True})
        for cfg in (quiet, busy):
            async with anyio.create_task_group() as tg:
                run = await start_watch(tg, cfg)
                await run.wait_for(started(run))
                run.stopped.set()
            warned = [e for e in run.events if e.name == "watcher.nothing_to_watch"]
            if cfg is quiet:
                assert [(e.level, e.fields) for e in warned] == [
                    ("warning", {"batch_ids_file": str(ids), "shard": "0/1"})
                ]
                names = [e.name for e in run.events]
                assert names.index("watcher.nothing_to_watch") == names.index("watcher.started") + 1
            else:
                assert warned == []
