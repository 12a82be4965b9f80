"""Proxies and private CAs against real servers on loopback: tinyproxy (HTTP and CONNECT), TLS simulators, mTLS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from tests.helpers import make_config, simulator, start_watch
from tests.proxies import SIGNED, TRANSPORTS, config, failure, free_port, make_pki, read, tls_simulator

if TYPE_CHECKING:
    from tests.proxies import Pki

pytestmark = pytest.mark.anyio

PROXY_USER, PROXY_PASSWORD = "watcher", "pr0xy-pa55word"
UNKNOWN_ISSUER = "certificate verify failed: unable to get local issuer certificate"


@pytest.fixture
def pki(tmp_path) -> Pki:
    return make_pki(tmp_path)


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
