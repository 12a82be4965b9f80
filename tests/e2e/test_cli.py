"""The ``dli-watcher`` command line as people run it: subprocesses, exit codes, stderr, a live simulator."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from watcher import __version__
from watcher.config.flags import Flags
from watcher.config.settings import Config
from watcher.simulator import SimAuth, SimServer, World
from watcher.simulator.cli import (
    EXAMPLE_AK,
    EXAMPLE_DOMAIN,
    EXAMPLE_PASSWORD,
    EXAMPLE_SK,
    EXAMPLE_TOKEN,
    EXAMPLE_USER,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


ROOT = Path(__file__).resolve().parents[2]
PID = "0123456789abcdef0123456789abcdef"
UNKNOWN_ID = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"
TIMEOUT = 20


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without credentials, proxies or systemd, plus ``extra``."""
    drop = ("HUAWEICLOUD_SDK_", "DLI_", "CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and not k.lower().endswith("_proxy") and k.lower() != "proxy"
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**env, **extra}


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m watcher ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        cwd=cwd or ROOT,
        timeout=TIMEOUT,
        check=False,
    )


def toml_value(value: object) -> str:
    """A TOML literal for a str, number, bool or list of those (JSON's spelling is TOML's here)."""
    return json.dumps(value)


def write_config(path: Path, sections: dict[str, dict[str, object]]) -> Path:
    """Write ``sections`` as a TOML file."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config_for(server: SimServer, batch_ids: list[str], auth: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """A config pointing at an in-thread simulator."""
    world = server.world
    api: dict[str, object] = {"flavor": world.flavor, "endpoint": server.url, "timeout_seconds": 5}
    if world.flavor == "dli":
        api["project_id"] = world.project_id
    # a free port: another watcher on this machine may hold the default one
    return {"api": api, "auth": dict(auth), "watch": {"batch_ids": batch_ids}, "metrics": {"listen": "127.0.0.1:0"}}


def assert_one_clean_line(stderr: str, *needles: str) -> str:
    """The captured stderr is exactly one line, holds every needle, and no traceback."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --- config errors exit 2 with one line -----------------------------------------------------------

GOOD_API = f'[api]\nendpoint = "https://dli.cn-north-4.myhuaweicloud.com"\nproject_id = "{PID}"\n'
NO_AUTH = '[auth]\nmethod = "none"\n'

BAD_CONFIGS = [
    pytest.param(GOOD_API + NO_AUTH + "[metric]\nlisten = '127.0.0.1:1'\n", "metric", id="unknown-section"),
    pytest.param(f'[api]\nendpont = "https://x.example"\nproject_id = "{PID}"\n', "api.endpont", id="unknown-key"),
    pytest.param(
        GOOD_API + NO_AUTH + '[watch]\ninterval_seconds = "15"\n',
        "watch.interval_seconds",
        id="str-for-number",
    ),
    pytest.param(GOOD_API + NO_AUTH + "[watch]\nconcurrency = true\n", "watch.concurrency", id="bool-for-int"),
    pytest.param(GOOD_API + NO_AUTH + "[watch]\ninterval_seconds = nan\n", "watch.interval_seconds", id="nan"),
    pytest.param(f'[api]\nproject_id = "{PID}"\n', "api.endpoint", id="missing-endpoint"),
    pytest.param(f'[api]\nendpoint = "ftp://dli.example"\nproject_id = "{PID}"\n', "api.endpoint", id="ftp-url"),
    pytest.param('[api]\nendpoint = "http://[::1"\nproject_id = "x"\n', "api.endpoint", id="broken-ipv6-url"),
    pytest.param('[api]\nendpoint = "https://dli.example"\n', "api.project_id", id="missing-project-id"),
    pytest.param(GOOD_API + NO_AUTH + '[events]\nlevel = "trace"\n', "events.level", id="bad-level"),
    pytest.param('[api]\nflavor = "emr"\nendpoint = "https://x.example"\n', "api.flavor", id="bad-flavor"),
    pytest.param(
        GOOD_API + NO_AUTH + f'[watch]\nbatch_ids = ["{UNKNOWN_ID}", "{UNKNOWN_ID}"]\n',
        "watch.batch_ids[1]",
        id="duplicate-id",
    ),
    pytest.param(GOOD_API + NO_AUTH + '[watch]\nbatch_ids = ["42"]\n', "watch.batch_ids[0]", id="not-a-uuid"),
    pytest.param(GOOD_API + NO_AUTH + '[metrics]\nlisten = "127.0.0.1"\n', "metrics.listen", id="listen-no-port"),
    pytest.param(GOOD_API + NO_AUTH + '[metrics]\nlisten = "127.0.0.1:70000"\n', "metrics.listen", id="listen-port"),
    pytest.param(
        GOOD_API + NO_AUTH + '[watch]\nbatch_ids_file = "/nonexistent/ids"\n',
        "watch.batch_ids_file",
        id="ids-file",
    ),
    pytest.param(GOOD_API + '[auth]\nmethod = "aksk"\n', "HUAWEICLOUD_SDK_AK", id="missing-secret-env"),
    pytest.param(
        GOOD_API + '[auth]\nmethod = "password"\nuser = "u"\ndomain = "d"\n',
        "auth.project_name",
        id="password-needs-project",
    ),
    pytest.param(
        GOOD_API + '[auth]\nmethod = "token"\ntoken_file = "/nonexistent/token"\n',
        "auth.token_file",
        id="secret-file",
    ),
    pytest.param(GOOD_API + '"weird\\nkey" = 1\n', "api.weird", id="newline-in-key"),
    pytest.param("[api\nendpoint = 1\n", "--config", id="not-toml"),
]


@pytest.mark.parametrize(("text", "key"), BAD_CONFIGS)
def test_bad_config_exits_2_with_a_line_per_problem_naming_the_key(tmp_path, text, key):
    """``check`` on a bad config: exit 2, one stderr line per problem, one naming the dotted key, nothing on stdout."""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    result = cli("check", "--config", str(path))
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert all(line.startswith("dli-watcher: config error: ") for line in lines), lines
    assert any(key in line for line in lines), (key, lines)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("text", "key"), [BAD_CONFIGS[1], BAD_CONFIGS[16]])
def test_run_rejects_a_bad_config_the_same_way(tmp_path, text, key):
    """``run`` validates before doing anything: exit 2, a clean line per problem (one names the key), no events."""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    result = cli("run", "--config", str(path))
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert all(line.startswith("dli-watcher: config error: ") for line in lines), result.stderr
    assert any(key in line for line in lines), (key, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_run_reports_every_problem_at_once_as_check_offline_does(tmp_path):
    """Three problems in one file: ``run`` names all three, the same lines as ``check --offline``."""
    path = tmp_path / "config.toml"
    text = GOOD_API + NO_AUTH + '[watch]\nbatch_ids = ["x"]\ninterval_seconds = "15"\nconcurrency = true\n'
    path.write_text(text + '[events]\nlevel = "trace"\n', encoding="utf-8")
    run = cli("run", "--config", str(path))
    check = cli("check", "--offline", "--config", str(path))
    assert (run.returncode, check.returncode) == (2, 2)
    assert len(run.stderr.splitlines()) >= 3
    assert run.stderr == check.stderr


def test_exporter_toolkit_flags_beside_ours():
    """--log.format with a format we do not have exits 2 listing ours; --log.level takes warn; flags set keys."""
    bad = cli("run", "--log.format", "logfmt")
    assert bad.returncode == 2
    assert all(name in bad.stderr for name in ("json", "ecs", "readable", "console", "auto"))
    from watcher import cli as entry  # noqa: PLC0415 - the parser itself, without another subprocess

    argv = ["run", "--log.level", "warn", "--log.format", "ecs", "--web.listen-address", "[::1]:9100"]
    flags = Flags.of(entry.parser().parse_args([*argv, "--web.enable-lifecycle"]))
    cfg = flags.apply(Config())
    assert (cfg.events.level, cfg.events.format) == ("warning", "ecs")
    assert (cfg.metrics.host, cfg.metrics.port, cfg.metrics.enable_lifecycle) == ("::1", 9100, True)


def test_missing_config_file_names_the_path(tmp_path):
    """A config path that does not exist: exit 2 and the path in the one line."""
    path = tmp_path / "no" / "such.toml"
    result = cli("check", "--config", str(path))
    assert result.returncode == 2
    assert_one_clean_line(result.stderr, "--config", str(path), "No such file")


def test_default_config_path_comes_from_the_environment(tmp_path):
    """Without ``--config``, ``$DLI_WATCHER_CONFIG`` is the file read (and named when it is missing)."""
    path = tmp_path / "from-env.toml"
    result = cli("run", env=clean_env(DLI_WATCHER_CONFIG=str(path)))
    assert result.returncode == 2
    assert_one_clean_line(result.stderr, str(path))


def test_version():
    """``--version`` prints the package version and exits 0."""
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"dli-watcher {__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)


def test_no_command_is_a_usage_error():
    """No subcommand is argparse's usage error (exit 2), not a traceback."""
    result = cli()
    assert result.returncode == 2
    assert "usage: dli-watcher" in result.stderr
    assert "Traceback" not in result.stderr


# --- check against a live simulator ------------------------------------------------------------------


@contextmanager
def serve(auth: SimAuth | None = None, flavor: str = "dli") -> Iterator[tuple[SimServer, list[str]]]:
    """A simulator in a thread with two batches: daily-etl running, ml-train finished."""
    world = World(flavor)  # type: ignore[arg-type]
    etl = world.add_batch(name="daily-etl", queue="etl-queue")
    world.set_state(etl, "running")
    train = world.add_batch(name="ml-train", queue="gpu-queue")
    world.set_state(train, "success")
    server = SimServer(world, auth)
    server.start_in_thread()
    try:
        yield server, [etl, train]
    finally:
        server.stop()


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The check's batch table keyed by batch ID (it follows the findings); the header row must be there."""
    lines = stdout.splitlines()
    header = next((n for n, line in enumerate(lines) if line.startswith("BATCH ")), None)
    assert header is not None, stdout
    assert lines[header].split()[:4] == ["BATCH", "STATE", "JOB", "QUEUE"], stdout
    return {line.split()[0]: line.split() for line in lines[header + 1 :]}


def findings(stdout: str) -> dict[str, tuple[str, str]]:
    """The check's findings table: name -> (result, detail)."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "DETAIL"], stdout
    out = {}
    for line in lines[1:]:
        if not line.strip():
            break
        name, result, detail = line.split(None, 2)
        out[name] = (result, detail)
    return out


def assert_table_shows_both(stdout: str, ids: list[str], *, livy: bool = False) -> None:
    """Both simulator batches appear with their state, job and queue (Livy has no queue)."""
    rows = table_rows(stdout)
    assert set(rows) == set(ids)
    assert rows[ids[0]][1:4] == ["running", "daily-etl", "-" if livy else "etl-queue"]
    assert rows[ids[1]][1:4] == ["success", "ml-train", "-" if livy else "gpu-queue"]


SIM_USERS = {EXAMPLE_USER: EXAMPLE_PASSWORD}


def auth_cases(token: str, sk: str, password: str) -> list[object]:
    """(simulator auth, [auth] table, env) for each method that needs a secret, with the given secret values."""
    return [
        pytest.param(
            SimAuth(mode="token", tokens=(EXAMPLE_TOKEN,)), {"method": "token"}, {"DLI_TOKEN": token}, id="token"
        ),
        pytest.param(
            SimAuth(mode="aksk", keys={EXAMPLE_AK: EXAMPLE_SK}),
            {"method": "aksk"},
            {"HUAWEICLOUD_SDK_AK": EXAMPLE_AK, "HUAWEICLOUD_SDK_SK": sk},
            id="aksk",
        ),
        pytest.param(
            SimAuth(mode="token", users=SIM_USERS, domain=EXAMPLE_DOMAIN),
            {"method": "password", "user": EXAMPLE_USER, "domain": EXAMPLE_DOMAIN, "project_name": "cn-north-4"},
            {"DLI_PASSWORD": password},
            id="password",
        ),
    ]


AUTH_CASES = [
    pytest.param(SimAuth(), {"method": "none"}, {}, id="none"),
    *auth_cases(EXAMPLE_TOKEN, EXAMPLE_SK, EXAMPLE_PASSWORD),
]


@pytest.mark.parametrize(("sim_auth", "auth", "secrets"), AUTH_CASES)
def test_check_prints_each_batch_state(tmp_path, sim_auth, auth, secrets):
    """With working credentials of each method, ``check`` prints every batch's state and exits 0."""
    with serve(sim_auth) as (server, ids):
        if auth["method"] == "password":
            auth = {**auth, "iam_endpoint": server.url}  # the simulator is its own IAM
        path = write_config(tmp_path / "c.toml", config_for(server, ids, auth))
        result = cli("check", "--config", str(path), env=clean_env(**secrets))
        if auth["method"] == "password":
            assert server.requests["iam"] >= 1
    assert result.returncode == 0, result
    assert result.stderr == ""
    assert_table_shows_both(result.stdout, ids)


def test_check_json(tmp_path):
    """``--json`` prints a JSON array with one object per batch, in config order."""
    with serve() as (server, ids):
        path = write_config(tmp_path / "c.toml", config_for(server, [ids[1], ids[0]], {"method": "none"}))
        result = cli("check", "--json", "--config", str(path))
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert {c["check"]: c["status"] for c in report["checks"]} == {
        "config": "ok",
        "watch": "ok",
        "route": "ok",
        "state": "skipped",
        "listen": "ok",
        "status": "ok",
    }
    rows = report["batches"]
    assert [r["batch_id"] for r in rows] == [ids[1], ids[0]]
    assert [(r["ok"], r["state"], r["job_name"], r["queue"], r["error"]) for r in rows] == [
        (True, "success", "ml-train", "gpu-queue", None),
        (True, "running", "daily-etl", "etl-queue", None),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["update_time"]) for r in rows)


def test_check_secrets_from_credentials_directory(tmp_path):
    """AK/SK files in ``$CREDENTIALS_DIRECTORY`` (systemd LoadCredential=) are used by ``check``."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "access_key").write_text(EXAMPLE_AK + "\n", encoding="utf-8")
    (creds / "secret_key").write_text(EXAMPLE_SK + "\n", encoding="utf-8")
    auth = {"method": "aksk", "access_key_file": "access_key", "secret_key_file": "secret_key"}
    with serve(SimAuth(mode="aksk", keys={EXAMPLE_AK: EXAMPLE_SK})) as (server, ids):
        path = write_config(tmp_path / "c.toml", config_for(server, ids, auth))
        result = cli("check", "--config", str(path), env=clean_env(CREDENTIALS_DIRECTORY=str(creds)))
    assert result.returncode == 0, result
    assert_table_shows_both(result.stdout, ids)


def test_check_livy(tmp_path):
    """Livy's integer batch IDs work end to end, without a project ID or credentials."""
    with serve(flavor="livy") as (server, ids):
        assert ids == ["1", "2"]
        path = write_config(tmp_path / "c.toml", config_for(server, ids, {"method": "none"}))
        result = cli("check", "--config", str(path))
    assert result.returncode == 0, result
    assert_table_shows_both(result.stdout, ids, livy=True)


WRONG = "wrong-secret-value-7f3a9c"
WRONG_SECRET_CASES = auth_cases(WRONG, WRONG, WRONG)


@pytest.mark.parametrize(("sim_auth", "auth", "secrets"), WRONG_SECRET_CASES)
def test_check_wrong_secret_exits_2_without_showing_it(tmp_path, sim_auth, auth, secrets):
    """Rejected credentials: exit 2, one line saying so, and the secret nowhere in the output."""
    with serve(sim_auth) as (server, ids):
        if auth["method"] == "password":
            auth = {**auth, "iam_endpoint": server.url}
        path = write_config(tmp_path / "c.toml", config_for(server, ids, auth))
        result = cli("check", "--config", str(path), env=clean_env(**secrets))
    assert result.returncode == 2, result
    assert_one_clean_line(result.stderr, "credentials rejected", f"auth.method {auth['method']}")
    assert WRONG not in result.stdout + result.stderr
    assert EXAMPLE_SK not in result.stdout + result.stderr
    assert set(table_rows(result.stdout)) == set(ids)


def test_check_unknown_batch_exits_1(tmp_path):
    """One batch the API does not know: the others are still shown, the unknown one says not_found, exit 1."""
    with serve() as (server, ids):
        path = write_config(tmp_path / "c.toml", config_for(server, [ids[0], UNKNOWN_ID], {"method": "none"}))
        result = cli("check", "--config", str(path))
        as_json = cli("check", "--json", "--config", str(path))
    assert result.returncode == 1, result
    assert result.stderr == ""
    rows = table_rows(result.stdout)
    assert rows[ids[0]][1] == "running"
    assert rows[UNKNOWN_ID][1:4] == ["-", "-", "-"]
    assert rows[UNKNOWN_ID][4].startswith("not_found:")
    assert as_json.returncode == 1
    assert [r["ok"] for r in json.loads(as_json.stdout)["batches"]] == [True, False]


def test_check_unreachable_api_exits_1(tmp_path):
    """Nothing listening: a connect error per batch, exit 1 (not a credentials problem), no traceback."""
    with serve() as (server, ids):
        cfg = config_for(server, ids, {"method": "none"})
    # the server has stopped: its port refuses connections now
    result = cli("check", "--config", str(write_config(tmp_path / "c.toml", cfg)))
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    rows = table_rows(result.stdout)
    assert all(row[4].startswith("connect:") for row in rows.values())


def test_check_unreachable_iam_is_not_a_credentials_error(tmp_path):
    """Password auth with IAM down fails the check (exit 1) without blaming the credentials."""
    with serve() as (dead, _):
        iam_url = dead.url
    with serve(SimAuth(mode="token", users=SIM_USERS, domain=EXAMPLE_DOMAIN)) as (server, ids):
        auth = {
            "method": "password",
            "user": EXAMPLE_USER,
            "domain": EXAMPLE_DOMAIN,
            "project_name": "p",
            "iam_endpoint": iam_url,
        }
        path = write_config(tmp_path / "c.toml", config_for(server, ids, auth))
        result = cli("check", "--config", str(path), env=clean_env(DLI_PASSWORD=EXAMPLE_PASSWORD))
    assert result.returncode == 1, result
    assert "credentials rejected" not in result.stderr
    assert EXAMPLE_PASSWORD not in result.stdout + result.stderr


# --- the simulator as a subprocess ------------------------------------------------------------------


def read_until(proc: subprocess.Popen[bytes], marker: str, deadline: float) -> list[str]:
    """Lines of the process's stdout up to and including the one containing ``marker``."""
    assert proc.stdout is not None
    fd, buffer, lines = proc.stdout.fileno(), b"", list[str]()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        if ready and not chunk:
            break  # EOF: the process exited
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        lines.extend(line.decode() for line in complete)
        if any(marker in line for line in lines):
            return lines
    pytest.fail(f"no {marker!r} from the simulator; got {lines!r} and {buffer!r}")


SCENARIO = """
[[steps]]
at = 0
action = "add"
batch = "etl"
name = "daily-etl"
queue = "etl-queue"

[[steps]]
at = 0
action = "state"
batch = "etl"
state = "running"
"""


def test_simulate_subprocess_serves_check(tmp_path):
    """``simulate --port 0`` prints its URL and batches; ``check`` reads them; SIGTERM stops it with 0."""
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    args = ["simulate", "--port", "0", "--auth", "token", "--scenario", str(scenario)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        cwd=ROOT,
    )
    try:
        lines = read_until(proc, "scenario finished", time.monotonic() + TIMEOUT)
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)$", lines[0])
        assert url is not None, lines
        assert f"project_id: {PID}" in lines
        assert any(EXAMPLE_TOKEN in line for line in lines)
        batch = re.search(r"daily-etl\s+(\S+)$", "\n".join(lines), re.MULTILINE)
        assert batch is not None, lines
        cfg: dict[str, dict[str, object]] = {
            "api": {"endpoint": url.group(1), "project_id": PID},
            "auth": {"method": "token"},
            "watch": {"batch_ids": [batch.group(1)]},
        }
        path = write_config(tmp_path / "c.toml", cfg)
        result = cli("check", "--config", str(path), env=clean_env(DLI_TOKEN=EXAMPLE_TOKEN))
        assert result.returncode == 0, result
        assert table_rows(result.stdout)[batch.group(1)][1:4] == ["running", "daily-etl", "etl-queue"]
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_simulate_bad_scenario_exits_2(tmp_path):
    """A scenario that does not parse is reported in one line with exit 2, before listening."""
    scenario = tmp_path / "bad.toml"
    scenario.write_text('[[steps]]\nat = -1\naction = "add"\nbatch = "x"\n', encoding="utf-8")
    result = cli("simulate", "--port", "0", "--scenario", str(scenario))
    assert result.returncode == 2
    assert_one_clean_line(result.stderr, "simulate:", "'at' must be")
    assert result.stdout == ""
