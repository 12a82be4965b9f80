"""Developer sessions: ``nox -l`` lists them, ``nox`` runs lint, type and test-fast, ``nox -s NAME`` one of them.

Each session has its own venv (``-R`` reuses it without reinstalling); the tool versions are pyproject's extras.
"""

import nox

nox.options.sessions = ["lint", "type", "test-fast"]
nox.options.reuse_venv = "yes"
nox.options.envdir = ".venv-nox"  # .gitignore already covers .venv*/
LINT = nox.project.load_toml("pyproject.toml")["project"]["optional-dependencies"]["lint"]


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff: no finding and nothing to reformat, as tests/test_style.py checks."""
    session.install(*LINT)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(name="type")
def type_check(session: nox.Session) -> None:
    """Strict mypy over the watcher package (it needs the package's dependencies)."""
    session.install(".[lint]")
    session.run("mypy")


@nox.session(name="test-fast")
def test_fast(session: nox.Session) -> None:
    """The inner loop: every test but the slow end-to-end ones; extra arguments go to pytest."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", "-m", "not slow", "-n", "auto", *session.posargs)


@nox.session
def test(session: nox.Session) -> None:
    """The whole suite, as CI runs it (.ci/run); some tests need promtool and systemd-analyze."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", "-n", "auto", "--hypothesis-profile=full", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks' short run (the SDK baseline needs the test extra); ``-- --json out.json`` etc. pass on."""
    session.install(".[test,bench]")
    session.run("python", "tests/bench/run.py", "--quick", *session.posargs)
