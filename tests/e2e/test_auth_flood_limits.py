"""Basic auth cannot starve the probes: 10 s of a real wrong-password flood, every probe answered."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import TYPE_CHECKING

import bcrypt
import httpx

from tests.procs import WatcherProcess, write_config

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
