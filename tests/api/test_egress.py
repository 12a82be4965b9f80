"""Proxies and private CAs against real servers on loopback: tinyproxy (HTTP and CONNECT), TLS simulators, mTLS."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.helpers import make_config, simulator, start_watch
from tests.proxies import Tinyproxy, free_port, make_pki, tls_simulator
from tests.tools import require, run
from watcher.api.http import open_api
from watcher.errors import ConnectApiError
from watcher.simulator import SimAuth, SimServer, World
from watcher.simulator.cli import EXAMPLE_AK, EXAMPLE_DOMAIN, EXAMPLE_PASSWORD, EXAMPLE_SK, EXAMPLE_USER

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.proxies import Pki
    from watcher.config.settings import Config

pytestmark = pytest.mark.anyio

TRANSPORTS = ["aiohttp", "httpx"]
AKSK = {"method": "aksk", "access_key": EXAMPLE_AK, "secret_key": EXAMPLE_SK}
SIGNED = SimAuth(mode="aksk", keys={EXAMPLE_AK: EXAMPLE_SK})
PROXY_USER, PROXY_PASSWORD = "watcher", "pr0xy-pa55word"
UNKNOWN_ISSUER = "certificate verify failed: unable to get local issuer certificate"


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


def config(server: SimServer, transport: str, **api: object) -> tuple[Config, str]:
    """A config reading one running batch of ``server`` with AK/SK, and that batch's ID."""
    batch = server.world.add_batch(name="etl", state="running")
    return make_config(server, [batch], api={"transport": transport, **api}, auth=AKSK), batch


async def read(cfg: Config, batch: str, env: dict[str, str] | None = None) -> str:
    """The batch's state, read once through ``open_api`` with ``env`` as the process environment."""
    async with open_api(cfg, env or {}) as api:
        return (await api.details(batch)).state


async def failure(cfg: Config, batch: str, env: dict[str, str] | None = None) -> str:
    """The message of the ConnectApiError reading the batch raises."""
    with pytest.raises(ConnectApiError) as info:
        await read(cfg, batch, env)
    return info.value.message


# --- through a forward proxy ------------------------------------------------------------------------


@pytest.mark.slow  # tinyproxy, a subprocess
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_http_api_goes_through_the_configured_proxy_and_stays_signed(proxy, transport):
    """``api.proxy``: the request reaches the simulator through tinyproxy, and its AK/SK signature still verifies."""
    with simulator(auth=SIGNED) as server:
        cfg, batch = config(server, transport, proxy=proxy.url)
        assert await read(cfg, batch) == "running"
    assert ("GET", f"{server.url}/v2.0/{server.world.project_id}/batches/{batch}") in proxy.requests()


@pytest.mark.slow  # tinyproxy, a subprocess
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_https_api_tunnels_with_connect_from_the_environment(proxy, pki, transport):
    """``HTTPS_PROXY`` alone: a CONNECT tunnel to the TLS simulator, verified with ``api.ca_file``, signature intact."""
    with tls_simulator(pki.server_context(), auth=SIGNED) as server:
        cfg, batch = config(server, transport, ca_file=str(pki.ca_file))
        assert await read(cfg, batch, {"HTTPS_PROXY": proxy.url}) == "running"
    assert ("CONNECT", f"127.0.0.1:{server.port}") in proxy.requests()


@pytest.mark.slow  # tinyproxy, a subprocess
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


@pytest.mark.slow  # tinyproxy, a subprocess
async def test_config_no_proxy_adds_to_the_environment(proxy):
    """``api.no_proxy`` bypasses a proxy set by ``api.proxy`` too."""
    with simulator(auth=SIGNED) as server:
        cfg, batch = config(server, "httpx", proxy=proxy.url, no_proxy=("127.0.0.1",))
        assert await read(cfg, batch) == "running"
    assert proxy.requests() == []


@pytest.mark.slow  # tinyproxy, a subprocess
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


@pytest.mark.slow  # tinyproxy, a subprocess
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


# --- private CAs and mutual TLS ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_private_ca_fails_with_the_default_cas_and_passes_with_ca_file(pki, transport):
    """The throwaway CA is unknown to the system bundle: verification fails, and says so, until ``ca_file`` names it."""
    with tls_simulator(pki.server_context(), auth=SIGNED) as server:
        cfg, batch = config(server, transport)
        message = await failure(cfg, batch)  # the default: $SSL_CERT_FILE, else certifi's bundle
        assert message == f"cannot connect to 127.0.0.1:{server.port}: " + UNKNOWN_ISSUER
        trusted, _ = config(server, transport, ca_file=str(pki.ca_file))
        assert await read(trusted, batch) == "running"


@pytest.mark.slow  # openssl rehash, a subprocess
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


async def test_certificate_for_another_host_is_named(tmp_path, pki):
    """A server certificate that does not cover the address says so."""
    other = pki.ca.issue_cert("dli.example.test")
    tls = pki.server_context()
    other.configure_cert(tls)
    with tls_simulator(tls) as server:
        cfg = make_config(server, [server.world.add_batch()], api={"ca_file": str(pki.ca_file)})
        message = await failure(cfg, cfg.watch.batch_ids[0])
    assert "certificate verify failed: IP address mismatch" in message


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_mutual_tls_is_required_and_satisfied(tmp_path, pki, transport):
    """A gateway that requires a client certificate refuses the watcher without one and answers with it."""
    combined = tmp_path / "combined.pem"
    combined.write_bytes(pki.client_cert_file.read_bytes() + pki.client_key_file.read_bytes())
    with tls_simulator(pki.server_context(require_client_cert=True), auth=SIGNED) as server:
        cfg, batch = config(server, transport, ca_file=str(pki.ca_file))
        await failure(cfg, batch)
        with_cert, _ = config(
            server,
            transport,
            ca_file=str(pki.ca_file),
            client_cert_file=str(pki.client_cert_file),
            client_key_file=str(pki.client_key_file),
        )
        assert await read(with_cert, batch) == "running"
        one_file, _ = config(server, transport, ca_file=str(pki.ca_file), client_cert_file=str(combined))
        assert await read(one_file, batch) == "running"


@pytest.mark.slow  # tinyproxy, a subprocess
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


# --- what failed, in words --------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_refused_unresolved_and_proxy_refused_are_told_apart(transport):
    """Today's ``connection failed (ConnectError)`` becomes the host:port and the cause."""
    dead = free_port()
    with simulator() as server:
        cfg, batch = config(server, transport)
    assert await failure(cfg, batch) == f"cannot connect to 127.0.0.1:{server.port}: connection refused"
    unresolved = make_config(server, [batch], api={"transport": transport, "endpoint": "http://no-such-host.invalid"})
    assert (await failure(unresolved, batch)).startswith("cannot connect to no-such-host.invalid:80: name not resolved")
    via_dead, _ = config(server, transport, proxy=f"http://127.0.0.1:{dead}")
    assert await failure(via_dead, batch) == (
        f"cannot connect to 127.0.0.1:{server.port} via proxy 127.0.0.1:{dead}: proxy refused the connection"
    )


async def test_poll_failed_event_says_the_proxy_refused():
    """The daemon's ``batch.poll_failed`` carries the same words, with no URL in them."""
    dead = free_port()
    with simulator() as server:
        cfg, batch = config(server, "aiohttp", proxy=f"http://127.0.0.1:{dead}", max_attempts=1)
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            await run.wait_for(lambda: run.of(batch, "batch.poll_failed"))
            run.stopped.set()
    event = run.of(batch, "batch.poll_failed")[0]
    assert event.fields["reason"] == "connect"
    assert event.fields["error_message"] == (
        f"cannot connect to 127.0.0.1:{server.port} via proxy 127.0.0.1:{dead}: proxy refused the connection"
    )
