"""The layering is a contract: each subpackage imports only the layers below it, and the core does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "watcher"
# cli -> commands -> daemon -> {web, api, output} -> config -> core -> errors, web -> metrics -> core; the
# simulator is a peer of the daemon that shares the core and the signer. A layer may import itself and anything
# it lists.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "core": {"errors"},
    "config": {"core", "errors"},
    "api": {"config", "core", "errors"},
    "output": {"core", "errors"},
    "metrics": {"core", "errors"},
    "web": {"metrics", "core", "errors"},
    "simulator": {"api", "core", "errors"},
    "daemon": {"api", "config", "web", "metrics", "output", "core", "errors"},
    "commands": {"daemon", "simulator", "api", "config", "web", "metrics", "output", "core", "errors"},
    "cli": {"commands", "daemon", "simulator", "api", "config", "web", "metrics", "output", "core", "errors"},
}
# the core decides; it never reads a clock, a socket, a file or a database, and knows no library that does
CORE_FORBIDDEN = frozenset(
    {
        "aiohttp", "anyio", "asyncio", "httpx", "httpx_aiohttp", "os", "prometheus_client", "random",
        "socket", "sqlite3", "structlog", "subprocess", "threading", "time", "trio",
    }
)  # fmt: skip


def layer_of(module: str) -> str:
    """The layer of a ``watcher`` module: its subpackage, or the module itself at the top."""
    parts = module.split(".")
    if len(parts) == 1:
        return "cli"  # watcher/__init__.py, __main__.py
    if parts[1] in ALLOWED:
        return parts[1]
    return "cli" if parts[1] in {"cli", "__main__"} else parts[1]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """The dotted name of a file under ``watcher/``."""
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, type-checking-only ones included: they are dependencies too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "watcher":  # from watcher import x: x is a module or a name of the package
                found += [(node.lineno, f"watcher.{alias.name}") for alias in node.names]
    return found


def violations(package: Path = PACKAGE) -> list[str]:
    """Every import that crosses the layering the wrong way, as ``file:line: what``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        name = module_name(path, package)
        layer = layer_of(name)
        for line, target in imports(path):
            where = f"{path.relative_to(package.parent)}:{line}"
            top = target.split(".")[0]
            if layer == "core" and top in CORE_FORBIDDEN:
                found.append(f"{where}: the core imports {target}")
            if top != "watcher" or target in {"watcher", "watcher.__version__"}:
                continue
            other = layer_of(target)
            if other != layer and other not in ALLOWED[layer]:
                found.append(f"{where}: {layer} imports {other} ({target})")
    return found


def test_imports_follow_the_layers():
    """No module imports a layer above its own, and the core imports no I/O library nor the clock."""
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import anyio\n", "the core imports anyio"),
        ("from time import time\n", "the core imports time"),
        ("from watcher.daemon.app import Daemon\n", "core imports daemon"),
    ],
)
def test_the_contract_catches_a_leak(tmp_path, source, expected):
    """A core module importing anyio, the clock or the daemon is reported (the check can fail)."""
    core = tmp_path / "watcher" / "core"
    core.mkdir(parents=True)
    (core / "leak.py").write_text(source)
    assert any(expected in v for v in violations(tmp_path / "watcher"))


def test_metrics_cannot_reach_up_into_web(tmp_path):
    """The exposition stays below the server: metrics importing web is a violation, web importing metrics is not."""
    for layer, source in [
        ("metrics", "from watcher.web.server import MetricsServer\n"),
        ("web", "import watcher.metrics.exposition\n"),
    ]:
        (tmp_path / "watcher" / layer).mkdir(parents=True)
        (tmp_path / "watcher" / layer / "leak.py").write_text(source)
    assert violations(tmp_path / "watcher") == ["watcher/metrics/leak.py:1: metrics imports web (watcher.web.server)"]
