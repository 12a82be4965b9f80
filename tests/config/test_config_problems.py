"""Every config problem at once (for ``check``), and offline validation without secrets or the files a config names."""

from __future__ import annotations

import pytest

from watcher.config.problems import Problems
from watcher.config.settings import Config, load, load_all, parse
from watcher.core.shard import Shard
from watcher.errors import ConfigError

DLI = "https://dli.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"
ID1 = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"

# four independent mistakes in four sections, and AK/SK auth with no secret in the environment
MANY_MISTAKES = f"""
[api]
endpoint = "{DLI}"
project_id = "{PID}"
timeout_seconds = "ten"

[auth]
method = "aksk"

[watch]
batch_ids = ["{ID1}"]
intervall_seconds = 15
concurrency = 0

[metrics]
listen = "nowhere"

[event]
level = "info"
"""


def keys(problems: list[ConfigError]) -> list[str]:
    return [p.key for p in problems]


def test_collecting_reports_every_problem_in_file_order(tmp_path):
    """A missing secret no longer hides a typo in [watch]: every bad key is named, each once."""
    path = tmp_path / "c.toml"
    path.write_text(MANY_MISTAKES, encoding="utf-8")
    _, problems = load_all(path, {})
    assert keys(problems) == [
        "event",
        "api.timeout_seconds",
        "auth.access_key_env",
        "auth.secret_key_env",
        "watch.intervall_seconds",
        "watch.concurrency",
        "metrics.listen",
    ]
    assert "did you mean 'interval_seconds'" in problems[4].problem


def test_load_still_raises_the_first_problem(tmp_path):
    """``run`` and reloads keep the old behaviour: the first problem, raised."""
    path = tmp_path / "c.toml"
    path.write_text(MANY_MISTAKES, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path, {})
    assert info.value.key == "event"


def test_collecting_a_valid_file_finds_nothing_and_parses_it_the_same(tmp_path):
    """No problems: the Config is what ``load`` gives."""
    path = tmp_path / "c.toml"
    path.write_text(f'[api]\nendpoint = "{DLI}"\nproject_id = "{PID}"\n[auth]\nmethod = "none"\n', encoding="utf-8")
    cfg, problems = load_all(path, {})
    assert problems == []
    assert cfg == load(path, {})


def test_unreadable_file_is_one_problem(tmp_path):
    """A file that is not TOML is one problem on --config, and the Config is the defaults."""
    path = tmp_path / "c.toml"
    path.write_text("[api\n", encoding="utf-8")
    cfg, problems = load_all(path, {})
    assert keys(problems) == ["--config"]
    assert cfg == Config()


def test_a_section_that_is_not_a_table_does_not_stop_the_others():
    """``watch = 5`` is one problem; the next section's mistake is still found."""
    problems = Problems(collect=True)
    parse({"api": {"endpoint": DLI, "project_id": PID}, "watch": 5, "events": {"level": "loud"}}, {}, problems)
    assert keys(problems.found) == ["auth.access_key_env", "auth.secret_key_env", "watch", "events.level"]


def test_missing_api_section_is_one_problem_and_the_rest_is_checked():
    """Without [api], ``api.endpoint`` is named once and the other sections are still read."""
    problems = Problems(collect=True)
    parse({"auth": {"method": "none"}, "metrics": {"listen": "x"}}, {}, problems)
    assert keys(problems.found) == ["api.endpoint", "metrics.listen"]


def test_offline_needs_no_secret_and_reads_no_file():
    """Offline: no AK/SK in the environment, a batch IDs file that is not here, a pod ordinal: all fine."""
    data = {
        "api": {"endpoint": DLI, "project_id": PID},
        "auth": {"method": "aksk", "access_key_file": "/run/creds/ak", "secret_key_env": "MY_SK"},
        "watch": {"batch_ids": [ID1], "batch_ids_file": "/etc/dli-watcher/ids", "shard": "ordinal/3"},
    }
    problems = Problems(collect=True)
    cfg = parse(data, {}, problems, offline=True)
    assert problems.found == []
    assert cfg.watch.batch_ids == (ID1,)
    assert cfg.watch.shard == Shard(0, 3)
    assert (cfg.auth.access_key, cfg.auth.secret_key) == ("", "")


@pytest.mark.parametrize(
    ("auth", "watch", "key"),
    [
        ({"method": "aksk", "secret_key_env": "not a name"}, {}, "auth.secret_key_env"),
        ({"method": "password", "user": "u"}, {}, "auth.domain"),
        ({"method": "none"}, {"shard": "ordinal/0"}, "watch.shard"),
        ({"method": "none"}, {"batch_ids": ["nope"]}, "watch.batch_ids[0]"),
    ],
)
def test_offline_still_checks_what_the_file_says(auth, watch, key):
    """Offline checks everything in the file itself: variable names, required keys, the shard spec, IDs."""
    problems = Problems(collect=True)
    parse({"api": {"endpoint": DLI, "project_id": PID}, "auth": auth, "watch": watch}, {}, problems, offline=True)
    assert key in keys(problems.found)
