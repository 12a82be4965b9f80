"""Basic auth cannot starve the probes: a real flood of wrong passwords, and the same bcrypt work for every user."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import TYPE_CHECKING

import anyio
import bcrypt
import httpx
import pytest

from tests.procs import WatcherProcess, write_config
from tests.web.test_metrics_server import BATCH_LINE, endpoints, serving, wait_until
from watcher.errors import ConfigError
from watcher.web import basicauth
from watcher.web import server as server_module
from watcher.web.basicauth import BasicAuth
from watcher.web.webconfig import parse_web_config

if TYPE_CHECKING:
    from pathlib import Path

    from watcher.simulator import SimServer

FLOOD_RATE = 300  # new connections a second
FLOOD_SECONDS = 10.0
PROBES = 12


def _hash(password: str, cost: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


class Flood:
    """``FLOOD_RATE`` connections a second, each a /metrics request with a wrong password, on a loop of its own."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.launched = 0
        self.answers: dict[str, int] = {}
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join(60)
        assert not self._thread.is_alive(), "the flood did not end"

    async def _run(self) -> None:
        tasks = []
        begin = time.monotonic()
        total = int(FLOOD_RATE * FLOOD_SECONDS)
        for n in range(total):
            # on schedule, not as fast as it can: a rate, as an attacker's script would keep
            await asyncio.sleep(max(0.0, begin + n / FLOOD_RATE - time.monotonic()))
            user = "prometheus" if n % 2 else f"nobody{n}"
            tasks.append(asyncio.create_task(self._one(user, f"guess{n}")))
            self.launched += 1
        await asyncio.gather(*tasks)

    async def _one(self, user: str, password: str) -> None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        head = f"GET /metrics HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Basic {token}\r\n\r\n"
        outcome = "error"
        try:
            async with asyncio.timeout(40):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(head.encode())
                status = await reader.readline()
                outcome = status.split(b" ")[1].decode() if status else "closed"
                writer.close()
        except (OSError, TimeoutError, IndexError):
            pass
        self.answers[outcome] = self.answers.get(outcome, 0) + 1


@pytest.mark.slow
def test_a_wrong_password_flood_leaves_every_probe_answered(tmp_path: Path, sim: SimServer):
    """10 s at 300 wrong-password connections/s (bcrypt cost 10): 12 of 12 /healthz probes get 200."""
    bid = sim.world.add_batch(name="job", state="running")
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prometheus: '{_hash('right', 10)}'\n")
    config = write_config(tmp_path / "config.toml", sim, [bid], metrics={"web_config_file": str(web)})
    proc = WatcherProcess(config)
    try:
        url = proc.metrics_url
        host, _, port = url.removeprefix("http://").rpartition(":")
        flood = Flood(host, int(port))
        flood.start()
        codes: list[int | str] = []
        with httpx.Client(base_url=url, timeout=20) as client:
            for n in range(PROBES):
                # spread over the flood, each at its own point of it
                while flood.launched < (n + 1) * FLOOD_RATE * FLOOD_SECONDS / (PROBES + 1):
                    time.sleep(0.01)
                try:
                    codes.append(client.get("/healthz").status_code)
                except httpx.TransportError as exc:
                    codes.append(type(exc).__name__)
        flood.join()
    finally:
        proc.stop()
    assert codes == [200] * PROBES, (codes, flood.answers)
    assert flood.launched == FLOOD_RATE * FLOOD_SECONDS
    # the check queue filled and the rest were turned away at once, not queued on a slot
    assert flood.answers.get("503", 0) > 0 and flood.answers.get("401", 0) > 0, flood.answers


def test_every_user_costs_the_same_bcrypt_work(monkeypatch):
    """Known, unknown and cheaply hashed users: each check does 2**max_cost of bcrypt work, by count."""
    auth = BasicAuth({"cheap": _hash("a", 4), "dear": _hash("b", 6), "mid": _hash("c", 5)})
    costs: list[int] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed[4:6]))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    for user in ("cheap", "dear", "mid", "nobody"):
        costs.clear()
        assert not auth.verify(user, "wrong")
        assert sum(2**c for c in costs) == 2**6, (user, costs)
    costs.clear()
    assert auth.verify("cheap", "a")
    assert sum(2**c for c in costs) == 2**6


def test_the_decoys_are_made_once_per_process():
    """A second web config (a reload) reuses the decoy hashes of the first."""
    first = BasicAuth({"u": _hash("a", 4)})
    again = BasicAuth({"v": _hash("b", 4)})
    assert first._decoy is again._decoy is basicauth.decoy(4)


def test_a_bcrypt_cost_above_14_is_a_config_error():
    """Cost 15 would hold the check thread for seconds a guess: refused, naming the user, never the hash."""
    dear = "$2y$15$" + "a" * 53
    with pytest.raises(ConfigError) as caught:
        parse_web_config({"basic_auth_users": {"alice": dear}}, "/etc/web.yml")
    assert caught.value.key == "basic_auth_users.alice (/etc/web.yml)"
    assert "cost 15 is above 14" in caught.value.problem and dear not in str(caught.value)
    # 14 itself is fine (parsed without hashing anything at that cost)
    assert basicauth.hash_cost("$2y$14$" + "a" * 53) == 14


@pytest.mark.anyio
async def test_probes_get_in_when_every_slot_is_being_answered(monkeypatch):
    """Every slot held by a scrape waiting on a stuck render: a probe still gets 200 by the probe lane, a scrape 503."""
    monkeypatch.setattr(server_module, "max_connections", lambda: 8)
    release = threading.Event()

    def stuck() -> str:
        release.wait(30)
        return BATCH_LINE

    async with (
        serving(endpoints(stuck)) as (server, url),
        httpx.AsyncClient(base_url=url, timeout=20) as client,
        anyio.create_task_group() as tg,
    ):
        for _ in range(8):
            tg.start_soon(client.get, "/metrics")
        await wait_until(lambda: server.connections == (8, 8))
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        turned_away = await client.get("/metrics")
        release.set()
    assert (health.status_code, ready.status_code, turned_away.status_code) == (200, 200, 503)
