"""No planted secret (AK/SK, token, password, IAM-issued token, secret conf values) reaches any output."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.helpers import simulator
from tests.procs import WatcherProcess, write_config
from watcher.simulator import SimAuth

AK = "AKPLANTED0000000001"
SK = "SKPLANTED-secret-value-0000000000000000"
PASSWORD = "PLANTED-password-9f8e7d"
CONF_SECRET = "PLANTED-conf-secret-5a4b"
CONF_TOKEN = "PLANTED-conf-token-1c2d"


def assert_clean(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, f"secret {secret[:12]}... leaked"


def secret_conf() -> dict[str, str]:
    return {
        "spark.hadoop.fs.obs.secret.key": CONF_SECRET,
        "spark.dli.user.token": CONF_TOKEN,
        "spark.executor.memory": "4G",
    }


def test_aksk_run_with_req_body_leaks_nothing(tmp_path):
    """AK/SK in env, secret conf values in req_body (emitted, redacted), a failing poll: nothing leaks."""
    with simulator("dli", SimAuth(mode="aksk", keys={AK: SK})) as server:
        bid = server.world.add_batch(name="leaky", conf=secret_conf())
        config = write_config(
            tmp_path / "c.toml", server, [bid], auth={"method": "aksk"}, events={"include_req_body": True}
        )
        proc = WatcherProcess(config, env={"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK})
        proc.wait_for(lambda: proc.of(bid, "batch.discovered"))
        server.world.inject("status", bid, 3, status=500)
        proc.wait_for(lambda: proc.of(bid, "batch.poll_failed"))
        metrics = httpx.get(proc.metrics_url + "/metrics").text
        assert proc.stop() == 0
    discovered = proc.of(bid, "batch.discovered")[0]
    conf = discovered["req_body"]["conf"]
    assert conf["spark.hadoop.fs.obs.secret.key"] == "***" and conf["spark.executor.memory"] == "4G"
    assert_clean("".join(proc.raw) + proc.stderr + metrics, [SK, CONF_SECRET, CONF_TOKEN])


def test_req_body_is_off_by_default(tmp_path):
    """Without include_req_body, batch.discovered carries no req_body at all."""
    with simulator("dli") as server:
        bid = server.world.add_batch(name="quiet", conf=secret_conf())
        proc = WatcherProcess(write_config(tmp_path / "c.toml", server, [bid]))
        proc.wait_for(lambda: proc.of(bid, "batch.discovered"))
        assert proc.stop() == 0
    assert "req_body" not in proc.of(bid, "batch.discovered")[0]
    assert_clean("".join(proc.raw), [CONF_SECRET, CONF_TOKEN])


@pytest.mark.parametrize("include", [False, True])
def test_the_state_file_holds_no_req_body_secret(tmp_path, include):
    """With or without include_req_body, the state file (and its WAL) never holds a conf secret."""
    state = tmp_path / "state.db"
    with simulator("dli") as server:
        bid = server.world.add_batch(name="kept", conf=secret_conf())
        config = write_config(
            tmp_path / "c.toml", server, [bid], state={"path": str(state)}, events={"include_req_body": include}
        )
        proc = WatcherProcess(config)
        proc.wait_for(lambda: proc.of(bid, "batch.discovered"))
        server.world.set_state(bid, "success")
        proc.wait_for(lambda: proc.of(bid, "batch.finished"))
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*") if p.is_file())
        assert proc.stop() == 0
    stored += b"".join(p.read_bytes() for p in tmp_path.glob("state.db*") if p.is_file())
    assert b"kept" in stored  # the file really holds the batch
    assert_clean(stored.decode("utf-8", "replace"), [CONF_SECRET, CONF_TOKEN])


def test_password_auth_and_wrong_secret_leak_nothing(tmp_path):
    """IAM password auth: the password and the issued tokens appear nowhere, nor does a rejected password."""
    auth = SimAuth(mode="token", users={"ops": PASSWORD}, domain="acme")
    with simulator("dli", auth) as server:
        bid = server.world.add_batch(name="pw")
        sections = {
            "auth": {
                "method": "password",
                "user": "ops",
                "domain": "acme",
                "project_name": "cn-north-4",
                "iam_endpoint": server.url,
            }
        }
        config = write_config(tmp_path / "c.toml", server, [bid], **sections)
        proc = WatcherProcess(config, env={"DLI_PASSWORD": PASSWORD})
        proc.wait_for(lambda: proc.of(bid, "batch.discovered"))
        assert proc.stop() == 0
        tokens = list(server.world._tokens)  # the IAM tokens the simulator issued
        bad = WatcherProcess(config, env={"DLI_PASSWORD": PASSWORD + "-wrong"})
        bad.wait_for(lambda: bad.of(bid, "batch.poll_failed"))
        # IAM refused every batch of the first cycle: rejected credentials end the start (exit 2, issue 28)
        assert bad.proc.wait(timeout=30) == 2
        bad.stop()
        check = subprocess.run(
            [sys.executable, "-m", "watcher", "check", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"DLI_PASSWORD": PASSWORD + "-wrong", "PATH": ""},
            check=False,
        )
    assert tokens and server.world.tokens_issued >= 1
    assert bad.of(bid, "batch.poll_failed")[0]["reason"] == "auth"
    assert check.returncode == 2
    everything = "".join(proc.raw + bad.raw) + proc.stderr + bad.stderr + check.stdout + check.stderr
    assert_clean(everything, [PASSWORD, *tokens])
