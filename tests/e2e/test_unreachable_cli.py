"""Exit 7 when the API is not there, 2 when it refuses the credentials: wait, logs and ls as processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from tests.hostile import BAD, GOOD, PROJECT, HostileServer

if TYPE_CHECKING:
    from pathlib import Path

FAST = ("--interval", "0.1", "--unreachable-timeout", "1s")


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(endpoint: str, **extra: str) -> dict[str, str]:
    """A CI job's environment: flags in DLI_WATCHER_* variables, no config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "HTTP", "HUAWEICLOUD"))}
    env.update(
        DLI_WATCHER_ENDPOINT=endpoint,
        DLI_WATCHER_PROJECT_ID=PROJECT,
        DLI_WATCHER_AUTH="none",
        DLI_WATCHER_CONFIG="/nonexistent/config.toml",
        no_proxy="*",
    )
    env.update(extra)
    return env


def run_all(commands: list[tuple[list[str], dict[str, str]]]) -> list[Any]:
    """Run the commands side by side (each waits on the network, not the CPU); their results in order."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "watcher", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, env in commands
    ]
    return [(p.wait(timeout=90), *p.communicate()) for p in procs]


def assert_one_line(stderr: str, *needles: str) -> None:
    """Exactly one line, no traceback, naming what it must."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_refused_port_and_an_unknown_host_exit_7_with_one_line():
    """`wait` stops after --unreachable-timeout; logs and ls once their retries are spent: exit 7, one line each."""
    refused = env_for(f"http://127.0.0.1:{closed_port()}")
    unknown = env_for("http://dli.no-such-host.invalid")
    results = run_all(
        [
            (["wait", GOOD, BAD, *FAST], refused),
            (["logs", GOOD, *FAST], refused),
            (["ls"], refused),
            (["wait", GOOD, *FAST], unknown),
            (["ls"], unknown),
        ]
    )
    for code, out, err in results:
        assert code == 7, err
        assert out == ""
    wait_refused, logs_refused, ls_refused, wait_unknown, ls_unknown = (err for _, _, err in results)
    lines = wait_refused.strip().splitlines()
    assert len(lines) == 2 and all("connection refused" in line and "for 1s in a row" in line for line in lines)
    assert_one_line(logs_refused, GOOD, "connection refused")
    assert_one_line(ls_refused, "ls", "connection refused")
    assert_one_line(wait_unknown, GOOD, "name not resolved")
    assert_one_line(ls_unknown, "name not resolved")


def test_throttling_for_ever_is_not_unreachable_but_503_is():
    """429 without end is an answer (the --timeout decides: 6); DLI.0999 on 503 is no answer (7)."""
    with HostileServer("retry-429-seconds") as throttled, HostileServer("retry-503-seconds") as busy:
        results = run_all(
            [
                (["wait", BAD, "--timeout", "3s", *FAST], env_for(throttled.url)),
                (["wait", BAD, "--timeout", "30s", *FAST], env_for(busy.url)),
            ]
        )
    (slow, _, slow_err), (gone, _, gone_err) = results
    assert slow == 6, slow_err
    assert gone == 7, gone_err
    assert "DLI.0999" in gone_err or "503" in gone_err or "Service unavailable" in gone_err


def test_rejected_credentials_exit_2_at_once_everywhere(tmp_path: Path):
    """401 on every API path: wait, logs and ls exit 2 with one line; so does IAM refusing the login."""
    with HostileServer("api-401") as refusing, HostileServer("iam-401") as iam:
        env = env_for(refusing.url, DLI_WATCHER_AUTH="token", DLI_TOKEN="wrong-token")
        config = tmp_path / "config.toml"
        config.write_text(
            f'[api]\nendpoint = "{iam.url}"\nproject_id = "{PROJECT}"\n'
            '[auth]\nmethod = "password"\nuser = "u"\ndomain = "d"\nproject_name = "p"\n'
            f'password_env = "DLI_PASSWORD"\niam_endpoint = "{iam.url}"\n',
            encoding="utf-8",
        )
        iam_env = {**env_for(iam.url), "DLI_PASSWORD": "wrong"}
        results = run_all(
            [
                (["wait", BAD, "--unreachable-timeout", "0", "--interval", "0.1"], env),
                (["logs", BAD], env),
                (["ls"], env),
                (["wait", BAD, "--config", str(config), "--unreachable-timeout", "0"], iam_env),
            ]
        )
    for code, out, err in results:
        assert code == 2, err
        assert out == ""
        assert_one_line(err, "rejected")
    assert "wrong-token" not in "".join(err for _, _, err in results)
