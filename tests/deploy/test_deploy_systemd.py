"""Checks of deploy/systemd/: the unit with the real systemd-analyze, and its example config."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from tests.tools import require, run
from watcher.config import settings as watcher_config
from watcher.web.server import MAX_CONNECTIONS


def systemd_analyze() -> str:
    """Path of systemd-analyze."""
    return require("systemd-analyze", "systemd")


ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "dli-watcher.service"
CONFIG = ROOT / "deploy" / "systemd" / "config.toml"
SHIPPED_EXEC = "/usr/bin/dli-watcher"
MAX_EXPOSURE = 2.0

# Items of `systemd-analyze security` that a network client with a metrics port cannot pass.
ACCEPTED_EXPOSURES = frozenset(
    {
        "PrivateNetwork=",  # it talks to DLI and serves /metrics
        "RestrictAddressFamilies=~AF_(INET|INET6)",
        "RestrictAddressFamilies=~AF_UNIX",  # sd_notify and journald
        "IPAddressDeny=",  # the DLI endpoint's addresses are not known in advance
        "RootDirectory=/RootImage=",  # it runs the host's Python
        "DeviceAllow=",  # ProtectClock= grants char-rtc:r
    }
)


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit file as {section: {key: [values in order]}} (continuation lines joined)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"directive outside a section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture
def unit_copy(tmp_path: Path) -> Path:
    """The shipped unit in a temp dir, its ExecStart pointed at a stub executable (verify needs one)."""
    stub = tmp_path / "bin" / "dli-watcher"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = UNIT.read_text()
    assert f"ExecStart={SHIPPED_EXEC} " in text
    copy = tmp_path / "units" / UNIT.name
    copy.parent.mkdir()
    copy.write_text(text.replace(SHIPPED_EXEC, str(stub)))
    return copy


def test_unit_verifies_clean(unit_copy: Path) -> None:
    """`systemd-analyze verify` prints nothing and exits 0 for the unit."""
    result = run(systemd_analyze(), "verify", "--man=no", unit_copy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    assert result.stderr.strip() == ""


def test_verify_reports_mistakes(unit_copy: Path) -> None:
    """The verify check is live: a misspelt directive makes systemd-analyze complain."""
    unit_copy.write_text(unit_copy.read_text().replace("ProtectHome=yes", "ProtectHome=yes\nProtectHomme=yes"))
    result = run(systemd_analyze(), "verify", "--man=no", unit_copy)
    assert "ProtectHomme" in result.stdout + result.stderr


def test_security_exposure_is_low(unit_copy: Path) -> None:
    """`systemd-analyze security --offline=yes` rates the unit at most 2.0, failing only accepted items."""
    result = run(systemd_analyze(), "security", "--offline=yes", "--no-pager", unit_copy)
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for dli-watcher\.service: (\d+(?:\.\d+)?)", result.stdout)
    assert match, result.stdout
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, result.stdout

    as_json = run(systemd_analyze(), "security", "--offline=yes", "--json=short", unit_copy)
    assert as_json.returncode == 0, as_json.stderr
    items = json.loads(as_json.stdout)
    assert len(items) > 50
    failed = {item["name"] for item in items if not item["set"]}
    assert failed <= ACCEPTED_EXPOSURES, f"new exposures: {sorted(failed - ACCEPTED_EXPOSURES)}"


def test_unit_has_the_contracted_directives() -> None:
    """The unit is Type=notify with a watchdog, a dynamic user, state/config dirs and credentials."""
    service = parse_unit(UNIT.read_text())["Service"]
    single = {key: values[-1] for key, values in service.items()}
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "DynamicUser": "yes",
        "StateDirectory": "dli-watcher",
        "ConfigurationDirectory": "dli-watcher",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "MemoryDenyWriteExecute": "yes",
        "ProtectProc": "invisible",
        "ProcSubset": "pid",
        "UMask": "0077",
        "KillSignal": "SIGTERM",
        "SystemCallArchitectures": "native",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "ExecStart": f"{SHIPPED_EXEC} run --config /etc/dli-watcher/config.toml",
    }
    assert {key: single.get(key) for key in expected} == expected
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert re.fullmatch(r"\d+s", single["WatchdogSec"]), single["WatchdogSec"]
    assert re.fullmatch(r"\d+(s|min)", single["TimeoutStopSec"]), single["TimeoutStopSec"]
    # the metrics server takes half the descriptors for connections, up to its cap
    assert int(single["LimitNOFILE"]) >= 2 * MAX_CONNECTIONS
    # IPAddressDeny= must not cut the service off from the (unknown) DLI endpoint addresses.
    assert "any" not in single.get("IPAddressDeny", "").split()


def test_config_loads_with_the_unit_credentials(tmp_path: Path) -> None:
    """The example config passes the watcher's own validation, reading the unit's credentials."""
    data = tomllib.loads(CONFIG.read_text())
    assert data["watch"]["batch_ids_file"].startswith("/etc/dli-watcher/")
    ids_file = tmp_path / "batch_ids"  # the operator creates it; see deploy/README.md
    ids_file.write_text("# one batch ID per line\n0a324461-d9d9-45da-a52a-3b3c7a3d809e\n")
    data["watch"]["batch_ids_file"] = str(ids_file)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    names = [value.partition(":")[0] for value in parse_unit(UNIT.read_text())["Service"]["LoadCredential"]]
    for name in names:
        (credentials / name).write_text(f"fake-{name}\n")

    config = watcher_config.parse(data, {"CREDENTIALS_DIRECTORY": str(credentials)})

    assert config.auth.method == "aksk"
    assert sorted(names) == ["access_key", "secret_key"]
    assert (config.auth.access_key, config.auth.secret_key) == ("fake-access_key", "fake-secret_key")
    assert config.watch.batch_ids == ("0a324461-d9d9-45da-a52a-3b3c7a3d809e",)
    assert config.state.path.startswith("/var/lib/dli-watcher/")  # StateDirectory=dli-watcher
    assert (config.metrics.host, config.metrics.port) == ("127.0.0.1", 19847)
    assert config.events.format == "json"
