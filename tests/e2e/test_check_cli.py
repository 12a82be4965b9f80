"""``dli-watcher check`` as CI and operators run it: offline, every problem at once, the deadline, a proxy."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.commands.test_check_preflight import DripServer
from tests.e2e.test_cli import PID, UNKNOWN_ID, clean_env, cli, config_for, findings, serve, table_rows, write_config
from tests.proxies import Tinyproxy

DLI = "https://dli.cn-north-4.myhuaweicloud.com"
TYPOS = f"""
[api]
endpoint = "{DLI}"
project_id = "{PID}"
timeout_seconds = "10 seconds"

[auth]
method = "aksk"

[watch]
batch_ids = ["{UNKNOWN_ID}"]
intervall_seconds = "1m"
"""


def test_offline_reports_every_problem_at_once(tmp_path):
    """A missing secret no longer hides a typo in [watch]: offline, no secret is needed and each mistake is a line."""
    path = tmp_path / "c.toml"
    path.write_text(TYPOS, encoding="utf-8")
    offline = cli("check", "--offline", "--config", str(path))
    assert offline.returncode == 2, offline
    assert offline.stdout == ""
    keys = [line.split(": ")[2] for line in offline.stderr.splitlines()]
    assert keys == ["api.timeout_seconds", "watch.intervall_seconds"]
    online = cli("check", "--config", str(path))
    keys = [line.split(": ")[2] for line in online.stderr.splitlines()]
    assert keys == ["api.timeout_seconds", "auth.access_key_env", "auth.secret_key_env", "watch.intervall_seconds"]
    as_json = cli("check", "--offline", "--json", "--config", str(path))
    assert [p["key"] for p in json.loads(as_json.stdout)["problems"]] == keys[:1] + keys[3:]


def test_offline_passes_a_valid_file_without_secrets_or_its_files(tmp_path):
    """CI on a pull request: AK/SK auth, an IDs file and a CA file that exist only on the server; exit 0."""
    path = tmp_path / "c.toml"
    cfg: dict[str, dict[str, object]] = {
        "api": {"endpoint": DLI, "project_id": PID, "ca_file": "/etc/pki/corp-ca.pem"},
        "auth": {"method": "aksk"},
        "watch": {"batch_ids_file": "/etc/dli-watcher/batch_ids", "interval_seconds": "30s"},
    }
    path = write_config(tmp_path / "c.toml", cfg)
    result = cli("check", "--offline", "--config", str(path))
    assert result.returncode == 0, result
    found = findings(result.stdout)
    assert found["config"][0] == "ok"
    assert found["online"][0] == "skipped"


def test_nothing_to_watch_fails_the_check(tmp_path):
    """No IDs, no IDs file, no discovery: exit 2 with the reason, online and offline."""
    path = tmp_path / "c.toml"
    path.write_text(f'[api]\nendpoint = "{DLI}"\nproject_id = "{PID}"\n[auth]\nmethod = "none"\n', encoding="utf-8")
    for args in (["--offline"], []):
        result = cli("check", *args, "--config", str(path))
        assert result.returncode == 2, result
        assert "watch.batch_ids: nothing to watch" in result.stderr


def test_default_deadline_is_three_request_timeouts(tmp_path):
    """timeout_seconds = 1 against a server dripping a byte a second: check ends near 3 s, not after minutes."""
    drip = DripServer()
    try:
        cfg: dict[str, dict[str, object]] = {
            "api": {"endpoint": drip.url, "project_id": PID, "timeout_seconds": "1s", "max_attempts": 50},
            "auth": {"method": "none"},
            "watch": {"batch_ids": [UNKNOWN_ID]},
            "metrics": {"listen": "127.0.0.1:0"},
        }
        path = write_config(tmp_path / "c.toml", cfg)
        started = time.monotonic()
        result = cli("check", "--config", str(path))
        elapsed = time.monotonic() - started
    finally:
        drip.close()
    assert result.returncode == 1, result
    assert elapsed < 15  # generous: 50 attempts of 2 s each would take 100 s
    assert findings(result.stdout)["deadline"] == ("failed", "the API checks did not finish within 3 s")
    assert table_rows(result.stdout)[UNKNOWN_ID][4] == "timeout:"
    assert "no answer within the 3 s deadline" in result.stdout


@pytest.mark.parametrize("value", ["soon", "0", "-5s"])
def test_bad_deadline_is_a_usage_error(tmp_path, value):
    """``--deadline`` takes seconds or a duration, above zero."""
    result = cli("check", "--deadline", value, "--config", str(tmp_path / "c.toml"))
    assert result.returncode == 2
    assert "--deadline" in result.stderr


def test_check_through_a_proxy_shows_the_route_without_its_login(tmp_path):
    """HTTP_PROXY with a login: check reads the batches through tinyproxy and names the proxy, never the password."""
    tiny = Tinyproxy(tmp_path, credentials=("watcher", "pr0xy-pa55word")).start()
    try:
        with serve() as (server, ids):
            path = write_config(tmp_path / "c.toml", config_for(server, ids, {"method": "none"}))
            result = cli("check", "--config", str(path), env=clean_env(HTTP_PROXY=tiny.url_with_credentials))
    finally:
        tiny.stop()
    assert result.returncode == 0, result
    route = findings(result.stdout)["route"]
    assert route == ("ok", f"API 127.0.0.1:{server.port} via proxy 127.0.0.1:{tiny.port} (from HTTP_PROXY)")
    assert "pr0xy-pa55word" not in result.stdout + result.stderr
    assert len(tiny.requests()) == len(ids)


def test_check_fails_when_the_metrics_address_is_taken(tmp_path):
    """The metrics address held by something else fails the check (exit 1), naming the address."""
    with serve() as (server, ids), socket.create_server(("127.0.0.1", 0)) as taken:
        cfg = config_for(server, ids, {"method": "none"})
        cfg["metrics"] = {"listen": f"127.0.0.1:{taken.getsockname()[1]}"}
        result = cli("check", "--config", str(write_config(tmp_path / "c.toml", cfg)))
    assert result.returncode == 1, result
    assert findings(result.stdout)["listen"][0] == "failed"


def test_a_bad_web_config_file_is_a_config_problem_online_only(tmp_path):
    """The web config (TLS, basic auth for /metrics) is read as run reads it: a typo is exit 2, its key named."""
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_fil: server.crt\n", encoding="utf-8")
    cfg: dict[str, dict[str, object]] = {
        "api": {"endpoint": DLI, "project_id": PID},
        "auth": {"method": "none"},
        "watch": {"batch_ids": [UNKNOWN_ID]},
        "metrics": {"listen": "127.0.0.1:0", "web_config_file": str(web)},
    }
    path = write_config(tmp_path / "c.toml", cfg)
    online = cli("check", "--config", str(path))
    assert online.returncode == 2, online
    assert "tls_server_config.cert_fil" in online.stderr and "did you mean 'cert_file'" in online.stderr
    assert cli("check", "--offline", "--config", str(path)).returncode == 0
