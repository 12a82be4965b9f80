"""Real servers for the egress tests: tinyproxy on a free loopback port, a throwaway CA with TLS simulators."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import trustme

from tests.helpers import make_config
from tests.tools import require
from watcher.api.http import open_api
from watcher.errors import ConnectApiError
from watcher.simulator import SimAuth, SimServer, World
from watcher.simulator.cli import EXAMPLE_AK, EXAMPLE_SK

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from watcher.config.settings import Config

_REQUEST = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+)")


def free_port() -> int:
    """A loopback port nobody listens on (for a moment: whoever binds it next may lose a race)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Tinyproxy:
    """``tinyproxy -d`` with a generated config; its log shows every request that went through it."""

    def __init__(self, workdir: Path, credentials: tuple[str, str] | None = None) -> None:
        self.binary = require("tinyproxy", "tinyproxy")
        self.workdir, self.credentials = workdir, credentials
        self.logfile = workdir / "tinyproxy.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without credentials."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_with_credentials(self) -> str:
        """The URL as an environment variable carries a proxy login."""
        assert self.credentials is not None
        user, password = self.credentials
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def _config(self) -> str:
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            "LogLevel Connect",  # one line per request: what the tests read
            f'LogFile "{self.logfile}"',
            "MaxClients 50",
            "Allow 127.0.0.1",
            # no ConnectPort line: CONNECT is allowed to every port (the simulators' are random)
        ]
        if self.credentials:
            lines.append(f"BasicAuth {self.credentials[0]} {self.credentials[1]}")
        return "\n".join(lines) + "\n"

    def start(self) -> Tinyproxy:
        """Start on a free port, retrying if another process took it first; waits until it accepts."""
        for _ in range(5):
            self.port = free_port()
            conf = self.workdir / "tinyproxy.conf"
            conf.write_text(self._config(), encoding="utf-8")
            self._proc = subprocess.Popen(
                [self.binary, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if self._wait_listening():
                return self
            self.stop()
        raise RuntimeError("tinyproxy did not start; see " + str(self.logfile))

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
            else:
                return True
        return False

    def requests(self) -> list[tuple[str, str]]:
        """(method, target) of every request the proxy received: ``GET http://...`` or ``CONNECT host:port``."""
        text = self.logfile.read_text(encoding="utf-8", errors="replace") if self.logfile.exists() else ""
        return _REQUEST.findall(text)

    def stop(self) -> None:
        """Terminate and reap it."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None


@dataclass
class Pki:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, as files."""

    ca: trustme.CA
    ca_file: Path
    client_cert_file: Path
    client_key_file: Path
    server: trustme.LeafCert

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        """A server-side context; with ``require_client_cert``, only clients this CA signed get in."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(ctx)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(ctx)
        return ctx


def make_pki(workdir: Path) -> Pki:
    """Issue everything under ``workdir``."""
    ca = trustme.CA()
    client = ca.issue_cert("dli-watcher@example.test")
    ca_file, cert, key = workdir / "ca.pem", workdir / "client.pem", workdir / "client.key"
    ca.cert_pem.write_to_path(str(ca_file))
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    return Pki(ca, ca_file, cert, key, ca.issue_cert("127.0.0.1", "localhost"))


@contextmanager
def tls_simulator(
    tls: ssl.SSLContext, flavor: str = "dli", auth: SimAuth | None = None, **world_kw: Any
) -> Iterator[SimServer]:
    """A World served over HTTPS on 127.0.0.1 from its own thread."""
    server = SimServer(World(flavor, **world_kw), auth, tls=tls)  # type: ignore[arg-type]
    server.start_in_thread()
    try:
        yield server
    finally:
        server.stop()


# the egress tests' reads, fast (tests/api/test_egress.py) and through real proxies (tests/e2e/test_egress_proxies.py)
TRANSPORTS = ["aiohttp", "httpx"]
AKSK = {"method": "aksk", "access_key": EXAMPLE_AK, "secret_key": EXAMPLE_SK}
SIGNED = SimAuth(mode="aksk", keys={EXAMPLE_AK: EXAMPLE_SK})


def config(server: SimServer, transport: str, **api: object) -> tuple[Config, str]:
    """A config reading one running batch of ``server`` with AK/SK, and that batch's ID."""
    batch = server.world.add_batch(name="etl", state="running")
    return make_config(server, [batch], api={"transport": transport, **api}, auth=AKSK), batch


async def read(cfg: Config, batch: str, env: dict[str, str] | None = None) -> str:
    """The batch's state, read once through ``open_api`` with ``env`` as the process environment."""
    async with open_api(cfg, env or {}) as api:
        return (await api.details(batch)).state


async def failure(cfg: Config, batch: str, env: dict[str, str] | None = None) -> str:
    """The message of the ConnectApiError reading the batch raises."""
    with pytest.raises(ConnectApiError) as info:
        await read(cfg, batch, env)
    return info.value.message
