"""The [api] proxy and TLS keys: each mistake names its key, credentials are never echoed, files are checked."""

from __future__ import annotations

import pytest

from watcher.config.problems import Problems
from watcher.config.settings import parse
from watcher.errors import ConfigError

DLI = "https://dli.cn-north-4.myhuaweicloud.com"
PID = "0123456789abcdef0123456789abcdef"


def api(**keys: object) -> dict[str, dict[str, object]]:
    return {"api": {"endpoint": DLI, "project_id": PID, **keys}, "auth": {"method": "none"}}


def error(data: dict[str, dict[str, object]], env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(data, env or {})
    return info.value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://proxy.example:3128", "http://proxy.example:3128"),
        ("http://proxy.example:3128/", "http://proxy.example:3128"),
        ("proxy.example:3128", "http://proxy.example:3128"),
        ("http://[::1]:3128", "http://[::1]:3128"),
    ],
)
def test_proxy_url(value, expected):
    """An http:// proxy, with or without the scheme (curl and httpx read a bare host:port as http)."""
    assert parse(api(proxy=value), {}).api.proxy == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("socks5://proxy.example:1080", "must be an http:// proxy URL"),
        ("https://proxy.example:3128", "must be an http:// proxy URL"),
        ("http://:3128", "must be an http:// proxy URL"),
        ("http://proxy.example:99999", "must be a proxy URL such as"),
        ("http://proxy.example:3128/path", "nothing after it"),
    ],
)
def test_bad_proxy_url_names_the_key(value, problem):
    """What is not a forward proxy is named under ``api.proxy``."""
    err = error(api(proxy=value))
    assert err.key == "api.proxy"
    assert problem in err.problem


def test_proxy_credentials_in_the_file_are_refused_and_not_echoed():
    """Secrets never live in the config file: a proxy password there is an error that does not repeat it."""
    err = error(api(proxy="http://alice:pr0xy-s3cret@proxy.example:3128"))
    assert err.key == "api.proxy"
    assert "credentials" in err.problem
    assert "pr0xy-s3cret" not in str(err)
    assert "alice" not in str(err)


@pytest.mark.parametrize("entries", [["localhost", ".example.com", "*.corp.example", "10.0.0.0/8", "::1", "*"], []])
def test_no_proxy_entries(entries):
    """Names, .domains, IPs, CIDR ranges and ``*`` are accepted as written."""
    assert parse(api(no_proxy=entries), {}).api.no_proxy == tuple(entries)


@pytest.mark.parametrize("entry", ["a b", "", "http://x", "10.0.0.0/99", 5])
def test_bad_no_proxy_entry_names_its_index(entry):
    """A junk entry is named by its index."""
    err = error(api(no_proxy=["fine.example", entry]))
    assert err.key == "api.no_proxy[1]"


def test_tls_files_must_be_readable(tmp_path):
    """A CA file, certificate or key that is not there names the key and the path; ca_dir must be a directory."""
    missing = tmp_path / "missing.pem"
    for key in ("ca_file", "client_cert_file"):
        err = error(api(**{key: str(missing)}))
        assert (err.key, err.problem) == (f"api.{key}", f"cannot read {str(missing)!r}: No such file or directory")
    err = error(api(ca_dir=str(missing)))
    assert (err.key, err.problem) == ("api.ca_dir", f"{str(missing)!r} is not a readable directory")
    err = error(api(ca_file=str(tmp_path)))
    assert err.key == "api.ca_file"
    assert "Is a directory" in err.problem


def test_relative_tls_files_come_from_the_credentials_directory(tmp_path):
    """Like the [auth] files, a relative certificate or key is found in $CREDENTIALS_DIRECTORY."""
    (tmp_path / "client.pem").write_text("x")
    (tmp_path / "client.key").write_text("x")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    cfg = parse(api(client_cert_file="client.pem", client_key_file="client.key", ca_dir="."), env)
    assert cfg.api.client_cert_file == str(tmp_path / "client.pem")
    assert cfg.api.client_key_file == str(tmp_path / "client.key")
    assert cfg.api.ca_dir == str(tmp_path / ".")


def test_a_key_needs_its_certificate(tmp_path):
    """``client_key_file`` alone is a mistake; the certificate alone is fine (it may hold the key)."""
    (tmp_path / "k").write_text("x")
    err = error(api(client_key_file=str(tmp_path / "k")))
    assert err.key == "api.client_key_file"
    assert "client_cert_file" in err.problem
    assert parse(api(client_cert_file=str(tmp_path / "k")), {}).api.client_cert_file == str(tmp_path / "k")


def test_cas_without_verification_are_a_contradiction(tmp_path):
    """``verify_tls = false`` would silently ignore ``ca_file``: that is said, not done."""
    (tmp_path / "ca.pem").write_text("x")
    err = error(api(verify_tls=False, ca_file=str(tmp_path / "ca.pem")))
    assert (err.key, err.problem) == ("api.ca_file", "has no effect with api.verify_tls = false")


def test_offline_does_not_look_for_tls_files():
    """Offline, the files live where the watcher runs: their paths are kept, not opened."""
    problems = Problems(collect=True)
    cfg = parse(api(ca_file="/etc/pki/corp-ca.pem", client_cert_file="c.pem"), {}, problems, offline=True)
    assert problems.found == []
    assert (cfg.api.ca_file, cfg.api.client_cert_file) == ("/etc/pki/corp-ca.pem", "c.pem")
