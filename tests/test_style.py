"""The code stays as the project promises: ruff clean and formatted, mypy clean on watcher and tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ruff and mypy run as subprocesses

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
