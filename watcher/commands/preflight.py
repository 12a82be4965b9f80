"""``check``'s local findings, no API involved: what there is to watch, the state file, the metrics address.

Each looks without changing anything: the state file is opened read-only and its lock file is
never created; the listen address is bound and released at once.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import re
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

import httpx

from watcher.core.plural import plural
from watcher.daemon.stateperms import check_trusted
from watcher.daemon.store import SCHEMA_VERSION
from watcher.errors import ApiError, ConfigError, SetupError
from watcher.web.webconfig import load_web_config

if TYPE_CHECKING:
    from watcher.config.settings import Config, MetricsConfig

Status = Literal["ok", "warning", "failed", "skipped"]
PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing ``check`` looked at: its name, how it went, and in words why."""

    name: str
    status: Status
    detail: str
    error: ApiError | None = None  # the API's answer, when the finding is one

    def as_dict(self) -> dict[str, str]:
        """JSON-ready fields."""
        return {"check": self.name, "status": self.status, "detail": self.detail}


def watch_set(cfg: Config) -> Finding:
    """What ``run`` would start watching (an empty batch IDs file is a normal first state: a warning)."""
    watch, ids = cfg.watch, cfg.watch.batch_ids
    parts = [f"{len(ids)} batch ID{'s' if len(ids) != 1 else ''}"]
    if watch.batch_ids_file:
        parts.append(f"file {watch.batch_ids_file}")
    if cfg.discovery.enabled:
        parts.append("and discovery")
    if not ids and not cfg.discovery.enabled:
        hint = "run watches nothing until IDs are added to it (SIGHUP re-reads it)"
        return Finding("watch", "warning", f"{watch.batch_ids_file} lists no batch IDs yet: {hint}")
    return Finding("watch", "ok", ", ".join(parts))


# --- the state file ---------------------------------------------------------------------------------


def lock_holder(state_path: str) -> str | None:
    """Who holds ``<state.path>.lock`` (``pid N``), or None when it is free or absent; never creates it.

    One small function on purpose: the daemon's own lock helper can replace it.
    """
    try:
        fd = os.open(state_path + ".lock", os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode("ascii", "replace").strip()
            return f"pid {pid}" if pid.isdigit() else "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def state_file(path: str) -> Finding:
    """Whether ``run`` can open the state file (or create it), read without writing anything."""
    if not path:
        return Finding("state", "skipped", "state.path not set: no persistence, events may repeat after a restart")
    finding = _state_file(Path(path))
    holder = lock_holder(path)
    if holder is None or finding.status == "failed":
        return finding
    detail = f"{finding.detail}; held by another watcher ({holder}): a second run on this file would not start"
    return Finding("state", "warning", detail)


def _state_file(path: Path) -> Finding:
    if path.is_symlink():
        return Finding("state", "failed", f"{path} is a symbolic link: run refuses it (exit 2)")
    if path.is_dir():
        return Finding("state", "failed", f"{path} is a directory")
    if (distrust := _distrusted(path)) is not None:
        return distrust
    if not path.exists():
        return _creatable(path)
    if not os.access(path, os.R_OK | os.W_OK):
        return Finding("state", "failed", f"{path} is not readable and writable by this user")
    return _readable(path) if os.access(path.parent, os.W_OK | os.X_OK) else _unwritable_directory(path)


def _unwritable_directory(path: Path) -> Finding:
    # SQLite's WAL puts -wal and -shm files beside the database
    return Finding("state", "failed", f"{path.parent} is not writable (SQLite needs its -wal and -shm files there)")


def _distrusted(path: Path) -> Finding | None:
    """The state file, a companion or the directory run would refuse because another user controls it."""
    if not path.parent.is_dir():
        return None
    try:
        check_trusted(str(path))
    except SetupError as exc:
        return Finding("state", "failed", f"{exc}: run refuses it (exit 2)")
    return None


def _creatable(path: Path) -> Finding:
    parent = path.parent
    if not parent.is_dir():
        # run creates the file, never directories (as root that could be anywhere)
        what = "is not a directory" if parent.exists() else "does not exist"
        return Finding("state", "failed", f"cannot create {path}: {parent} {what}")
    if not os.access(parent, os.W_OK | os.X_OK):
        return Finding("state", "failed", f"cannot create {path}: {parent} is not writable by this user")
    return Finding("state", "ok", f"{path} does not exist yet; run creates it")


def _readable(path: Path) -> Finding:
    """Open read-only and look at the schema; an existing -shm means a watcher has it open (WAL), else immutable."""
    # immutable when nobody has it open: a read-only WAL open would leave -wal and -shm files owned by us
    mode = "ro" if Path(f"{path}-shm").exists() else "ro&immutable=1"
    aside = "run would move it aside and start afresh"
    try:
        db = sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True)
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                detail = f"{path} has schema {version}, newer than this watcher's {SCHEMA_VERSION}: run refuses it"
                return Finding("state", "failed", detail)
            check = db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if check != "ok":
                return Finding("state", "warning", f"{path} is damaged ({check}): {aside}")
            batches = db.execute("SELECT count(*) FROM batches").fetchone()[0] if version else 0
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return Finding("state", "warning", f"{path} is unreadable ({exc}): {aside}")
    return Finding("state", "ok", f"{path}: schema {version}, {plural(batches, 'batch')}")


# --- the metrics address ------------------------------------------------------------------------------


def status_pages(cfg: Config) -> Finding:
    """Who will see the status pages; a warning when everyone who reaches a non-loopback port will."""
    pages, host = cfg.status.pages, cfg.metrics.host
    if pages == "off":
        return Finding("status", "ok", "status pages off: / is a landing page")
    try:
        web = load_web_config(cfg.metrics.web_config_file)
    except ConfigError:
        web = None  # reported with the config's problems
    authenticated = web is not None and (web.auth is not None or web.client_certs == "required")
    if authenticated:
        return Finding("status", "ok", f"status pages ({pages}) for authenticated requests")
    if pages == "auto":
        return Finding("status", "ok", "status pages for loopback peers only (status.pages auto)")
    if _loopback_host(host):
        return Finding("status", "ok", f"status pages on, listening on loopback {host} only")
    problem = f"status pages on for anyone reaching {host}:{cfg.metrics.port} without authentication"
    return Finding("status", "warning", problem + ": they show error text and log tails (README: Securing /metrics)")


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def listen_address(metrics: MetricsConfig) -> Finding:
    """Whether the metrics address can be bound; if it is taken, whether by a dli-watcher."""
    host, port = metrics.host, metrics.port
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if port == 0:
        return Finding("listen", "ok", f"{shown}: a free port is chosen at start")
    try:
        _bind_and_release(host, port)
    except socket.gaierror as exc:
        return Finding("listen", "failed", f"{shown}: host not resolved ({exc.strerror})")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return await _taken(shown, host, port)
        if exc.errno == errno.EADDRNOTAVAIL:
            return Finding("listen", "failed", f"{shown}: not an address of this host")
        return Finding("listen", "failed", f"{shown}: cannot bind ({exc.strerror})")
    return Finding("listen", "ok", f"{shown} can be bound")


def _bind_and_release(host: str, port: int) -> None:
    # as the metrics server binds: IPv6 when the host has a colon, SO_REUSEADDR like socketserver
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


async def _taken(shown: str, host: str, port: int) -> Finding:
    version = await _watcher_at(host, port)
    if version is None:
        return Finding("listen", "failed", f"{shown} is in use by another program")
    return Finding("listen", "warning", f"{shown}: a dli-watcher {version} already listens there")


async def _watcher_at(host: str, port: int) -> str | None:
    """The version of the dli-watcher answering on host:port (its landing page says), else None."""
    # an address for every interface is reached on loopback; never through a proxy
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    url = f"http://[{target}]:{port}/" if ":" in target else f"http://{target}:{port}/"
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_SECONDS, trust_env=False) as client:
            health = await client.get(url + "healthz")
            landing = await client.get(url)
    except httpx.HTTPError:
        return None
    found = re.search(r"<h1>dli-watcher ([^<]{1,64})</h1>", landing.text)
    if found is None or health.status_code not in (200, 503):
        return None
    return found.group(1)
