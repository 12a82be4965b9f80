"""Configuration parsing: the example file, every error naming its dotted key, secrets and their sources."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from watcher.config.batchids import parse_batch_ids
from watcher.config.credentials import AuthConfig
from watcher.config.keys import file_keys
from watcher.config.settings import (
    DEFAULT_PATH,
    SECTION_TYPES,
    ApiConfig,
    DiscoveryConfig,
    EventsConfig,
    MetricsConfig,
    StateConfig,
    WatchConfig,
    default_path,
    load,
    parse,
    parse_listen,
)
from watcher.config.statuslinks import StatusConfig
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
DLI = "https://dli.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"
ID1 = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"
ID2 = "1b435572-eaea-46eb-b63c-4c4d8b4e910f"
ID3 = "2c546683-fbfb-47fc-a74d-5d5e9c5fa210"
AK, SK = "AK-not-a-real-key-123", "SK-super-secret-value-456"
AKSK_ENV = {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK}


def doc(**sections: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """A minimal valid DLI document (no auth) with some sections' keys added or replaced."""
    data: dict[str, dict[str, object]] = {
        "api": {"endpoint": DLI, "project_id": PID},
        "auth": {"method": "none"},
    }
    for name, keys in sections.items():
        data[name] = {**data.get(name, {}), **keys}
    return data


def error(data: Mapping[str, object], env: dict[str, str] | None = None) -> ConfigError:
    """The ConfigError that parsing ``data`` raises."""
    with pytest.raises(ConfigError) as info:
        parse(data, env or {})
    return info.value


# --- the example file --------------------------------------------------------------------------


def test_example_loads_with_its_secrets_from_the_environment():
    """config.example.toml is valid as shipped, given the AK/SK variables it names."""
    cfg = load(EXAMPLE, AKSK_ENV)
    assert (cfg.api.flavor, cfg.api.endpoint, cfg.api.project_id) == ("dli", DLI, PID)
    assert (cfg.auth.method, cfg.auth.access_key, cfg.auth.secret_key) == ("aksk", AK, SK)
    assert cfg.auth.security_token == ""
    assert cfg.watch.batch_ids == ()
    assert (cfg.metrics.host, cfg.metrics.port) == ("127.0.0.1", 19847)


def test_example_values_are_the_defaults():
    """Every value the example shows is what an omitted key gives, and what the dataclasses hold."""
    example = load(EXAMPLE, AKSK_ENV)
    minimal = parse({"api": {"endpoint": DLI, "project_id": PID}}, AKSK_ENV)
    assert example == minimal
    assert example.api == dataclasses.replace(ApiConfig(), endpoint=DLI, project_id=PID)
    assert example.watch == WatchConfig()
    assert example.metrics == MetricsConfig()
    assert example.state == StateConfig()
    assert example.events == EventsConfig()
    assert example.discovery == DiscoveryConfig()
    assert example.status == StatusConfig()
    assert dataclasses.replace(example.auth, access_key="", secret_key="") == AuthConfig(method="aksk")


def _documented() -> dict[str, dict[str, object]]:
    """The example with every commented-out ``# key = value`` line of a section switched on."""
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    section = ""
    for line in text.splitlines():
        if m := re.fullmatch(r"\[(\w+)\]", line.strip()):
            section = m.group(1)
        elif m := re.match(r"# (\w+) = (\"[^\"]*\"|\d+|true|false)", line):
            data[section][m.group(1)] = tomllib.loads(f"v = {m.group(2)}")["v"]
    return data


def test_example_documents_every_key_of_every_section():
    """The example names exactly the keys each section accepts, as they are declared."""
    data = _documented()
    assert set(data) == set(SECTION_TYPES)
    assert set(data) == {"api", "auth", "watch", "metrics", "state", "events", "discovery", "status", "record"}
    for name, cls in SECTION_TYPES.items():
        assert set(data[name]) == set(file_keys(cls)), name
    # created_after is RFC 3339 in the file and milliseconds once parsed; listen fills host and port
    assert {"created_after", "max_batches"} <= set(data["discovery"])
    assert {"listen", "web_config_file", "enable_lifecycle"} <= set(data["metrics"])
    assert {"method", "user", "domain", "project_name", "iam_endpoint", "token_file"} <= set(data["auth"])


@pytest.mark.parametrize("method", ["aksk", "token", "password", "none"])
def test_every_documented_key_is_accepted_whatever_the_method(tmp_path, method):
    """Uncommenting any documented auth key is fine for every method; only the method's own are used."""
    for name in ("ak", "sk", "token", "password", "security_token"):
        (tmp_path / name).write_text(f"{name}-from-file\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    data = _documented()
    data["auth"]["method"] = method
    cfg = parse(data, env)
    auth = cfg.auth
    assert auth.method == method
    expected = {
        "aksk": ("ak-from-file", "sk-from-file", "security_token-from-file", "", ""),
        "token": ("", "", "", "token-from-file", ""),
        "password": ("", "", "", "", "password-from-file"),
        "none": ("", "", "", "", ""),
    }[method]
    assert (auth.access_key, auth.secret_key, auth.security_token, auth.token, auth.password) == expected
    if method == "password":
        assert (auth.user, auth.domain, auth.project_name) == ("iam-user", "account-name", "cn-north-4")
        assert auth.iam_endpoint == "https://iam.cn-north-4.myhuaweicloud.com"


# --- structure: sections, keys, types ------------------------------------------------------------


def test_unknown_section_is_named():
    """A misspelt section is rejected by its name, with a suggestion."""
    err = error(doc(metric={"listen": "127.0.0.1:1"}))
    assert err.key == "metric"
    assert "unknown section" in err.problem
    assert "'metrics'" in err.problem
    assert str(err) == f"metric: {err.problem}"


@pytest.mark.parametrize(
    ("section", "typo", "meant"),
    [
        ("api", "endpont", "endpoint"),
        ("auth", "acces_key_env", "access_key_env"),
        ("watch", "batch_id", "batch_ids"),
        ("metrics", "listn", "listen"),
        ("state", "paht", "path"),
        ("events", "levle", "level"),
    ],
)
def test_unknown_key_in_each_section_is_named(section, typo, meant):
    """A typo in any section names the dotted key and suggests the real one."""
    err = error(doc(**{section: {typo: "x"}}))
    assert err.key == f"{section}.{typo}"
    assert err.problem.startswith("unknown key")
    assert repr(meant) in err.problem


def test_typo_is_reported_before_the_required_key_it_hides():
    """``api.endpont`` alone is named as the typo, not as a missing ``api.endpoint``."""
    err = error({"api": {"endpont": DLI, "project_id": PID}})
    assert err.key == "api.endpont"


def test_unknown_key_without_a_close_match_lists_the_known_ones():
    """When nothing is close, the problem lists what the section accepts."""
    err = error(doc(metrics={"zzz": 1}))
    assert (err.key, err.problem) == (
        "metrics.zzz",
        (
            "unknown key (known: enable_lifecycle, listen, max_label_values, metric_allowlist, metric_denylist, "
            "per_batch, web_config_file)"
        ),
    )


def test_section_that_is_not_a_table():
    """``api = "..."`` instead of ``[api]`` names the section."""
    err = error({"api": DLI})
    assert (err.key, err.problem) == ("api", "must be a table")


def test_wrong_type_string_for_number():
    """A quoted number is a type error naming the key, the wanted and the given type."""
    err = error(doc(watch={"concurrency": "15"}))
    assert err.key == "watch.concurrency"
    assert err.problem == "must be an integer, got string '15'"


def test_quoted_bare_number_for_seconds_asks_for_a_unit():
    """``interval_seconds = "15"`` is ambiguous text: the error names the key and shows ``15s``."""
    err = error(doc(watch={"interval_seconds": "15"}))
    assert err.key == "watch.interval_seconds"
    assert err.problem == "needs a unit, e.g. '15s', or a plain number of seconds without quotes; got '15'"


SECONDS_KEYS = [
    ("api", "timeout_seconds"),
    ("api", "backoff_base_seconds"),
    ("api", "backoff_max_seconds"),
    ("watch", "interval_seconds"),
    ("watch", "terminal_grace_seconds"),
    ("watch", "retention_seconds"),
    ("watch", "not_found_interval_seconds"),
    ("discovery", "interval_seconds"),
]


@pytest.mark.parametrize(("section", "key"), SECONDS_KEYS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [("15s", 15.0), ("2m", 120.0), ("1h", 3600.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1.5m", 90.0), ("1d", 86400.0)],
)
def test_duration_strings_wherever_seconds_are(section, key, text, expected):
    """Every seconds-valued key takes Prometheus-style duration text as well as a number."""
    cfg = parse(doc(**{section: {key: text}}), {})
    assert getattr(getattr(cfg, section), key) == expected


def test_every_seconds_key_is_covered():
    """The duration test lists every ``*_seconds`` field there is: a new one cannot miss the parser."""
    found = {
        (name, f.name)
        for name, cls in [("api", ApiConfig), ("watch", WatchConfig), ("discovery", DiscoveryConfig)]
        for f in dataclasses.fields(cls)
        if f.name.endswith("_seconds")
    }
    assert found == set(SECONDS_KEYS)


@pytest.mark.parametrize("text", ["", "abc", "15 s", "1s1h", "1m1m", "-5s", "15S", "1e3s", "inf", "1h 30m", "s"])
def test_nonsense_durations_name_the_key(text):
    """Text that is not a duration is rejected naming the key, the units and the text."""
    err = error(doc(watch={"interval_seconds": text}))
    assert err.key == "watch.interval_seconds"
    assert "duration" in err.problem
    assert repr(text) in err.problem or "empty" in err.problem


def test_zero_duration_follows_the_number_rules():
    """``"0s"`` is 0: fine for a grace period, not for an interval."""
    assert parse(doc(watch={"terminal_grace_seconds": "0s"}), {}).watch.terminal_grace_seconds == 0.0
    err = error(doc(watch={"interval_seconds": "0s"}))
    assert (err.key, err.problem) == ("watch.interval_seconds", "must be > 0, got 0.0")


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("watch", "concurrency"),
        ("api", "max_attempts"),
        ("watch", "interval_seconds"),
        ("api", "timeout_seconds"),
    ],
)
def test_bool_where_a_number_is_expected(section, key):
    """TOML booleans are not numbers, although Python's bool is an int."""
    err = error(doc(**{section: {key: True}}))
    assert err.key == f"{section}.{key}"
    assert "got boolean" in err.problem


@pytest.mark.parametrize(
    ("section", "key", "value", "wanted"),
    [
        ("watch", "concurrency", 1.5, "an integer"),
        ("api", "verify_tls", "yes", "a boolean"),
        ("events", "include_req_body", 1, "a boolean"),
        ("state", "path", 5, "a string"),
        ("watch", "batch_ids", ID1, "an array"),
        ("auth", "token_env", 5, "a string"),
    ],
)
def test_other_type_errors(section, key, value, wanted):
    """Each section type-checks its keys, including keys of an auth method not in use."""
    err = error(doc(**{section: {key: value}}))
    assert err.key == f"{section}.{key}"
    assert err.problem.startswith(f"must be {wanted}, got ")


def test_integer_is_accepted_where_a_number_is_expected():
    """``interval_seconds = 5`` is 5.0 seconds."""
    cfg = parse(doc(watch={"interval_seconds": 5, "terminal_grace_seconds": 0}), {})
    assert cfg.watch.interval_seconds == 5.0
    assert isinstance(cfg.watch.interval_seconds, float)
    assert cfg.watch.terminal_grace_seconds == 0.0


def test_list_lookback_and_queues_configure_the_sweep():
    """``list_lookback`` is a duration (0 turns the sweep off) and ``queues`` a list of queue names."""
    watch = parse(doc(watch={"list_lookback": "12h", "queues": ["etl", "ml"]}), {}).watch
    assert (watch.list_lookback, watch.queues) == (43200.0, ("etl", "ml"))
    assert parse(doc(watch={"list_lookback": 0}), {}).watch.list_lookback == 0.0


@pytest.mark.parametrize(
    ("keys", "key", "problem"),
    [
        ({"list_lookback": "3 days"}, "watch.list_lookback", "must be a duration"),
        ({"list_lookback": -1}, "watch.list_lookback", "must be >= 0"),
        ({"list_lookback": True}, "watch.list_lookback", "must be a number of seconds"),
        ({"queues": "etl"}, "watch.queues", "must be an array"),
        ({"queues": ["etl", ""]}, "watch.queues[1]", "must be a non-empty string"),
        ({"queues": [5]}, "watch.queues[0]", "must be a non-empty string"),
    ],
)
def test_bad_sweep_settings_name_the_key(keys, key, problem):
    """A bad look-back or queue list is reported with its key (and index)."""
    err = error(doc(watch=keys))
    assert err.key == key
    assert err.problem.startswith(problem)


# --- api -------------------------------------------------------------------------------------------


def test_missing_api_section_names_the_endpoint():
    """Without [api] the first thing missing is ``api.endpoint``."""
    err = error({"watch": {"batch_ids": [ID1]}})
    assert err.key == "api.endpoint"
    assert "required" in err.problem


def test_missing_endpoint():
    """An [api] without ``endpoint`` says it is required and shows an example."""
    err = error({"api": {"project_id": PID}})
    assert err.key == "api.endpoint"
    assert err.problem.startswith("is required")
    assert "https://" in err.problem


@pytest.mark.parametrize(
    "url",
    [
        "ftp://dli.example.com",
        "dli.cn-north-4.myhuaweicloud.com",
        "https://",
        "http://[::1",
        "https://dli.example.com:99999",
        "https://dli.example.com:0",
        "https://dli.example.com:port",
        "https://dli example.com",
    ],
)
def test_bad_endpoint_url(url):
    """Anything but an http(s) URL with a host (and a valid port) is rejected, never a traceback."""
    err = error(doc(api={"endpoint": url}))
    assert err.key == "api.endpoint"
    assert err.problem == f"must be an http(s) URL, got {url!r}"


def test_endpoint_with_query_is_rejected():
    """Paths are appended to the endpoint, so a query or fragment would break every request."""
    err = error(doc(api={"endpoint": "https://dli.example.com/?x=1"}))
    assert err.key == "api.endpoint"
    assert "query" in err.problem


def test_endpoint_with_credentials_is_rejected_without_echoing_them():
    """``https://user:pass@host`` puts a secret in the file: rejected, and the password not repeated."""
    err = error(doc(api={"endpoint": "https://me:hunter2@dli.example.com"}))
    assert err.key == "api.endpoint"
    assert "hunter2" not in str(err)


def test_endpoint_keeps_its_path_and_loses_the_trailing_slash():
    """A Livy behind a reverse proxy path works; the trailing slash is dropped."""
    cfg = parse(doc(api={"endpoint": "http://127.0.0.1:8998/livy/"}), {})
    assert cfg.api.endpoint == "http://127.0.0.1:8998/livy"


def test_missing_project_id_for_dli():
    """DLI needs a project ID in every URL."""
    err = error({"api": {"endpoint": DLI}, "auth": {"method": "none"}})
    assert (err.key, err.problem) == ("api.project_id", "is required for flavor dli")


def test_project_id_not_required_for_livy():
    """Livy has no projects."""
    cfg = parse({"api": {"flavor": "livy", "endpoint": "http://127.0.0.1:8998"}}, {})
    assert (cfg.api.flavor, cfg.api.project_id) == ("livy", "")


def test_state_map_is_normalised_and_validated():
    """States a gateway invents map to documented ones, compared in lower case."""
    cfg = parse(doc(api={"state_map": {"Finished": "SUCCESS", "failed": "dead"}}), {})
    assert cfg.api.state_map == (("failed", "dead"), ("finished", "success"))


@pytest.mark.parametrize(
    ("state_map", "key", "problem"),
    [
        ({"finished": "done"}, "api.state_map.finished", "must be one of the documented states"),
        ({"finished": 1}, "api.state_map.finished", "must be one of the documented states"),
        ({"finished": "success", "FINISHED": "dead"}, "api.state_map.FINISHED", "maps 'finished' a second time"),
        ({" ": "success"}, "api.state_map. ", "must name a state"),
    ],
)
def test_bad_state_map(state_map, key, problem):
    """A mapping to an undocumented state, or a state mapped twice, is an error naming its key."""
    err = error(doc(api={"state_map": state_map}))
    assert err.key == key
    assert err.problem.startswith(problem)


@pytest.mark.parametrize("project_id", ["0123-4567", "a" * 65, f"{PID}\n", "../etc", " abc"])
def test_malformed_project_id(project_id):
    """A project ID goes into the URL path: letters and digits only, 1-64 of them."""
    err = error(doc(api={"project_id": project_id}))
    assert (err.key, err.problem) == ("api.project_id", "must be 1-64 letters and digits")


@pytest.mark.parametrize(
    ("section", "key", "value", "problem"),
    [
        ("watch", "interval_seconds", 0, "must be > 0, got 0.0"),
        ("watch", "interval_seconds", -15, "must be > 0, got -15.0"),
        ("watch", "interval_seconds", float("nan"), "must be a finite number, got nan"),
        ("watch", "interval_seconds", float("inf"), "must be a finite number, got inf"),
        ("watch", "concurrency", 0, "must be >= 1, got 0"),
        ("watch", "concurrency", -4, "must be >= 1, got -4"),
        ("watch", "not_found_interval_seconds", 0, "must be > 0, got 0.0"),
        ("watch", "terminal_grace_seconds", -1, "must be >= 0, got -1.0"),
        ("watch", "terminal_grace_seconds", float("nan"), "must be a finite number, got nan"),
        ("watch", "retention_seconds", -0.5, "must be >= 0, got -0.5"),
        ("api", "timeout_seconds", 0, "must be > 0, got 0.0"),
        ("api", "max_attempts", 0, "must be >= 1, got 0"),
        ("api", "backoff_base_seconds", -1, "must be > 0, got -1.0"),
        ("api", "backoff_max_seconds", float("inf"), "must be a finite number, got inf"),
    ],
)
def test_out_of_range_numbers(section, key, value, problem):
    """Intervals, timeouts and counts must be positive (grace and retention may be 0), and finite."""
    err = error(doc(**{section: {key: value}}))
    assert (err.key, err.problem) == (f"{section}.{key}", problem)


@pytest.mark.parametrize(
    ("section", "key", "value", "choices"),
    [
        ("api", "flavor", "emr", "dli, livy"),
        ("auth", "method", "oauth", "aksk, token, password, none"),
        ("events", "format", "text", "json, ecs, readable, console, auto"),
        ("events", "time", "gmt", "local, utc"),
        ("events", "level", "trace", "debug, info, warning, error"),
        ("events", "level", "INFO", "debug, info, warning, error"),
    ],
)
def test_bad_choice(section, key, value, choices):
    """Enumerated keys list the accepted values and repeat the bad one."""
    err = error(doc(**{section: {key: value}}))
    assert (err.key, err.problem) == (f"{section}.{key}", f"must be one of {choices}; got {value!r}")


# --- watch: batch IDs -----------------------------------------------------------------------------


def test_duplicate_batch_id_names_its_index():
    """The second occurrence is the one named."""
    err = error(doc(watch={"batch_ids": [ID1, ID2, ID1]}))
    assert (err.key, err.problem) == ("watch.batch_ids[2]", f"duplicate batch ID {ID1!r}")


@pytest.mark.parametrize("bad", ["not-a-uuid", ID1[:-1], f"{ID1}\n", f" {ID1}", "42", f"{ID1[:8]}_{ID1[9:]}"])
def test_malformed_dli_batch_id(bad):
    """DLI batch IDs are UUIDs, exactly."""
    err = error(doc(watch={"batch_ids": [ID1, bad]}))
    assert (err.key, err.problem) == ("watch.batch_ids[1]", f"{bad!r} is not a valid dli batch ID")


def test_non_string_batch_id():
    """A bare number in the list is named by its index."""
    err = error(doc(watch={"batch_ids": [ID1, 42]}))
    assert (err.key, err.problem) == ("watch.batch_ids[1]", "must be a string, got int")


def test_livy_numeric_ids_are_accepted():
    """Livy batches have integer IDs (and sessions may be named)."""
    data = {
        "api": {"flavor": "livy", "endpoint": "http://127.0.0.1:8998"},
        "watch": {"batch_ids": ["0", "42", "etl"]},
    }
    assert parse(data, {}).watch.batch_ids == ("0", "42", "etl")


@pytest.mark.parametrize(
    "name", ["2024-etl-nightly", "8f7e216c-170c-48de-9598-4912b3d54ad7", "0x", "1.5", "9_a", "a" * 128, "42"]
)
def test_livy_accepts_names_that_start_with_a_digit(name):
    """Livy refuses only all-digit names: a date-prefixed name or a UUID (Lighter's) is a name to watch."""
    data = {"api": {"flavor": "livy", "endpoint": "http://127.0.0.1:8998"}, "watch": {"batch_ids": [name]}}
    assert parse(data, {}).watch.batch_ids == (name,)


@pytest.mark.parametrize(
    "bad", ["-1", "4 2", "", "42\n", "a/b", "_a", ".a", "-a", "a" * 129, "\u0664\u0662", "\u00e9t\u00e9", "a\u0664"]
)
def test_livy_rejects_ids_that_cannot_be_a_path_segment(bad):
    """Livy IDs go into the URL path too."""
    data = {"api": {"flavor": "livy", "endpoint": "http://127.0.0.1:8998"}, "watch": {"batch_ids": [bad]}}
    err = error(data)
    assert (err.key, err.problem) == ("watch.batch_ids[0]", f"{bad!r} is not a valid livy batch ID")


def test_parse_batch_ids_names_the_given_key():
    """The helper used for reloads names whatever key it is given."""
    assert parse_batch_ids([ID2, ID1], "dli", "x") == (ID2, ID1)
    with pytest.raises(ConfigError) as info:
        parse_batch_ids([ID1, ID1], "dli", "ids")
    assert info.value.key == "ids[1]"


def test_batch_ids_file_with_comments_and_blank_lines_is_merged(tmp_path):
    """File IDs follow the listed ones, in file order; comments, blanks and padding are ignored."""
    ids_file = tmp_path / "batch_ids"
    ids_file.write_text(f"# nightly jobs\n\n  {ID2}   # etl\n\t\n{ID3}\n# {ID1}\n", encoding="utf-8")
    cfg = parse(doc(watch={"batch_ids": [ID1], "batch_ids_file": str(ids_file)}), {})
    assert cfg.watch.batch_ids == (ID1, ID2, ID3)
    assert cfg.watch.batch_ids_file == str(ids_file)


def test_batch_ids_file_alone(tmp_path):
    """An empty ``batch_ids`` with a file watches the file's IDs."""
    ids_file = tmp_path / "ids"
    ids_file.write_text(f"{ID3}\n{ID1}", encoding="utf-8")
    assert parse(doc(watch={"batch_ids_file": str(ids_file)}), {}).watch.batch_ids == (ID3, ID1)


def test_batch_ids_file_duplicate_names_file_and_line(tmp_path):
    """A repeat in the file names the file's key and line, not an index the list does not have."""
    ids_file = tmp_path / "ids"
    ids_file.write_text(f"# header\n{ID2}\n\n{ID1}\n", encoding="utf-8")
    err = error(doc(watch={"batch_ids": [ID1], "batch_ids_file": str(ids_file)}))
    assert err.key == "watch.batch_ids_file"
    assert err.problem == f"{str(ids_file)!r} line 4: duplicate batch ID {ID1!r} (also in watch.batch_ids)"


def test_batch_ids_file_malformed_id_names_its_line(tmp_path):
    """A bad ID in the file is reported with its line number."""
    ids_file = tmp_path / "ids"
    ids_file.write_text(f"{ID1}\nnope\n", encoding="utf-8")
    err = error(doc(watch={"batch_ids_file": str(ids_file)}))
    assert err.key == "watch.batch_ids_file"
    assert err.problem == f"{str(ids_file)!r} line 2: 'nope' is not a valid dli batch ID"


def test_unreadable_batch_ids_file(tmp_path):
    """A missing file, a directory or binary junk name the key and the path, never a traceback."""
    missing = tmp_path / "missing"
    err = error(doc(watch={"batch_ids_file": str(missing)}))
    assert err.key == "watch.batch_ids_file"
    assert err.problem == f"cannot read {str(missing)!r}: No such file or directory"
    err = error(doc(watch={"batch_ids_file": str(tmp_path)}))
    assert (err.key, err.problem) == (
        "watch.batch_ids_file",
        f"cannot read {str(tmp_path)!r}: Is a directory",
    )
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    err = error(doc(watch={"batch_ids_file": str(binary)}))
    assert (err.key, err.problem) == ("watch.batch_ids_file", f"{str(binary)!r} is not UTF-8 text")


def test_web_config_file_is_a_path_read_by_the_daemon():
    """metrics.web_config_file is kept as given (the daemon reads it); it must be a string."""
    assert parse(doc(metrics={"web_config_file": "web.yml"}), {}).metrics.web_config_file == "web.yml"
    err = error(doc(metrics={"web_config_file": 1}))
    assert err.key == "metrics.web_config_file"


# --- metrics.listen --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "listen",
    [
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "127.0.0.1:-1",
        "127.0.0.1:²",
        "::1:9000",
        "[::1:9000",
        "[]:9000",
        "127.0.0.1:9000 ",
    ],
)
def test_bad_listen(listen):
    """No port, a port out of range or not ASCII digits, or a bare IPv6 address: one clear error."""
    err = error(doc(metrics={"listen": listen}))
    assert err.key == "metrics.listen"
    assert err.problem.startswith("must be host:port")
    assert repr(listen) in err.problem


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("[::1]:9000", ("::1", 9000)),
        ("[::]:19847", ("::", 19847)),
        (":9100", ("0.0.0.0", 9100)),
        ("localhost:0", ("localhost", 0)),
        ("10.0.0.1:65535", ("10.0.0.1", 65535)),
    ],
)
def test_good_listen(listen, expected):
    """IPv6 in brackets, an empty host meaning every address, and port 0 for a free port."""
    cfg = parse(doc(metrics={"listen": listen}), {})
    assert (cfg.metrics.host, cfg.metrics.port) == expected
    assert parse_listen(listen, "--listen") == expected


def test_parse_listen_names_the_given_key():
    """The demo's ``--listen`` reuses the parser and names its own option."""
    with pytest.raises(ConfigError) as info:
        parse_listen("nope", "--listen")
    assert info.value.key == "--listen"


# --- auth and secrets ------------------------------------------------------------------------------


def test_dli_defaults_to_aksk_and_livy_to_none():
    """Without [auth], DLI signs with the SDK's AK/SK variables; a plain Livy needs nothing."""
    cfg = parse({"api": {"endpoint": DLI, "project_id": PID}}, AKSK_ENV)
    assert (cfg.auth.method, cfg.auth.access_key, cfg.auth.secret_key) == ("aksk", AK, SK)
    livy = parse({"api": {"flavor": "livy", "endpoint": "http://127.0.0.1:8998"}}, {})
    assert livy.auth.method == "none"


def test_missing_secret_env_names_the_variable():
    """The default variable that was looked for is named, under the ``_env`` key."""
    err = error(doc(auth={"method": "aksk"}), {"HUAWEICLOUD_SDK_AK": AK})
    assert (err.key, err.problem) == (
        "auth.secret_key_env",
        "environment variable HUAWEICLOUD_SDK_SK is not set",
    )


def test_missing_custom_secret_env_names_the_variable():
    """A configured variable name is the one reported."""
    err = error(doc(auth={"method": "token", "token_env": "MY_DLI_TOKEN"}), {"DLI_TOKEN": "t"})
    assert (err.key, err.problem) == ("auth.token_env", "environment variable MY_DLI_TOKEN is not set")


@pytest.mark.parametrize(
    "pasted",
    ["AKXQ7RZ2M4N8B6V1C3L5", "kT9wQ2mZ8rX4pL6vN1bH3cJ7dF5gS0aE2yU8iO4e", "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"],
)
def test_a_secret_pasted_as_a_variable_name_is_never_echoed(pasted):
    """An AK, SK or token put in a `*_env` key (all valid variable names) is not repeated in the error."""
    err = error(doc(auth={"method": "aksk", "access_key_env": pasted}), {})
    assert err.key == "auth.access_key_env"
    assert pasted not in str(err) and "looks like a secret" in err.problem


def test_empty_secret_env_is_reported_as_empty():
    """A variable that exists but holds only whitespace is not a secret."""
    err = error(doc(auth={"method": "token"}), {"DLI_TOKEN": "  \n"})
    assert (err.key, err.problem) == ("auth.token_env", "environment variable DLI_TOKEN is empty")


def test_secret_env_value_is_stripped():
    """``kubectl create secret --from-file`` leaves a newline that must not reach a header."""
    cfg = parse(doc(auth={"method": "token"}), {"DLI_TOKEN": "tok-123\n"})
    assert cfg.auth.token == "tok-123"


def test_secret_env_key_that_is_not_a_variable_name_is_not_echoed():
    """A secret pasted into ``password_env`` by mistake never appears in the error."""
    data = doc(
        auth={
            "method": "password",
            "user": "u",
            "domain": "d",
            "project_name": "p",
            "password_env": "correct horse battery staple!",
        }
    )
    err = error(data)
    assert err.key == "auth.password_env"
    assert "horse" not in str(err)


def test_relative_secret_file_is_read_from_credentials_directory(tmp_path):
    """``token_file = "token"`` is ``$CREDENTIALS_DIRECTORY/token``, as systemd LoadCredential= sets it."""
    (tmp_path / "token").write_text("tok-from-systemd\n", encoding="utf-8")
    cfg = parse(doc(auth={"method": "token", "token_file": "token"}), {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert cfg.auth.token == "tok-from-systemd"


def test_relative_secret_file_without_credentials_directory(tmp_path, monkeypatch):
    """Without $CREDENTIALS_DIRECTORY a relative name is relative to the working directory, and says so."""
    monkeypatch.chdir(tmp_path)
    err = error(doc(auth={"method": "token", "token_file": "token"}))
    assert err.key == "auth.token_file"
    assert (
        err.problem == "cannot read secret file 'token': No such file or directory ($CREDENTIALS_DIRECTORY is not set)"
    )
    (tmp_path / "token").write_text("tok-in-cwd", encoding="utf-8")
    assert parse(doc(auth={"method": "token", "token_file": "token"}), {}).auth.token == "tok-in-cwd"


def test_absolute_secret_file_ignores_credentials_directory(tmp_path):
    """An absolute path (a mounted Kubernetes Secret) is read as it is."""
    secret = tmp_path / "mounted" / "sk"
    secret.parent.mkdir()
    secret.write_text(SK, encoding="utf-8")
    data = doc(auth={"method": "aksk", "secret_key_file": str(secret)})
    cfg = parse(data, {"CREDENTIALS_DIRECTORY": str(tmp_path / "elsewhere"), "HUAWEICLOUD_SDK_AK": AK})
    assert (cfg.auth.access_key, cfg.auth.secret_key) == (AK, SK)


def test_empty_secret_file(tmp_path):
    """A file of whitespace is an error naming the ``_file`` key and the path."""
    (tmp_path / "token").write_text(" \n\n", encoding="utf-8")
    err = error(doc(auth={"method": "token", "token_file": "token"}), {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert (err.key, err.problem) == ("auth.token_file", f"secret file {str(tmp_path / 'token')!r} is empty")


def test_unreadable_secret_file(tmp_path):
    """Missing, a directory, or not text: each names the key and the full path it tried."""
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    err = error(doc(auth={"method": "token", "token_file": "absent"}), env)
    assert err.key == "auth.token_file"
    assert err.problem == f"cannot read secret file {str(tmp_path / 'absent')!r}: No such file or directory"
    (tmp_path / "adir").mkdir()
    err = error(doc(auth={"method": "token", "token_file": "adir"}), env)
    assert err.problem == f"cannot read secret file {str(tmp_path / 'adir')!r}: Is a directory"
    (tmp_path / "bin").write_bytes(b"\x80\x81secret")
    err = error(doc(auth={"method": "token", "token_file": "bin"}), env)
    assert err.problem == f"secret file {str(tmp_path / 'bin')!r} is not UTF-8 text"


def test_secret_file_wins_over_env(tmp_path):
    """With both ``_file`` and ``_env`` configured, the file is used."""
    (tmp_path / "token").write_text("from-file", encoding="utf-8")
    data = doc(auth={"method": "token", "token_file": "token", "token_env": "DLI_TOKEN"})
    cfg = parse(data, {"CREDENTIALS_DIRECTORY": str(tmp_path), "DLI_TOKEN": "from-env"})
    assert cfg.auth.token == "from-file"


def test_security_token_is_optional_unless_configured():
    """No ``security_token_env``: no token; a configured but unset variable is an error, not silence."""
    cfg = parse(doc(auth={"method": "aksk"}), AKSK_ENV)
    assert cfg.auth.security_token == ""
    data = doc(auth={"method": "aksk", "security_token_env": "HUAWEICLOUD_SDK_SECURITY_TOKEN"})
    err = error(data, AKSK_ENV)
    assert (err.key, err.problem) == (
        "auth.security_token_env",
        "environment variable HUAWEICLOUD_SDK_SECURITY_TOKEN is not set",
    )
    cfg = parse(data, {**AKSK_ENV, "HUAWEICLOUD_SDK_SECURITY_TOKEN": "sts"})
    assert cfg.auth.security_token == "sts"


def test_aksk_from_custom_env_names():
    """The ``_env`` keys choose which variables hold the AK/SK."""
    data = doc(auth={"method": "aksk", "access_key_env": "MY_AK", "secret_key_env": "MY_SK"})
    cfg = parse(data, {"MY_AK": "a", "MY_SK": "s", **AKSK_ENV})
    assert (cfg.auth.access_key, cfg.auth.secret_key) == ("a", "s")


PASSWORD_AUTH = {"method": "password", "user": "alice", "domain": "acme", "project_name": "cn-north-4"}


@pytest.mark.parametrize("missing", ["user", "domain", "project_name"])
def test_password_auth_requires_user_domain_and_project_name(missing):
    """IAM needs all three to scope a token."""
    auth = {k: v for k, v in PASSWORD_AUTH.items() if k != missing}
    err = error(doc(auth=auth), {"DLI_PASSWORD": "pw"})
    assert (err.key, err.problem) == (f"auth.{missing}", "is required for auth.method password")


def test_password_auth_reads_password_and_derives_iam_endpoint():
    """The IAM endpoint defaults to the DLI endpoint's region: dli.<region> becomes iam.<region>."""
    cfg = parse(doc(auth=PASSWORD_AUTH), {"DLI_PASSWORD": "pw-123"})
    auth = cfg.auth
    assert (auth.user, auth.domain, auth.project_name, auth.password) == (
        "alice",
        "acme",
        "cn-north-4",
        "pw-123",
    )
    assert auth.iam_endpoint == "https://iam.cn-north-4.myhuaweicloud.com"


@pytest.mark.parametrize(
    ("endpoint", "iam"),
    [
        ("https://dli.ap-southeast-1.myhuaweicloud.com:443/", "https://iam.ap-southeast-1.myhuaweicloud.com"),
        ("http://127.0.0.1:8998", "https://iam.myhuaweicloud.com"),
    ],
)
def test_default_iam_endpoint(endpoint, iam):
    """Region endpoints map to the regional IAM; anything else to the global one."""
    cfg = parse(doc(api={"endpoint": endpoint}, auth=PASSWORD_AUTH), {"DLI_PASSWORD": "pw"})
    assert cfg.auth.iam_endpoint == iam


def test_explicit_iam_endpoint_wins_and_is_validated():
    """``auth.iam_endpoint`` is used as given, and must be a URL."""
    data = doc(auth={**PASSWORD_AUTH, "iam_endpoint": "http://127.0.0.1:5000/"})
    assert parse(data, {"DLI_PASSWORD": "pw"}).auth.iam_endpoint == "http://127.0.0.1:5000"
    err = error(doc(auth={**PASSWORD_AUTH, "iam_endpoint": "iam.example.com"}), {"DLI_PASSWORD": "pw"})
    assert err.key == "auth.iam_endpoint"


def test_password_auth_missing_password_names_the_variable():
    """The default ``DLI_PASSWORD`` is the variable named."""
    err = error(doc(auth=PASSWORD_AUTH))
    assert (err.key, err.problem) == ("auth.password_env", "environment variable DLI_PASSWORD is not set")


def test_resolved_auth_repr_never_shows_secret_values(tmp_path):
    """repr()/str() of the resolved config show who and where, never a key, token or password."""
    secrets = {
        "HUAWEICLOUD_SDK_AK": "AK-VISIBLE-NOT",
        "HUAWEICLOUD_SDK_SK": "SK-HIDDEN-42",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": "STS-HIDDEN-43",
        "DLI_TOKEN": "TOKEN-HIDDEN-44",
        "DLI_PASSWORD": "PASSWORD-HIDDEN-45",
    }
    configs = [
        parse(doc(auth={"method": "aksk", "security_token_env": "HUAWEICLOUD_SDK_SECURITY_TOKEN"}), secrets),
        parse(doc(auth={"method": "token"}), secrets),
        parse(doc(auth=PASSWORD_AUTH), secrets),
    ]
    assert configs[0].auth.secret_key == "SK-HIDDEN-42"
    for cfg in configs:
        for text in (repr(cfg), str(cfg), repr(cfg.auth)):
            for value in secrets.values():
                assert value not in text
    assert "alice" in repr(configs[2].auth)  # the user name is not a secret and helps debugging


# --- load() and the default path --------------------------------------------------------------------


def test_load_reads_toml_and_uses_the_process_environment(tmp_path, monkeypatch):
    """Without an explicit env mapping, load() resolves secrets from os.environ."""
    path = tmp_path / "config.toml"
    path.write_text(f'[api]\nendpoint = "{DLI}"\nproject_id = "{PID}"\n[auth]\nmethod = "token"\n', encoding="utf-8")
    monkeypatch.setenv("DLI_TOKEN", "from-os-environ")
    assert load(path).auth.token == "from-os-environ"


def test_load_missing_file_names_the_path(tmp_path):
    """The ``--config`` path that could not be read is in the problem."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load(path, {})
    assert (info.value.key, info.value.problem) == (
        "--config",
        f"cannot read {str(path)!r}: No such file or directory",
    )


def test_load_invalid_toml_and_binary(tmp_path):
    """Syntax errors show TOML's line and column; non-UTF-8 bytes are a clean error too."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[api]\nendpoint = \n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(bad, {})
    assert info.value.key == "--config"
    assert "is not valid TOML" in info.value.problem
    assert "line 2" in info.value.problem
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"[api]\nendpoint = '\xff'\n")
    with pytest.raises(ConfigError) as info:
        load(binary, {})
    assert (info.value.key, info.value.problem) == ("--config", f"{binary} is not UTF-8 text")


def test_default_path():
    """``$DLI_WATCHER_CONFIG`` wins over the system-wide file."""
    assert default_path({}) == DEFAULT_PATH == "/etc/dli-watcher/config.toml"
    assert default_path({"DLI_WATCHER_CONFIG": "/tmp/x.toml"}) == "/tmp/x.toml"
    assert default_path({"DLI_WATCHER_CONFIG": ""}) == DEFAULT_PATH


def test_metrics_series_controls_are_parsed_and_checked():
    """per_batch, the allow/deny lists (regexes, one or the other) and max_label_values."""
    cfg = parse(doc(metrics={"per_batch": "active", "metric_denylist": ["^process_"], "max_label_values": 50}), {})
    assert (cfg.metrics.per_batch, cfg.metrics.metric_denylist, cfg.metrics.max_label_values) == (
        "active",
        ("^process_",),
        50,
    )
    both = error(doc(metrics={"metric_allowlist": ["^dli_"], "metric_denylist": ["x"]}))
    assert (both.key, both.problem) == (
        "metrics.metric_denylist",
        "cannot be set with metric_allowlist (one or the other)",
    )
    assert error(doc(metrics={"metric_allowlist": ["(unclosed"]})).key == "metrics.metric_allowlist[0]"
    assert error(doc(metrics={"per_batch": "some"})).key == "metrics.per_batch"
    assert error(doc(metrics={"max_label_values": 0})).key == "metrics.max_label_values"


def test_status_links_are_http_templates_with_known_placeholders():
    """status.links: name and an http(s) URL template; another scheme or an unknown placeholder is named."""
    ok = parse(doc(status={"links": [{"name": "UI", "url": "https://yarn.example/{app_id}?t={create_time_ms}"}]}), {})
    assert [(link.name, link.url) for link in ok.status.links] == [
        ("UI", "https://yarn.example/{app_id}?t={create_time_ms}")
    ]
    scheme = error(doc(status={"links": [{"name": "x", "url": "javascript:alert(1)//{batch_id}"}]}))
    assert (scheme.key, "http:// or https://" in scheme.problem) == ("status.links[0].url", True)
    unknown = error(doc(status={"links": [{"name": "x", "url": "https://x.example/{secret}"}]}))
    assert unknown.key == "status.links[0].url" and "{secret}" in unknown.problem
