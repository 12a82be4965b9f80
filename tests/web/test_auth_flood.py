"""Basic auth cannot starve the probes: the same bcrypt work for every user, costs bounded, a lane for probes."""

from __future__ import annotations

import threading

import anyio
import bcrypt
import httpx
import pytest

from tests.web.test_metrics_server import BATCH_LINE, endpoints, serving, wait_until
from watcher.errors import ConfigError
from watcher.web import basicauth
from watcher.web import server as server_module
from watcher.web.basicauth import BasicAuth
from watcher.web.webconfig import parse_web_config


def _hash(password: str, cost: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


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
