"""A newcomer's machine: a missing system tool skips its tests naming the Debian package; in CI it fails them."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.conftest import lane_is_slow
from tests.tools import ROOT, in_ci, require, require_file

NO_TOOL = "dli-watcher-no-such-tool"
CI_RUN = ROOT / ".ci" / "run"
# the package argument of require(...) and require_file(...) calls, as the test modules make them
CALL = re.compile(r"""require(?:_file)?\(\s*[^,()]+,\s*"([^"]+)"\s*\)""")


def test_a_missing_tool_skips_naming_its_debian_package():
    """Outside CI the test is skipped, and the reason says what to install."""
    with pytest.raises(pytest.skip.Exception, match=f"{NO_TOOL} not found: install the Debian package 'some-pkg'"):
        require(NO_TOOL, "some-pkg", env={})
    with pytest.raises(pytest.skip.Exception, match="install the Debian package 'libx'"):
        require_file(Path("/nonexistent/libx.so.1"), "libx", env={"CI": "false"})


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes"])
def test_under_ci_a_missing_tool_is_a_failure(value):
    """With CI=true a missing tool fails the test, so CI cannot pass by skipping what it should run."""
    with pytest.raises(pytest.fail.Exception, match=f"{NO_TOOL} not found: .*'some-pkg'.*CI=true"):
        require(NO_TOOL, "some-pkg", env={"CI": value})
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_file(Path("/nonexistent/libx.so.1"), "libx", env={"CI": value})


def test_a_present_tool_is_found_in_and_out_of_ci():
    """A tool on PATH (the shell) gives its path whatever CI says; an existing file is returned as is."""
    for env in ({}, {"CI": "true"}):
        assert Path(require("sh", "dash", env=env)).name == "sh"
        assert require_file(Path(sys.executable), "python3", env=env) == Path(sys.executable)
    assert not in_ci({}) and not in_ci({"CI": ""}) and in_ci({"CI": "true"})


def _ci_packages() -> set[str]:
    """The packages .ci/run installs with apt-get (the continued command line)."""
    text = CI_RUN.read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if "apt-get install" in ln)
    return {
        word for word in line.split() if not word.startswith("-") and word not in {"apt-get", "install", ">/dev/null"}
    }


def test_ci_sets_ci_and_installs_every_package_the_tests_and_readme_name():
    """.ci/run exports CI=true; the packages it installs are the README's, and cover every require() in tests/."""
    assert re.search(r"^export CI=true$", CI_RUN.read_text(encoding="utf-8"), re.MULTILINE)
    installed = _ci_packages()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("Some tests use real tools") :].split("\n\n")[0]
    named = set(re.findall(r"`([\w.-]+)`", paragraph))
    assert installed <= named, f"installed by .ci/run but not in the README: {installed - named}"
    required = {m.group(1) for path in (ROOT / "tests").rglob("*.py") for m in CALL.finditer(path.read_text("utf-8"))}
    required -= {"some-pkg", "libx", "dash", "python3"}  # this module's own examples
    assert required, "no test asks for a tool: the pattern is stale"
    assert required <= installed, f"tests need packages .ci/run does not install: {required - installed}"


def test_the_slow_lane_is_e2e_and_deploy_by_path():
    """tests/e2e and tests/deploy are slow wherever pytest is started from; the other folders and the top are not."""
    tests = ROOT / "tests"
    assert lane_is_slow(tests / "e2e" / "test_daemon.py") and lane_is_slow(tests / "deploy" / "test_x.py")
    assert not lane_is_slow(tests / "daemon" / "test_poller.py") and not lane_is_slow(tests / "test_tools.py")
    assert not lane_is_slow(ROOT / "e2e" / "test_x.py")  # outside tests/: not ours to judge
