"""Choosing the route (proxy or direct) per endpoint, and building the TLS context, with errors that name the key."""

from __future__ import annotations

import ssl

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from watcher.api.proxy import host_port, route_for
from watcher.api.tls import ssl_context
from watcher.config.settings import ApiConfig
from watcher.errors import ConfigError

API = ApiConfig(endpoint="https://dli.cn-north-4.myhuaweicloud.com", project_id="p")


@pytest.mark.parametrize(
    ("env", "via", "source"),
    [
        ({}, None, ""),
        ({"HTTPS_PROXY": "http://p1:3128"}, "p1:3128", "HTTPS_PROXY"),
        ({"https_proxy": "p2:8080", "HTTPS_PROXY": "http://p1:3128"}, "p2:8080", "https_proxy"),
        ({"HTTP_PROXY": "http://p1:3128"}, None, ""),
        ({"ALL_PROXY": "http://p3"}, "p3:80", "ALL_PROXY"),
        ({"HTTPS_PROXY": "http://p1:3128", "NO_PROXY": ".myhuaweicloud.com"}, None, ""),
        ({"HTTPS_PROXY": "http://p1:3128", "no_proxy": "other.example, *"}, None, ""),
    ],
)
def test_environment_route(env, via, source):
    """The scheme's variable, lower case first, then ALL_PROXY; NO_PROXY wins; an http proxy is not an https one."""
    route = route_for(API.endpoint, API, env)
    assert (route.via, route.source) == (via, source)
    assert route.target == "dli.cn-north-4.myhuaweicloud.com:443"


def test_config_proxy_wins_over_the_environment():
    """``api.proxy`` is used whatever the environment says, and is named as the source."""
    api = ApiConfig(endpoint=API.endpoint, proxy="http://corp-proxy:3128")
    route = route_for(api.endpoint, api, {"HTTPS_PROXY": "http://other:1"})
    assert (route.via, route.describe()) == ("corp-proxy:3128", "via proxy corp-proxy:3128 (from api.proxy)")


def test_proxy_credentials_are_kept_for_the_proxy_and_out_of_every_text():
    """A login in the variable reaches the proxy but not ``via``, ``describe()`` or errors; it is a secret to mask."""
    route = route_for(API.endpoint, API, {"HTTPS_PROXY": "http://alice:s3cr%40t@proxy:3128"})
    assert route.proxy is not None
    assert route.proxy.auth == ("alice", "s3cr@t")
    assert "s3cr" not in route.describe() + str(route.via)
    assert route.secrets() == ("s3cr@t", "alice:s3cr@t")  # Basic auth encodes the pair, so it is masked too


@pytest.mark.parametrize("value", ["socks5://alice:hunter22@proxy:1080", "https://alice:hunter22@proxy"])
def test_unusable_environment_proxy_names_the_variable_not_the_password(value):
    """A proxy the watcher cannot use is a config error on the variable's name, shown without its login."""
    with pytest.raises(ConfigError) as info:
        route_for(API.endpoint, API, {"HTTPS_PROXY": value})
    assert info.value.key == "HTTPS_PROXY"
    assert "hunter22" not in str(info.value)
    assert "alice" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example", "a.example:443"),
        ("http://a.example", "a.example:80"),
        ("http://[::1]:8998/x", "[::1]:8998"),
    ],
)
def test_host_port(url, expected):
    assert host_port(url) == expected


# --- the TLS context -------------------------------------------------------------------------------


def test_default_context_trusts_ssl_cert_file_like_httpx(tmp_path):
    """Without ca_file, ``$SSL_CERT_FILE`` is trusted (as httpx does), so a private CA can come from there too."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ctx = ssl_context(API, {"SSL_CERT_FILE": str(tmp_path / "ca.pem")})
    assert len(ctx.get_ca_certs()) == 1
    assert ctx.verify_mode == ssl.CERT_REQUIRED


def test_verify_tls_false_checks_nothing():
    ctx = ssl_context(ApiConfig(verify_tls=False), {})
    assert (ctx.verify_mode, ctx.check_hostname) == (ssl.CERT_NONE, False)


def test_ca_file_without_certificates_names_the_key(tmp_path):
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as info:
        ssl_context(ApiConfig(ca_file=str(junk)), {})
    assert info.value.key == "api.ca_file"


def test_client_key_of_another_certificate_names_the_key(tmp_path):
    ca = trustme.CA()
    cert, other = ca.issue_cert("a.example"), ca.issue_cert("b.example")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    other.private_key_pem.write_to_path(str(tmp_path / "k.pem"))
    with pytest.raises(ConfigError) as info:
        ssl_context(ApiConfig(client_cert_file=str(tmp_path / "c.pem"), client_key_file=str(tmp_path / "k.pem")), {})
    assert (info.value.key, info.value.problem) == ("api.client_key_file", "does not belong to api.client_cert_file")


def test_encrypted_client_key_is_refused_without_prompting(tmp_path):
    """OpenSSL would ask for a passphrase on the terminal; the watcher says the key is encrypted instead."""
    leaf = trustme.CA().issue_cert("a.example")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    (tmp_path / "k.pem").write_bytes(encrypted)
    with pytest.raises(ConfigError) as info:
        ssl_context(ApiConfig(client_cert_file=str(tmp_path / "c.pem"), client_key_file=str(tmp_path / "k.pem")), {})
    assert info.value.key == "api.client_key_file"
    assert "encrypted" in info.value.problem
