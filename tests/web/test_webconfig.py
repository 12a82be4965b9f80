"""TLS and basic auth on the endpoints: the exporter-toolkit web config file, checked key by key, and served."""

from __future__ import annotations

import dataclasses
import os
import signal
import ssl
from typing import TYPE_CHECKING

import anyio
import bcrypt
import httpx
import pytest
import trustme

from tests.helpers import make_config, start_watch
from tests.web.test_metrics_server import endpoints, serving
from watcher import cli
from watcher.config.flags import Flags
from watcher.errors import ConfigError
from watcher.web.basicauth import BasicAuth, credentials
from watcher.web.webconfig import load_web_config

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD = "s3cret-scrape"
# cost 4: the lowest bcrypt allows, so the tests do not spend seconds hashing
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$")


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def pki(tmp_path: Path, ca: trustme.CA) -> Path:
    """A throwaway CA's server certificate for 127.0.0.1 and its CA file, in ``tmp_path``."""
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.cert_chain_pems[0].write_to_path(tmp_path / "server.crt")
    server.private_key_pem.write_to_path(tmp_path / "server.key")
    ca.cert_pem.write_to_path(tmp_path / "ca.crt")
    return tmp_path


def web_file(directory: Path, text: str) -> str:
    path = directory / "web.yml"
    path.write_text(text)
    return str(path)


TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
MTLS = TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
USERS = f"basic_auth_users:\n  prometheus: '{HASH}'\n"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            "tls_server_config:\n  cert_fil: x\n",
            "tls_server_config.cert_fil",
            "unknown key (did you mean 'cert_file'?)",
        ),
        ("basic_auth_user: {}\n", "basic_auth_user", "unknown key (did you mean 'basic_auth_users'?)"),
        ("rate_limit: {burst: 1}\n", "rate_limit", "is not supported by dli-watcher"),
        (TLS + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", "tls_server_config.cipher_suites", "is not supported"),
        (TLS + "  client_auth_type: RequireAnyClientCert\n", "tls_server_config.client_auth_type", "not supported"),
        (TLS + "  client_auth_type: Always\n", "tls_server_config.client_auth_type", "must be one of"),
        (TLS + "  client_ca_file: ca.crt\n", "tls_server_config.client_ca_file", "client_auth_type is NoClientCert"),
        (TLS + "  client_auth_type: VerifyClientCertIfGiven\n", "tls_server_config.client_ca_file", "is required"),
        (TLS + "  client_allowed_sans: [a]\n", "tls_server_config.client_allowed_sans", "RequireAndVerifyClientCert"),
        (TLS + "  min_version: TLS13\n  max_version: TLS12\n", "tls_server_config.min_version", "above max_version"),
        (TLS + "  min_version: SSL3\n", "tls_server_config.min_version", "must be one of TLS10"),
        ("tls_server_config:\n  key_file: server.key\n", "tls_server_config.cert_file", "is required"),
        ("tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n", "tls_server_config.cert_file", "nope"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: ca.crt\n", "tls_server_config.cert_file", "load"),
        ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice", "must be a bcrypt hash"),
        ("basic_auth_users: [alice]\n", "basic_auth_users", "must be a mapping"),
        ("http_server_config:\n  headers:\n    X-Evil: 1\n", "http_server_config.headers.X-Evil", "cannot be set"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "X-Frame-Options", "must be one of deny"),
    ],
)
def test_bad_web_configs_name_the_key(pki, text, key, problem):
    """Each mistake is a ConfigError naming the dotted key and the file, never a silently open /metrics."""
    path = web_file(pki, text)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert key in caught.value.key and path in caught.value.key
    assert problem in caught.value.problem
    assert "plaintext" not in str(caught.value)


def test_unreadable_and_invalid_files(tmp_path):
    """A missing file and one that is not YAML are errors of metrics.web_config_file."""
    with pytest.raises(ConfigError, match=r"metrics.web_config_file: cannot read .*No such file"):
        load_web_config(str(tmp_path / "missing.yml"))
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_web_config(web_file(tmp_path, "tls_server_config: [\n"))


def test_a_good_file_resolves_files_next_to_it(pki):
    """Relative file names are relative to the web config file; users and headers are read."""
    text = MTLS + USERS + "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n"
    web = load_web_config(web_file(pki, text))
    assert web is not None and web.tls is not None and web.auth is not None
    assert web.client_certs == "required"
    assert web.headers == (("X-Frame-Options", "deny"),)
    assert load_web_config("") is None
    assert load_web_config(web_file(pki, "")) is not None  # an empty file: plain HTTP, no users


def test_credentials_parsing():
    """Only well-formed Basic credentials are read; the password may contain colons."""
    assert credentials("Basic YWxpY2U6YTpi") == ("alice", "a:b")
    assert credentials("basic YWxpY2U6") == ("alice", "")
    for bad in ("", "Bearer x", "Basic !!!", "Basic YWxpY2U=", "Basic /w=="):
        assert credentials(bad) is None


def test_only_passwords_that_passed_are_remembered():
    """A right password is remembered; a wrong one never, so every guess pays bcrypt; unknown users fail."""
    auth = BasicAuth({"prometheus": HASH})
    assert not auth.remembered("prometheus", PASSWORD)
    assert auth.verify("prometheus", PASSWORD)
    assert auth.remembered("prometheus", PASSWORD)
    assert not auth.verify("prometheus", "guess")
    assert not auth.remembered("prometheus", "guess")
    assert not auth.verify("nobody", PASSWORD)
    assert not auth.verify("prometheus", "x" * 100)  # past bcrypt's 72 bytes


@pytest.mark.anyio
async def test_tls_with_basic_auth(pki, ca):
    """Over TLS: the right password scrapes, a wrong one gets 401 with a challenge, probes need none."""
    web = load_web_config(web_file(pki, TLS + USERS))
    async with serving(endpoints(), web) as (_, url):
        https = url.replace("http://", "https://")
        async with httpx.AsyncClient(base_url=https, verify=ca_context(ca)) as client:
            good = await client.get("/metrics", auth=("prometheus", PASSWORD))
            wrong = await client.get("/metrics", auth=("prometheus", "nope"))
            missing = await client.get("/metrics")
            landing = await client.get("/")
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
        async with httpx.AsyncClient(base_url=url) as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get("/healthz")
    assert good.status_code == 200 and "demo_total" in good.text
    for refused in (wrong, missing, landing):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="dli-watcher", charset="UTF-8"'
    assert (health.status_code, ready.status_code) == (200, 200)


@pytest.mark.anyio
async def test_client_certificates_required(pki, ca):
    """With RequireAndVerifyClientCert a valid client certificate scrapes; without one only the probes answer."""
    web = load_web_config(web_file(pki, MTLS))
    client_cert = ca.issue_cert("prometheus@example.com")
    stranger = trustme.CA().issue_cert("mallory@example.com")
    async with serving(endpoints(), web) as (_, url):
        https = url.replace("http://", "https://")
        with_cert, without, foreign = ca_context(ca), ca_context(ca), ca_context(ca)
        client_cert.configure_cert(with_cert)
        stranger.configure_cert(foreign)
        async with httpx.AsyncClient(base_url=https, verify=with_cert) as client:
            good = await client.get("/metrics")
        async with httpx.AsyncClient(base_url=https, verify=without) as client:
            refused = await client.get("/metrics")
            health = await client.get("/healthz")
        async with httpx.AsyncClient(base_url=https, verify=foreign) as client:
            with pytest.raises(httpx.HTTPError):
                await client.get("/healthz")
    assert good.status_code == 200
    assert (refused.status_code, refused.text) == (403, "a client certificate is required\n")
    assert health.status_code == 200


@pytest.mark.anyio
async def test_allowed_sans_and_reload(pki, ca):
    """client_allowed_sans admits only certificates naming one of them; configure() switches a running server."""
    web = load_web_config(web_file(pki, MTLS + "  client_allowed_sans: [prometheus.monitoring.svc]\n"))
    allowed, other = ca_context(ca), ca_context(ca)
    ca.issue_cert("prometheus.monitoring.svc").configure_cert(allowed)
    ca.issue_cert("grafana.monitoring.svc").configure_cert(other)
    async with serving(endpoints(), web) as (server, url):
        https = url.replace("http://", "https://")
        async with httpx.AsyncClient(base_url=https, verify=allowed) as client:
            ok = (await client.get("/metrics")).status_code
        async with httpx.AsyncClient(base_url=https, verify=other) as client:
            refused = (await client.get("/metrics")).status_code
        server.configure(None)  # a reload that removed the web config: plain HTTP from now on
        async with httpx.AsyncClient(base_url=url) as client:
            plain = (await client.get("/metrics")).status_code
    assert (ok, refused, plain) == (200, 403, 200)


def ca_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_the_run_flag_overrides_the_config_key(tmp_path):
    """``run --web-config-file`` replaces metrics.web_config_file, as an exporter's --web.config.file."""
    config = tmp_path / "config.toml"
    config.write_text('[api]\nflavor = "livy"\nendpoint = "http://127.0.0.1:9"\n[metrics]\nweb_config_file = "a.yml"\n')
    assert cli._load(str(config)).metrics.web_config_file == "a.yml"
    assert cli._load(str(config), Flags(web_config_file="b.yml")).metrics.web_config_file == "b.yml"
    # the exporter-toolkit spelling is the same flag
    args = cli.parser().parse_args(["run", "--web.config.file", "c.yml"])
    assert cli._load(str(config), Flags.of(args)).metrics.web_config_file == "c.yml"


@pytest.mark.anyio
async def test_sighup_rereads_the_web_config(sim, pki, ca):
    """A reload turns TLS on for new connections; a bad web config on reload is reported and the old one kept."""
    bid = sim.world.add_batch(name="reload", state="running")
    plain = make_config(sim, [bid])
    configs = [
        make_config(sim, [bid], metrics={"web_config_file": web_file(pki, TLS)}),
        make_config(sim, [bid], metrics={"web_config_file": str(pki / "bad.yml")}),
    ]
    (pki / "bad.yml").write_text("tls_server_config:\n  cert_fil: x\n")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, plain, reload=lambda: configs.pop(0))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        os.kill(os.getpid(), signal.SIGHUP)
        await run.wait_for(lambda: any(e.name == "watcher.reloaded" for e in run.events))
        https = run.metrics_url.replace("http://", "https://")
        async with httpx.AsyncClient(verify=ca_context(ca)) as client:
            secured = (await client.get(https + "/metrics")).status_code
        os.kill(os.getpid(), signal.SIGHUP)
        await run.wait_for(lambda: any(e.name == "watcher.reload_failed" for e in run.events))
        async with httpx.AsyncClient(verify=ca_context(ca)) as client:
            still = (await client.get(https + "/metrics")).status_code
        run.stopped.set()
    failed = next(e for e in run.events if e.name == "watcher.reload_failed")
    assert (secured, still) == (200, 200)
    assert failed.fields["key"].startswith("tls_server_config.cert_fil")


def https_client(url: str, ca: trustme.CA) -> httpx.AsyncClient:
    """A client of the server at ``url`` over TLS, trusting ``ca``."""
    return httpx.AsyncClient(base_url=url.replace("http://", "https://"), verify=ca_context(ca))


@pytest.mark.anyio
async def test_post_reload_is_behind_basic_auth(pki, ca):
    """POST /-/reload: without the password 401 and no reload; with it the reload runs; off it is 405."""
    reloads: list[int] = []

    def reload() -> str | None:
        reloads.append(1)
        return None

    web = load_web_config(web_file(pki, TLS + USERS))
    on = dataclasses.replace(endpoints(), lifecycle=lambda: reload)
    async with serving(on, web) as (_, url), https_client(url, ca) as client:
        anonymous = await client.post("/-/reload")
        refused = len(reloads)
        good = await client.post("/-/reload", auth=("prometheus", PASSWORD))
    async with serving(endpoints(), web) as (_, url), https_client(url, ca) as client:
        off = await client.post("/-/reload", auth=("prometheus", PASSWORD))
    assert (anonymous.status_code, refused) == (401, 0)
    assert (good.status_code, good.text, len(reloads)) == (200, "reloaded\n", 1)
    assert off.status_code == 405 and "enable_lifecycle" in off.text
