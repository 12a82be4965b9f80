"""A real Prometheus scrapes the watcher: the exposition works end to end and the dashboard queries return data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
import trustme
import yaml

from tests.deploy.test_deploy_grafana import concrete, dashboard_queries
from tests.deploy.test_deploy_prometheus import render_alerts
from tests.helpers import make_config, start_watch
from tests.procs import WatcherProcess, write_config
from tests.tools import require
from tests.web.test_webconfig import HASH, PASSWORD

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


SCRAPE = "1s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prometheus(
    target: str | list[str], tmp: Path, jobs: dict[str, dict[str, Any]] | None = None, rules: str = ""
) -> Iterator[str]:
    """Run Debian's prometheus on loopback in a temp dir, scraping ``target`` (or several) every second.

    ``jobs`` maps job names to extra scrape settings (scheme, basic_auth, tls_config); by default one
    plain job, dli-watcher. ``rules`` is a rule file's text, evaluated every second.
    """
    binary = require("prometheus", "prometheus")
    port = free_port()
    config = tmp / "prometheus.yml"
    targets = [target] if isinstance(target, str) else target
    scrape = [
        {"job_name": name, **extra, "static_configs": [{"targets": targets}]}
        for name, extra in (jobs or {"dli-watcher": {}}).items()
    ]
    settings: dict[str, Any] = {
        "global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
        "scrape_configs": scrape,
    }
    if rules:
        (tmp / "rules.yml").write_text(rules)
        settings["rule_files"] = [str(tmp / "rules.yml")]
    config.write_text(yaml.safe_dump(settings))
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready"
            assert proc.poll() is None, "prometheus exited"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def query(client: httpx.AsyncClient, url: str, promql: str) -> list[dict[str, Any]]:
    resp = await client.get(url + "/api/v1/query", params={"query": promql})
    body = resp.json()
    assert body["status"] == "success", (promql, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def eventually(client, url, promql, timeout=30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        result = await query(client, url, promql)
        if result or time.monotonic() > deadline:
            return result
        await anyio.sleep(0.5)


@pytest.mark.anyio
async def test_prometheus_sees_a_running_batch_and_an_up_target(sim, tmp_path):
    """Prometheus scraping the watcher finds dli_batch_state{state="running"} == 1 and up == 1."""
    bid = sim.world.add_batch(name="live", state="running")
    async with anyio.create_task_group() as tg:
        cfg = make_config(sim, [bid], watch={"interval_seconds": 0.5}, metrics={"per_batch": "all"})
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        assert run.address is not None
        host, port = run.address
        with prometheus(f"{host}:{port}", tmp_path) as url:
            async with httpx.AsyncClient() as client:
                running = await eventually(client, url, f'dli_batch_state{{batch_id="{bid}",state="running"}} == 1')
                up = await eventually(client, url, 'up{job="dli-watcher"} == 1')
                dead = await query(client, url, f'dli_batch_state{{batch_id="{bid}",state="dead"}}')
        run.stopped.set()
    assert [r["metric"]["batch_id"] for r in running] == [bid]
    assert len(up) == 1
    assert dead[0]["value"][1] == "0"


@pytest.mark.anyio
async def test_prometheus_scrapes_over_tls_with_basic_auth_and_a_client_certificate(sim, tmp_path):
    """Prometheus scrapes over TLS with a client certificate and basic auth: up == 1; a wrong password: up == 0."""
    ca = trustme.CA()
    server, client = ca.issue_cert("127.0.0.1"), ca.issue_cert("prometheus.monitoring.svc")
    for name, pem in {
        "server.crt": server.cert_chain_pems[0],
        "server.key": server.private_key_pem,
        "ca.crt": ca.cert_pem,
        "client.crt": client.cert_chain_pems[0],
        "client.key": client.private_key_pem,
    }.items():
        pem.write_to_path(tmp_path / name)
    web = tmp_path / "web.yml"
    web.write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
        f"basic_auth_users:\n  prometheus: '{HASH}'\n"
    )
    tls = {
        "ca_file": str(tmp_path / "ca.crt"),
        "cert_file": str(tmp_path / "client.crt"),
        "key_file": str(tmp_path / "client.key"),
    }
    jobs = {
        "dli-watcher": {
            "scheme": "https",
            "tls_config": tls,
            "basic_auth": {"username": "prometheus", "password": PASSWORD},
        },
        "wrong-password": {
            "scheme": "https",
            "tls_config": tls,
            "basic_auth": {"username": "prometheus", "password": "guess"},
        },
    }
    bid = sim.world.add_batch(name="secure", state="running")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [bid], metrics={"web_config_file": str(web)}))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        assert run.address is not None
        host, port = run.address
        with prometheus(f"{host}:{port}", tmp_path, jobs) as url:
            async with httpx.AsyncClient() as api:
                up = await eventually(api, url, 'up{job="dli-watcher"} == 1')
                running = await eventually(api, url, f'dli_batch_state{{batch_id="{bid}",state="running"}} == 1')
                refused = await eventually(api, url, 'up{job="wrong-password"} == 0')
                targets = (await api.get(url + "/api/v1/targets")).json()["data"]["activeTargets"]
        run.stopped.set()
    assert len(up) == 1
    assert [r["metric"]["batch_id"] for r in running] == [bid]
    assert len(refused) == 1
    (wrong,) = [t for t in targets if t["labels"]["job"] == "wrong-password"]
    assert "401" in wrong["lastError"]


def test_every_dashboard_query_returns_data_from_the_demo(tmp_path):
    """Each panel and variable query of deploy/grafana/dashboard.json returns data while Prometheus scrapes the demo."""
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "watcher", "demo", "--forever", "--json", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        with prometheus(f"127.0.0.1:{port}", tmp_path) as url:
            missing = anyio.run(_wait_for_all_panels, url)
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(timeout=15)
    assert missing == []
    assert code == 0


async def _wait_for_all_panels(url: str, timeout: float = 90.0) -> list[str]:
    pending = {where: concrete(expr) for where, expr in dashboard_queries()}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while pending and time.monotonic() < deadline:
            for where, promql in list(pending.items()):
                if await query(client, url, promql):
                    del pending[where]
            await anyio.sleep(1.0)
    return sorted(f"{where}: {promql}" for where, promql in pending.items())


# the mixin's parameters, test-sized: every for: a few seconds, "not polling" after 10 s
QUICK_RULES = '{unreadableFor: "5s", notFoundFor: "5s", notPollingSeconds: 10, notPollingFor: "5s"}'


def test_shipped_alerts_fire_for_a_never_found_id_and_a_down_endpoint(sim, tmp_path):
    """A real Prometheus runs the mixin's rules on two watchers: a typo'd ID, and an endpoint down from the start."""
    # the first watcher polls a healthy batch next to an ID the API never knew (DLIBatchNotFound for
    # that ID alone); the second one's endpoint has nothing listening, so its batch is never read
    # (DLIBatchUnreadable, DLIWatcherNotPolling)
    healthy = sim.world.add_batch(name="healthy", state="running")
    typo, unread = "0badc0de-0000-4000-8000-000000000001", "0badc0de-0000-4000-8000-000000000002"
    found_cfg = write_config(tmp_path / "found.toml", sim, [healthy, typo])
    down_cfg = write_config(tmp_path / "down.toml", sim, [unread], api={"endpoint": f"http://127.0.0.1:{free_port()}"})
    found, down = WatcherProcess(found_cfg), WatcherProcess(down_cfg)
    try:
        targets = [found.metrics_url.removeprefix("http://"), down.metrics_url.removeprefix("http://")]
        with prometheus(targets, tmp_path, rules=render_alerts(QUICK_RULES)) as url:
            firing = anyio.run(
                _wait_for_alerts, url, {"DLIBatchNotFound", "DLIBatchUnreadable", "DLIWatcherNotPolling"}
            )
    finally:
        codes = found.stop(), down.stop()
    assert codes == (0, 0)
    by_name: dict[str, list[dict[str, str]]] = {}
    for alert in firing:
        by_name.setdefault(alert["labels"]["alertname"], []).append(alert["labels"])
    assert [(a["batch_id"], a["instance"]) for a in by_name["DLIBatchNotFound"]] == [(typo, targets[0])]
    assert [(a["batch_id"], a["status"]) for a in by_name["DLIBatchUnreadable"]] == [(unread, "failing")]
    assert [a["instance"] for a in by_name["DLIWatcherNotPolling"]] == [targets[1]]


async def _wait_for_alerts(url: str, names: set[str], timeout: float = 90.0) -> list[dict[str, Any]]:
    """The firing alerts once every one of ``names`` fires (or what fires at the deadline)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            alerts = (await client.get(url + "/api/v1/alerts")).json()["data"]["alerts"]
            firing = [a for a in alerts if a["state"] == "firing"]
            if names <= {a["labels"]["alertname"] for a in firing} or time.monotonic() > deadline:
                return firing
            await anyio.sleep(1.0)
