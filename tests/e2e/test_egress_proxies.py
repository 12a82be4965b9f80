"""Egress through real tinyproxy and openssl subprocesses: forward proxies, CONNECT tunnels, proxy logins, CA dirs."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from tests.helpers import make_config, simulator
from tests.proxies import SIGNED, TRANSPORTS, Tinyproxy, config, failure, make_pki, read, tls_simulator
from tests.tools import require, run
from watcher.simulator import SimAuth, SimServer, World
from watcher.simulator.cli import EXAMPLE_DOMAIN, EXAMPLE_PASSWORD, EXAMPLE_USER

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.proxies import Pki
    from watcher.config.settings import Config

pytestmark = pytest.mark.anyio

PROXY_USER, PROXY_PASSWORD = "watcher", "pr0xy-pa55word"


@pytest.fixture
def proxy(tmp_path) -> Iterator[Tinyproxy]:
    tiny = Tinyproxy(tmp_path).start()
    try:
        yield tiny
    finally:
        tiny.stop()


@pytest.fixture
def pki(tmp_path) -> Pki:
    return make_pki(tmp_path)


# --- through a forward proxy ------------------------------------------------------------------------


@contextmanager
def api_and_iam(pki: Pki | None) -> Iterator[tuple[SimServer, SimServer]]:
    """One world served twice: as the API (tokens only) and as IAM (passwords), over TLS when ``pki`` is given."""
    world = World("dli")
    auth = SimAuth(mode="token", users={EXAMPLE_USER: EXAMPLE_PASSWORD}, domain=EXAMPLE_DOMAIN)
    tls = pki.server_context() if pki else None
    api, iam = SimServer(world, auth, tls=tls), SimServer(world, auth, tls=tls)
    api.start_in_thread()
    iam.start_in_thread()
    try:
        yield api, iam
    finally:
        api.stop()
        iam.stop()


def password_config(api: SimServer, iam: SimServer, **extra: object) -> tuple[Config, str]:
    batch = api.world.add_batch(name="etl", state="running")
    auth = {
        "method": "password",
        "user": EXAMPLE_USER,
        "domain": EXAMPLE_DOMAIN,
        "password": EXAMPLE_PASSWORD,
        "project_name": "cn-north-4",
        "iam_endpoint": iam.url,
    }
    return make_config(api, [batch], api=extra, auth=auth), batch


# --- what failed, in words --------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_http_api_goes_through_the_configured_proxy_and_stays_signed(proxy, transport):
    """``api.proxy``: the request reaches the simulator through tinyproxy, and its AK/SK signature still verifies."""
    with simulator(auth=SIGNED) as server:
        cfg, batch = config(server, transport, proxy=proxy.url)
        assert await read(cfg, batch) == "running"
    assert ("GET", f"{server.url}/v2.0/{server.world.project_id}/batches/{batch}") in proxy.requests()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_https_api_tunnels_with_connect_from_the_environment(proxy, pki, transport):
    """``HTTPS_PROXY`` alone: a CONNECT tunnel to the TLS simulator, verified with ``api.ca_file``, signature intact."""
    with tls_simulator(pki.server_context(), auth=SIGNED) as server:
        cfg, batch = config(server, transport, ca_file=str(pki.ca_file))
        assert await read(cfg, batch, {"HTTPS_PROXY": proxy.url}) == "running"
    assert ("CONNECT", f"127.0.0.1:{server.port}") in proxy.requests()


@pytest.mark.parametrize(
    "env",
    [
        {"https_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "{proxy}"},  # the variable of the other scheme
        {"HTTP_PROXY": "{proxy}", "NO_PROXY": "example.com,127.0.0.1"},
        {"http_proxy": "{proxy}", "no_proxy": "*"},
        {"ALL_PROXY": "{proxy}", "NO_PROXY": "127.0.0.0/8"},
    ],
    ids=["scheme", "no-proxy-ip", "no-proxy-star", "no-proxy-cidr"],
)
async def test_environment_proxy_for_http_and_no_proxy(proxy, env):
    """The scheme's variable is used; a NO_PROXY name, IP, range or ``*`` sends the request direct."""
    env = {k: v.format(proxy=proxy.url) for k, v in env.items()}
    with simulator(auth=SIGNED) as server:
        cfg, batch = config(server, "aiohttp")
        assert await read(cfg, batch, env) == "running"
    went_through = bool(proxy.requests())
    assert went_through == ("NO_PROXY" not in env and "no_proxy" not in env)


async def test_config_no_proxy_adds_to_the_environment(proxy):
    """``api.no_proxy`` bypasses a proxy set by ``api.proxy`` too."""
    with simulator(auth=SIGNED) as server:
        cfg, batch = config(server, "httpx", proxy=proxy.url, no_proxy=("127.0.0.1",))
        assert await read(cfg, batch) == "running"
    assert proxy.requests() == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_proxy_login_from_the_environment_works_and_a_wrong_one_is_named(tmp_path, pki, transport):
    """A proxy needing a login: the variable's credentials work; a wrong password reads 407, never the password."""
    tiny = Tinyproxy(tmp_path, credentials=(PROXY_USER, PROXY_PASSWORD)).start()
    try:
        with tls_simulator(pki.server_context(), auth=SIGNED) as server:
            cfg, batch = config(server, transport, ca_file=str(pki.ca_file))
            assert await read(cfg, batch, {"HTTPS_PROXY": tiny.url_with_credentials}) == "running"
            wrong = tiny.url_with_credentials.replace(PROXY_PASSWORD, "not-the-pa55word")
            message = await failure(cfg, batch, {"HTTPS_PROXY": wrong})
    finally:
        tiny.stop()
    assert message.startswith(f"cannot connect to 127.0.0.1:{server.port} via proxy 127.0.0.1:{tiny.port}: ")
    # tinyproxy answers a missing login with 407 and a wrong one with 401
    assert re.search(r"proxy answered 40[17] (Proxy Authentication Required|Unauthorized) to CONNECT$", message)
    assert "not-the-pa55word" not in message
    assert PROXY_USER not in message


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_iam_login_goes_through_the_proxy_too(proxy, pki, tls):
    """Password auth: the IAM login takes the same proxy as the API (a plain POST, or its own CONNECT tunnel)."""
    with api_and_iam(pki if tls else None) as (api, iam):
        cfg, batch = password_config(api, iam, ca_file=str(pki.ca_file) if tls else "")
        assert await read(cfg, batch, {"https_proxy": proxy.url, "http_proxy": proxy.url}) == "running"
        assert iam.requests["iam"] == 1
    seen = proxy.requests()
    if tls:
        assert ("CONNECT", f"127.0.0.1:{iam.port}") in seen
        assert ("CONNECT", f"127.0.0.1:{api.port}") in seen
    else:
        assert ("POST", f"{iam.url}/v3/auth/tokens?nocatalog=true") in seen
        assert ("GET", f"{api.url}/v2.0/{api.world.project_id}/batches/{batch}") in seen


async def test_ca_dir_in_openssl_hashed_layout(tmp_path, pki):
    """``api.ca_dir``: a c_rehash'd directory holding the CA is trusted."""
    ca_dir = tmp_path / "cas"
    ca_dir.mkdir()
    (ca_dir / "corp-ca.pem").write_bytes(pki.ca.cert_pem.bytes())
    result = run(require("openssl", "openssl"), "rehash", ca_dir)
    assert result.returncode == 0, result.stderr
    with tls_simulator(pki.server_context()) as server:
        cfg = make_config(server, [server.world.add_batch(state="running")], api={"ca_dir": str(ca_dir)})
        assert await read(cfg, cfg.watch.batch_ids[0]) == "running"


async def test_mutual_tls_through_the_proxy(proxy, pki):
    """Client certificate, private CA and a CONNECT tunnel together."""
    with tls_simulator(pki.server_context(require_client_cert=True), auth=SIGNED) as server:
        cfg, batch = config(
            server,
            "aiohttp",
            ca_file=str(pki.ca_file),
            client_cert_file=str(pki.client_cert_file),
            client_key_file=str(pki.client_key_file),
            proxy=proxy.url,
        )
        assert await read(cfg, batch) == "running"
    assert ("CONNECT", f"127.0.0.1:{server.port}") in proxy.requests()
