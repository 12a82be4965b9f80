"""Each config key declared once: every field declares its key, and the example, README and reloads follow it."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.helpers import make_config, start_watch
from watcher.commands.check import offline_report
from watcher.config.keys import RELOADS, Ctx, Deprecated, declared, file_keys
from watcher.config.reloadable import APPLIED, LOWER_ONLY
from watcher.config.settings import SECTION_TYPES, parse
from watcher.config.tomltable import Table
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from watcher.simulator import SimServer

ROOT = Path(__file__).resolve().parents[2]
DLI = "https://dli.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"
# keys the example fills with a sample value instead of the default (required ones, aksk for DLI, a sample path)
FILLED = {"api.endpoint", "api.project_id", "auth.method", "metrics.web_config_file"}


def example_values(text: str) -> dict[str, dict[str, object]]:
    """Each section's keys as the example shows them, commented-out ones (``# key = value``) included."""
    out: dict[str, dict[str, object]] = {}
    section = ""
    for line in text.splitlines():
        if m := re.fullmatch(r"\[(\w+)\]", line.strip()):
            section = m.group(1)
            out[section] = {}
        elif m := re.match(r"#? ?([a-z_]+) = (\S.*?)(?:\s+#.*)?$", line):
            try:
                out[section][m.group(1)] = tomllib.loads(f"v = {m.group(2)}")["v"]
            except tomllib.TOMLDecodeError:
                continue  # prose in a comment, not a key
    return out


def readme_reload_rows(text: str) -> dict[str, set[str]]:
    """The README's reload table: each row's dotted keys."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| reload: "):
            row, listed = line.split("|")[1:3]
            rows[row.strip()] = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", listed))
    return rows


ROW_OF = {
    "applied": "reload: applied at once",
    "lowered": "reload: applied when lowered",
    "restart": "reload: restart required",
}


def missing(example: str, readme: str) -> list[str]:
    """Each declared key the example or the README's reload table lacks (or lists under another reload class)."""
    shown, rows = example_values(example), readme_reload_rows(readme)
    out: list[str] = []
    for section, cls in SECTION_TYPES.items():
        for _, decl in declared(cls):
            dotted = f"{section}.{decl.name}"
            names = (k.format(decl.name) for k in decl.file_keys or (decl.name,))
            out.extend(f"{section}.{n}: not in config.example.toml" for n in names if n not in shown.get(section, {}))
            if dotted not in rows.get(ROW_OF[decl.reload], set()):
                out.append(f"{dotted}: not in the README's row {ROW_OF[decl.reload]!r}")
    return out


def test_every_field_declares_its_key():
    """Each settings field has a parser, a documentation line and a reload class (or is filled by another key)."""
    for section, cls in SECTION_TYPES.items():
        for f in fields(cls):
            if "part_of" in f.metadata:
                continue
            decl = f.metadata.get("key")
            assert decl is not None, f"{section}.{f.name} declares no key"
            assert decl.doc and decl.reload in RELOADS and callable(decl.parse), f"{section}.{f.name}"
    assert len(APPLIED) + len(LOWER_ONLY) > 30


def test_the_example_and_the_readme_list_every_declared_key():
    """config.example.toml shows every key and the README's reload table files each under its class."""
    assert missing((ROOT / "config.example.toml").read_text(), (ROOT / "README.md").read_text()) == []


def test_a_key_left_out_of_the_example_or_the_readme_is_found():
    """The completeness check fails for a key missing from the example or filed under the wrong reload row."""
    example = (ROOT / "config.example.toml").read_text().replace("# lock_wait_seconds = 30", "#")
    readme = (ROOT / "README.md").read_text().replace("`watch.concurrency`", "`watch.concurency`")
    found = missing(example, readme)
    assert "state.lock_wait_seconds: not in config.example.toml" in found
    assert "watch.concurrency: not in the README's row 'reload: applied when lowered'" in found


def test_the_example_shows_each_default():
    """Each key the example shows (outside the filled-in sample values) holds its declared default."""
    shown = example_values((ROOT / "config.example.toml").read_text())
    checked = 0
    for section, cls in SECTION_TYPES.items():
        defaults = cls()
        for f, decl in declared(cls):
            if f"{section}.{decl.name}" in FILLED or section == "auth":
                continue
            sec = Table(section, {decl.name: shown[section][decl.name]}, [decl.name])
            value = decl.parse(sec, decl.name, decl.default, Ctx({}, offline=True))
            names = decl.fields or (f.name,)
            expected = tuple(getattr(defaults, n) for n in names)
            assert (value if decl.fields else (value,)) == expected, f"{section}.{decl.name}"
            checked += 1
    assert checked >= 56  # every key outside [auth] and FILLED (status and record included)


def test_an_exporter_toolkit_flag_name_works_and_is_deprecated():
    """[web] listen-address, config.file and enable-lifecycle set their metrics keys, each named as deprecated."""
    data = tomllib.loads(
        f'[api]\nendpoint = "{DLI}"\nproject_id = "{PID}"\n[auth]\nmethod = "none"\n'
        '[web]\nlisten-address = "127.0.0.1:9"\nconfig.file = "/etc/web.yml"\nenable-lifecycle = true\n'
    )
    cfg = parse(data, {})
    assert (cfg.metrics.host, cfg.metrics.port, cfg.metrics.web_config_file) == ("127.0.0.1", 9, "/etc/web.yml")
    assert cfg.metrics.enable_lifecycle
    assert set(cfg.deprecated) == {
        Deprecated("metrics.listen", "web.listen-address"),
        Deprecated("metrics.web_config_file", "web.config.file"),
        Deprecated("metrics.enable_lifecycle", "web.enable-lifecycle"),
    }
    assert "web.listen-address is an old name of metrics.listen" in cfg.deprecated[0].message
    assert parse({k: v for k, v in data.items() if k != "web"}, {}).deprecated == ()


def test_a_key_given_by_both_names_is_an_error():
    """Setting a key and its old name at once names the old one; a bad value is named by the key it sets."""
    base = f'[api]\nendpoint = "{DLI}"\nproject_id = "{PID}"\n[auth]\nmethod = "none"\n'
    both = tomllib.loads(base + '[metrics]\nlisten = ":1"\n[web]\nlisten-address = ":2"\n')
    with pytest.raises(ConfigError) as err:
        parse(both, {})
    assert (err.value.key, err.value.problem) == (
        "web.listen-address",
        "cannot be set with metrics.listen (it is that key's old name)",
    )
    with pytest.raises(ConfigError) as err:
        parse(tomllib.loads(base + '[web]\nlisten-address = "nowhere"\n'), {})
    assert err.value.key == "metrics.listen"
    with pytest.raises(ConfigError) as err:
        parse(tomllib.loads(base + "[web]\nbogus = 1\n"), {})
    assert err.value.key == "web"


def test_auth_accepts_exactly_its_declared_file_keys():
    """[auth]'s table knows each secret by *_env and *_file, and the plain settings by name."""
    assert set(file_keys(SECTION_TYPES["auth"])) >= {"access_key_env", "access_key_file", "method", "iam_endpoint"}
    assert "access_key" not in file_keys(SECTION_TYPES["auth"])


@pytest.mark.anyio
async def test_the_daemon_says_each_deprecated_key(sim: SimServer):
    """A config read through an old name makes the daemon emit watcher.deprecated_key (warning) at start."""
    bid = sim.world.add_batch(name="job", state="running")
    old = Deprecated("metrics.listen", "web.listen-address")
    cfg = replace(make_config(sim, [bid]), deprecated=(old,))
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: any(e.name == "watcher.deprecated_key" for e in run.events))
        run.stopped.set()
    said = [e for e in run.events if e.name == "watcher.deprecated_key"]
    assert len(said) == 1 and said[0].level == "warning"
    assert said[0].fields == {"key": "metrics.listen", "alias": "web.listen-address", "message": old.message}


def test_check_offline_warns_of_each_old_name():
    """``check --offline``'s report has a warning per key given by an old name, and stays ok."""
    data = tomllib.loads(
        f'[api]\nendpoint = "{DLI}"\nproject_id = "{PID}"\n[auth]\nmethod = "none"\n[web]\nlisten-address = ":1"\n'
    )
    report = offline_report(parse(data, {}, offline=True), "c.toml")
    warned = [f for f in report.findings if f.name == "deprecated"]
    assert [(f.status, f.detail) for f in warned] == [
        ("warning", Deprecated("metrics.listen", "web.listen-address").message)
    ]
    assert report.ok
