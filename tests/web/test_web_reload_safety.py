"""The web config is checked where it can break (header values) and a reload never weakens /metrics' protection."""

from __future__ import annotations

import os
import signal

import anyio
import bcrypt
import httpx
import pytest

from tests.helpers import make_config, start_watch
from tests.web.test_webconfig import PASSWORD, TLS, USERS, ca, ca_context, pki, web_file  # noqa: F401 - fixtures
from watcher.errors import ConfigError
from watcher.web.webconfig import load_web_config, parse_web_config, weakening


@pytest.mark.parametrize("value", ["max-age=1 \u2013 dash", "a\x00b", "a\x7fb", "emoji \U0001f600", "a\rb"])
def test_a_header_value_that_cannot_go_on_the_wire_is_a_config_error(value):
    """Outside Latin-1 or with a control character: refused when read, so it never breaks /healthz."""
    data = {"http_server_config": {"headers": {"Strict-Transport-Security": value}}}
    with pytest.raises(ConfigError) as caught:
        parse_web_config(data, "/etc/web.yml")
    assert caught.value.key == "http_server_config.headers.Strict-Transport-Security (/etc/web.yml)"
    assert "Latin-1" in caught.value.problem
    ok = {"http_server_config": {"headers": {"Content-Security-Policy": "default-src 'none'; caf\u00e9\tx"}}}
    assert parse_web_config(ok, "/etc/web.yml").headers == (
        ("Content-Security-Policy", "default-src 'none'; caf\u00e9\tx"),
    )


def test_what_counts_as_weakening(pki):  # noqa: F811 - fixture
    """Dropping the file, TLS or auth, or lowering client certificates weakens; removing a user does not."""
    two = bcrypt.hashpw(b"other", bcrypt.gensalt(4)).decode()
    both = load_web_config(web_file(pki, TLS + USERS + f"  grafana: '{two}'\n"))
    one_user = load_web_config(web_file(pki, TLS + USERS))
    no_auth = load_web_config(web_file(pki, TLS))
    no_tls = load_web_config(web_file(pki, USERS))
    renewed = load_web_config(web_file(pki, TLS + USERS + f"  grafana: '{two}'\n"))
    assert weakening(both, one_user) is None and weakening(both, renewed) is None
    assert weakening(None, None) is None and weakening(no_tls, both) is None
    assert weakening(both, None) == "the web config file would be dropped"
    assert weakening(both, no_auth) == "basic auth would be turned off"
    assert weakening(both, no_tls) == "TLS would be turned off"


@pytest.mark.anyio
async def test_a_reload_keeps_the_protection_and_still_revokes_a_user(sim, pki, ca):  # noqa: F811 - fixtures
    """Reload 1 removes a user (applied at once); reload 2 drops TLS and auth (not applied, restart_required)."""
    bid = sim.world.add_batch(name="guarded", state="running")
    other = bcrypt.hashpw(b"leaked-pass", bcrypt.gensalt(4)).decode()
    two_users = make_config(
        sim, [bid], metrics={"web_config_file": web_file(pki, TLS + USERS + f"  leaky: '{other}'\n")}
    )
    (pki / "one.yml").write_text(TLS + USERS)
    one_user = make_config(sim, [bid], metrics={"web_config_file": str(pki / "one.yml")})
    configs = [one_user, make_config(sim, [bid])]
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, two_users, reload=lambda: configs.pop(0))
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        https = run.metrics_url.replace("http://", "https://")
        async with httpx.AsyncClient(base_url=https, verify=ca_context(ca)) as client:
            before = (await client.get("/metrics", auth=("leaky", "leaked-pass"))).status_code
            os.kill(os.getpid(), signal.SIGHUP)
            await run.wait_for(lambda: sum(e.name == "watcher.reloaded" for e in run.events) == 1)
            revoked = (await client.get("/metrics", auth=("leaky", "leaked-pass"))).status_code
            os.kill(os.getpid(), signal.SIGHUP)
            await run.wait_for(lambda: sum(e.name == "watcher.reloaded" for e in run.events) == 2)
            anonymous = (await client.get("/metrics")).status_code
            kept = (await client.get("/metrics", auth=("prometheus", PASSWORD))).status_code
        run.stopped.set()
    reloads = [e for e in run.events if e.name == "watcher.reloaded"]
    assert (before, revoked, anonymous, kept) == (200, 401, 401, 200)
    assert "metrics.web_config_file" not in reloads[0].fields["restart_required"]
    assert "metrics.web_config_file" in reloads[1].fields["restart_required"]
