"""The code stays as the project promises: ruff clean and formatted, mypy clean on watcher and tests."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize("args", [("ruff", "check", "."), ("ruff", "format", "--check", ".")], ids=["lint", "format"])
def test_ruff(args):
    """Ruff finds nothing to report or reformat anywhere in the tree."""
    result = run(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict():
    """Mypy (configured in pyproject) is clean: strict on the watcher package, bodies checked in the tests."""
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checkers_are_the_pinned_ones():
    """The ruff and mypy that run are the exact versions the ``lint`` extra pins, so results match CI's."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    pins = dict(req.split("==") for req in extras["lint"])
    assert set(pins) == {"ruff", "mypy"}, extras["lint"]
    installed = {name: metadata.version(name) for name in pins}
    assert installed == pins, "reinstall: python -m pip install -e '.[lint]'"


def test_pre_commit_hooks_are_local():
    """The pre-commit hooks run the venv's tools and clone nothing."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = config["repos"][0]["hooks"]
    assert {hook["language"] for hook in hooks} == {"system"}
    assert [hook["entry"].split()[:2] for hook in hooks] == [["ruff", "check"], ["ruff", "format"], ["mypy"]]
