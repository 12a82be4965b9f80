"""Release artifacts: LICENSE, metadata, sdist and wheel built and checked offline, installed, built as the image."""

from __future__ import annotations

import hashlib
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_deploy_container import CONTAINERFILE, instructions
from watcher.cli import main
from watcher.commands.shipped import EXAMPLE, SCHEMAS, shipped
from watcher.metrics.collectors import revision

# module-scoped fixtures: under pytest-xdist (--dist loadgroup) these tests share a worker, so
# the artifacts are built once
pytestmark = pytest.mark.xdist_group("test_release")

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
URLS: dict[str, str] = PYPROJECT["urls"]
# sha256 of the Apache License 2.0 as apache.org publishes it (https://www.apache.org/licenses/LICENSE-2.0.txt)
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
BUILDARGS: dict[str, Any] = runpy.run_path(str(ROOT / "deploy" / "container" / "buildargs.py"))
# what the sdist must hold to run the tests, beyond the package
SDIST_TREES = ("tests/", "deploy/", "schema/", ".ci/")
SDIST_FILES = ("LICENSE", "README.md", "CHANGELOG.md", "RELEASING.md", "config.example.toml", "pyproject.toml")
BUILD_TIMEOUT = 120


# --- metadata --------------------------------------------------------------------------------------------------


def test_license_is_the_apache_2_text_the_metadata_declares() -> None:
    """LICENSE is the whole Apache-2.0 text, and pyproject declares that license and ships that file."""
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    assert PYPROJECT["license"] == "Apache-2.0"
    assert PYPROJECT["license-files"] == ["LICENSE"]
    classifiers = PYPROJECT["classifiers"]
    assert not [c for c in classifiers if c.startswith("License ::")], "PEP 639: the license expression, no classifier"
    assert {"Topic :: System :: Monitoring", "Topic :: System :: Logging"} <= set(classifiers)
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert "monitoring" in PYPROJECT["keywords"]


def test_the_project_addresses_are_pyprojects_everywhere() -> None:
    """The README's links, the mixin's runbook base, the rendered alerts and the image labels are pyproject's URLs."""
    assert set(URLS) == {"Homepage", "Documentation", "Changelog", "Issues"}
    home = URLS["Homepage"]
    assert all(url.startswith(home) for url in URLS.values()), URLS
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, url in URLS.items():
        assert f"[{name}]({url})" in readme, name
    mixin = (ROOT / "deploy" / "mixin" / "config.libsonnet").read_text(encoding="utf-8")
    (base,) = re.findall(r"runbookURLBase: '([^']*)'", mixin)
    assert base == URLS["Documentation"]
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    runbooks = [rule["annotations"]["runbook_url"] for group in rules["groups"] for rule in group["rules"]]
    assert runbooks
    assert all(url == f"{base}#{url.rpartition('#')[2]}" for url in runbooks), runbooks
    for anchor in {url.rpartition("#")[2] for url in runbooks}:
        assert re.search(rf"^#+ {anchor}$", readme, re.IGNORECASE | re.MULTILINE), f"no README section #{anchor}"
    labels = image_labels()
    assert labels["org.opencontainers.image.source"] == home
    assert labels["org.opencontainers.image.url"] == home
    assert labels["org.opencontainers.image.documentation"] == URLS["Documentation"]
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["license"]
    assert labels["org.opencontainers.image.description"] == PYPROJECT["description"]
    leftovers = [p for p in (ROOT / "deploy").rglob("*") if p.is_file() and "github.com/OWNER" in p.read_text()]
    assert not leftovers


def test_the_package_ships_the_repository_files(capsys: pytest.CaptureFixture[str]) -> None:
    """`config example` and `config schema [--ecs]` print the repository's files: one copy of each, linked in."""
    pairs = {EXAMPLE: ROOT / "config.example.toml"} | {n: ROOT / "schema" / n for n in SCHEMAS.values()}
    for name, source in pairs.items():
        linked = ROOT / "watcher" / "data" / name
        if (ROOT / ".git").exists():  # a checkout; an unpacked sdist holds copies
            assert linked.is_symlink(), f"{linked} must link to {source}, so there is one file to edit"
            assert linked.resolve() == source.resolve()
        assert shipped(name) == source.read_text(encoding="utf-8")
    for argv, source in [
        (["config", "example"], pairs[EXAMPLE]),
        (["config", "schema"], pairs[SCHEMAS["json"]]),
        (["config", "schema", "--ecs"], pairs[SCHEMAS["ecs"]]),
    ]:
        assert main(argv) == 0
        assert capsys.readouterr().out == source.read_text(encoding="utf-8"), argv


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.2.0.dev5+g1a2b3c4.d20261207", "1a2b3c4"),
        ("1.4.0", ""),
        ("0.0.0+unknown", "unknown"),
        ("1.4.0+local", "unknown"),
    ],
)
def test_build_info_revision_never_mistakes_an_unknown_build_for_a_release(version: str, expected: str) -> None:
    """Only a version without a local part reads as a tagged release (revision ""); one without a commit is unknown."""
    assert revision(version) == expected


REV = "0123abc" + "4" * 33


@pytest.mark.parametrize(
    ("version", "rev", "refused"),
    [
        ("0.0.0+unknown", "", ""),
        ("1.4.0", REV, ""),
        ("1.4.0rc1", REV, ""),
        ("1.5.0.dev3+g0123abc", REV, ""),
        ("1.5.0.dev3+g0123abc.d20261207", "", ""),
        ("1.4.0", "", "would read as the tagged release"),
        ("1.5.0.dev3", REV, "dev version without its commit"),
        ("1.5.0.dev3+g0123abd", REV, "not REVISION"),
        ("v1.4.0", REV, "not a version"),
        ("", "", "not a version"),
        ("1.4.0", "HEAD", "not a git commit"),
    ],
)
def test_the_image_build_arguments_are_checked(version: str, rev: str, refused: str) -> None:
    """buildargs.py lets a consistent VERSION/REVISION pair through and names what is wrong with any other."""
    reason = BUILDARGS["problem"](version, rev)
    assert (reason == "") == (refused == ""), reason
    assert refused in reason


def image_labels() -> dict[str, str]:
    """The final stage's LABELs as written (ARG references unexpanded)."""
    steps = instructions(CONTAINERFILE.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for keyword, args in steps:
        if keyword == "LABEL":
            found |= dict(re.findall(r'(\S+?)="([^"]*)"', args))
    return found


def image_args() -> dict[str, str]:
    """The Containerfile's global ARG defaults (the ones declared before the first FROM)."""
    steps = instructions(CONTAINERFILE.read_text(encoding="utf-8"))
    first_from = next(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    declared = [arg.partition("=") for keyword, arg in steps[:first_from] if keyword == "ARG"]
    return {name: default for name, _, default in declared}


def test_the_image_is_labelled_with_its_build_arguments_and_license() -> None:
    """VERSION and REVISION reach the wheel through SETUPTOOLS_SCM_PRETEND_VERSION and the labels; LICENSE is copied."""
    text = CONTAINERFILE.read_text(encoding="utf-8")
    args = image_args()
    assert args["VERSION"] == "0.0.0+unknown"
    assert args["REVISION"] == ""
    labels = image_labels()
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert labels["org.opencontainers.image.revision"] == "${REVISION}"
    assert re.search(r'buildargs\.py "\$\{VERSION\}" "\$\{REVISION\}"', text)
    assert 'SETUPTOOLS_SCM_PRETEND_VERSION="${VERSION}" python -m pip wheel' in text
    steps = instructions(text)
    final = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM") :]
    assert any(keyword == "COPY" and args.startswith("LICENSE ") for keyword, args in final)
    # each stage declares both again, or it would see them empty
    stage_args = [a for k, a in steps if k == "ARG"]
    assert stage_args.count("VERSION") == stage_args.count("REVISION") == 2


# --- the artifacts, built and installed for real ------------------------------------------------------------------


def run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run a command to its end; fail with its output when ``check`` and it exits non-zero."""
    result = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"{argv}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def tracked_files() -> list[str]:
    """The files of the tree as git has them (tracked, plus new ones not ignored); the walk without git."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT)
        return [name for name in listed.split("\0") if name and os.path.lexists(ROOT / name)]
    skip = {"__pycache__", ".git", ".hypothesis", "build", ".venv", ".mypy_cache", ".ruff_cache", "dist"}
    return [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*")
        if not p.is_dir() and not skip & set(p.relative_to(ROOT).parts) and ".egg-info" not in str(p)
    ]


def copy_tree(names: list[str], target: Path) -> Path:
    """Copy ``names`` (paths relative to the repository) to ``target``, links as links, no .git."""
    for name in names:
        source, dest = ROOT / name, target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest, follow_symlinks=False)
    return target


def build_env(version: str) -> dict[str, str]:
    """The environment of a build that cannot use git: the version is given, as the Containerfile gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SETUPTOOLS_SCM")}
    return env | {"SETUPTOOLS_SCM_PRETEND_VERSION": version, "PIP_NO_INDEX": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def install_alone(wheel: Path, venv: Path) -> Path:
    """A --system-site-packages venv with only ``wheel`` installed into it (no dependency resolved, no index).

    The dependencies are this interpreter's: its site-packages is added as a plain path (so the watcher a
    developer installed there in editable mode is not), after the venv's own.
    """
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv, cwd=venv.parent)
    python = venv / "bin" / "python"
    purelib = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    assert purelib.is_dir()
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel, cwd=venv)
    # only now: before, pip would see this interpreter's own install of the same version and skip the wheel
    if sys.prefix != sys.base_prefix:
        (purelib / "outer-env.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    where = run(python, "-c", "import watcher; print(watcher.__file__)", cwd=venv).strip()
    assert Path(where).is_relative_to(venv), f"the installed wheel is not the one imported: {where}"
    return venv / "bin"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An sdist and a wheel built from it, of a copy of the tree without .git, as `python -m build` makes them."""
    base = tmp_path_factory.mktemp("artifacts")
    source = copy_tree(tracked_files(), base / "src")
    version = run(sys.executable, "-m", "setuptools_scm", cwd=ROOT).strip() if (ROOT / ".git").exists() else "0.0.0"
    build = ["-m", "build", "--no-isolation", "--outdir", str(base / "dist"), str(source)]
    run(sys.executable, *build, cwd=base, env=build_env(version))
    (sdist,) = (base / "dist").glob("*.tar.gz")
    (wheel,) = (base / "dist").glob("*.whl")
    return sdist, wheel


def test_both_artifacts_pass_twine_and_check_wheel_contents_and_carry_the_license(artifacts) -> None:
    """`twine check --strict` (metadata, README rendering) and check-wheel-contents pass; LICENSE is in both."""
    sdist, wheel = artifacts
    bin_dir = Path(sys.executable).parent
    run(bin_dir / "twine", "check", "--strict", sdist, wheel, cwd=sdist.parent)
    run(bin_dir / "check-wheel-contents", wheel, cwd=sdist.parent)
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = whl.read(metadata).decode()
        (license_name,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert hashlib.sha256(whl.read(license_name)).hexdigest() == APACHE_2_SHA256
        for name in [EXAMPLE, *SCHEMAS.values()]:
            assert whl.read(f"watcher/data/{name}").decode() == shipped(name), name
    assert "License-Expression: Apache-2.0" in meta
    assert "License-File: LICENSE" in meta
    for name, url in URLS.items():
        assert f"Project-URL: {name}, {url}" in meta
    assert "Classifier: Topic :: System :: Monitoring" in meta
    with tarfile.open(sdist) as tar:
        members = {m.name.partition("/")[2]: m for m in tar.getmembers()}
        license_file = tar.extractfile(members["LICENSE"])
        assert license_file is not None
        assert hashlib.sha256(license_file.read()).hexdigest() == APACHE_2_SHA256
    wanted = [n for n in tracked_files() if n.startswith(SDIST_TREES) or n in SDIST_FILES]
    missing = [n for n in wanted if n not in members]
    assert not missing, f"the sdist lacks what the tests need (MANIFEST.in): {missing[:10]}"
    assert "tests/deploy/test_release.py" in members


def test_the_wheel_installed_alone_runs_and_checks_the_example_it_prints(artifacts, tmp_path: Path) -> None:
    """The wheel alone in a venv: --version, `config example`, and `check --offline` on that example."""
    _, wheel = artifacts
    bin_dir = install_alone(wheel, tmp_path / "venv")
    version = wheel.name.split("-")[1]
    assert run(bin_dir / "dli-watcher", "--version", cwd=tmp_path).strip() == f"dli-watcher {version}"
    example = tmp_path / "config.toml"
    example.write_text(run(bin_dir / "dli-watcher", "config", "example", cwd=tmp_path), encoding="utf-8")
    assert example.read_text(encoding="utf-8") == (ROOT / "config.example.toml").read_text(encoding="utf-8")
    # as shipped the example watches nothing: the one edit every user makes, and the one problem reported
    check: list[str | Path] = [bin_dir / "dli-watcher", "check", "--offline", "--json", "--config", example]
    result = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert [p["key"] for p in json.loads(result.stdout)["problems"]] == ["watch.batch_ids"]
    text = example.read_text(encoding="utf-8")
    example.write_text(text.replace("batch_ids = []", 'batch_ids = ["0b9b2f7e-8d3c-4a1e-9f60-3c2d1e0f4a5b"]', 1))
    report = json.loads(run(*check, cwd=tmp_path))
    assert report["ok"] is True


# the Containerfile's own default arguments, and a dev build's (what RELEASING.md tells a maintainer to pass)
IMAGE_BUILDS = [None, ("1.5.0.dev3+g0123abc", REV)]
PROBE = """
import json, watcher
from watcher.metrics.collectors import build_info
from watcher.web.status.markup import page
(sample,) = build_info().samples
print(json.dumps({"labels": sample.labels, "page": page("t", ""), "file": watcher.__file__}))
"""
BUILD_WHEEL = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"


@pytest.mark.parametrize("given", IMAGE_BUILDS, ids=["defaults", "dev"])
def test_a_wheel_built_as_the_containerfile_builds_it_says_the_version_it_was_given(given, tmp_path: Path) -> None:
    """The builder COPYs (no .git), buildargs.py, the wheel as VERSION: --version, build_info, status page agree."""
    args = image_args()
    version, rev = given or (args["VERSION"], args["REVISION"])
    steps = instructions(CONTAINERFILE.read_text(encoding="utf-8"))
    builder = steps[: max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")]
    copies = [a.split()[:-1] for k, a in builder if k == "COPY" and "--from" not in a]
    names = [name for sources in copies for name in sources]
    assert {"pyproject.toml", "LICENSE", "watcher", "config.example.toml", "schema"} <= set(names)
    source = copy_tree(names, tmp_path / "src")
    assert not (source / ".git").exists()
    run(sys.executable, source / "deploy" / "container" / "buildargs.py", version, rev, cwd=source)
    # the backend `pip wheel .` calls in the image, called directly (pip's start-up costs more than the build)
    built = run(sys.executable, "-c", BUILD_WHEEL, tmp_path / "wheels", cwd=source, env=build_env(version)).split()[-1]
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(tmp_path / "wheels" / built) as wheel:
        wheel.extractall(unpacked)
    env = os.environ | {"PYTHONPATH": str(unpacked)}
    assert run(sys.executable, "-m", "watcher", "--version", cwd=tmp_path, env=env).strip() == f"dli-watcher {version}"
    probe = json.loads(run(sys.executable, "-c", PROBE, cwd=tmp_path, env=env))
    assert Path(probe["file"]).is_relative_to(unpacked), probe["file"]
    assert probe["labels"]["version"] == version
    assert f'<p class="muted">dli-watcher {version}</p>' in probe["page"]
    shown = probe["labels"]["revision"]
    assert shown != "", "an image whose commit is unknown must not read as a tagged release"
    assert shown == ("unknown" if not rev else rev[: len(shown)])
