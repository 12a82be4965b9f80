"""httpx.Auth classes: AK/SK signing, static tokens and IAM password tokens, on mocks and the simulator."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest

from watcher.api.auth import (
    AkSkAuth,
    IamTokenSource,
    PasswordAuth,
    TokenAuth,
    build_auth,
    sign_request,
)
from watcher.api.client import BatchApi
from watcher.api.signer import SignedRequest, parse_authorization, verify
from watcher.config.credentials import AuthConfig
from watcher.config.settings import ApiConfig
from watcher.errors import AuthError, ConfigError
from watcher.simulator import SimAuth, SimServer, World

AK, SK = "AKEXAMPLE0000000000", "SKEXAMPLEsecret0000000000000000000000000"
PID = "0123456789abcdef0123456789abcdef"
BASE = f"/v2.0/{PID}/batches"
PASSWORD = "correct-horse-battery-staple"
FIXED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


@pytest.fixture
def anyio_backend():
    """Run the async tests on asyncio (the simulator's loop is asyncio too)."""
    return "asyncio"


class FakeClock:
    """A settable clock in epoch seconds, shared by the simulator world and the client."""

    def __init__(self, now: float | None = None) -> None:
        self.now = datetime.now(UTC).timestamp() if now is None else now

    def __call__(self) -> float:
        return self.now


def _as_signed(request: httpx.Request) -> SignedRequest:
    """What a server sees of a sent request, in the form watcher.signer.verify wants."""
    path = request.url.raw_path.partition(b"?")[0].decode()
    query = tuple(parse_qsl(request.url.query.decode(), keep_blank_values=True))
    return SignedRequest(request.method, path, query, dict(request.headers), request.content)


class Recorder:
    """A MockTransport handler that keeps every request and answers 200 ``{}``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={})


# --- AkSkAuth on a mock transport -----------------------------------------------------------------


@pytest.mark.anyio
async def test_aksk_headers_and_signature_over_what_was_sent():
    """X-Sdk-Date, X-Project-Id and X-Security-Token are sent, and the signature verifies over the wire."""
    rec = Recorder()
    auth = AkSkAuth(AK, SK, project_id=PID, security_token="sts-token", clock=lambda: FIXED)
    async with httpx.AsyncClient(transport=httpx.MockTransport(rec), auth=auth) as client:
        await client.get(f"https://dli.example.com{BASE}/b1/log", params={"from": 0, "size": 100})
        await client.post(f"https://dli.example.com{BASE}", json={"file": "a.jar", "name": "\u4e2d"})
    assert len(rec.requests) == 2
    for request in rec.requests:
        headers = request.headers
        assert headers["X-Sdk-Date"] == "20240102T030405Z"
        assert headers["X-Project-Id"] == PID
        assert headers["X-Security-Token"] == "sts-token"
        assert headers["Content-Type"].startswith("application/json")
        parsed = parse_authorization(headers["Authorization"])
        assert parsed is not None
        assert parsed.access_key == AK
        assert parsed.signed_headers == ["content-type", "host", "x-project-id", "x-sdk-date", "x-security-token"]
        assert verify(_as_signed(request), {AK: SK})
        assert not verify(_as_signed(request), {AK: SK + "0"})
    assert rec.requests[1].content  # the body was signed as sent


@pytest.mark.anyio
async def test_aksk_without_project_or_token_sends_neither():
    """Livy-style AK/SK (no project, no STS token) sends neither header and signs only what is there."""
    rec = Recorder()
    auth = AkSkAuth(AK, SK, clock=lambda: FIXED)
    async with httpx.AsyncClient(transport=httpx.MockTransport(rec), auth=auth) as client:
        await client.get("https://livy.example.com/batches/7", headers={"X_Trace_Id": "t-1"})
    request = rec.requests[0]
    assert "X-Project-Id" not in request.headers
    assert "X-Security-Token" not in request.headers
    assert request.headers["X_Trace_Id"] == "t-1"
    parsed = parse_authorization(request.headers["Authorization"])
    assert parsed is not None
    assert parsed.signed_headers == ["content-type", "host", "x-sdk-date"]
    assert verify(_as_signed(request), {AK: SK})


@pytest.mark.anyio
async def test_aksk_uses_the_clock_per_request():
    """Every request is signed at its own time, so a long-running client never sends stale dates."""
    clock = FakeClock(FIXED)
    rec = Recorder()
    auth = AkSkAuth(AK, SK, clock=clock)
    async with httpx.AsyncClient(transport=httpx.MockTransport(rec), auth=auth) as client:
        await client.get("https://h/batches/1")
        clock.now += 3600
        await client.get("https://h/batches/1")
    assert [r.headers["X-Sdk-Date"] for r in rec.requests] == ["20240102T030405Z", "20240102T040405Z"]
    assert rec.requests[0].headers["Authorization"] != rec.requests[1].headers["Authorization"]


def test_sign_request_twice_replaces_the_signature():
    """Re-signing a request (new date) gives a valid signature that does not cover the old Authorization."""
    request = httpx.Request("GET", "https://h/batches/1", params={"from": "3"})
    sign_request(request, AK, SK, FIXED, project_id=PID)
    first = request.headers["Authorization"]
    sign_request(request, AK, SK, FIXED + 60, project_id=PID)
    parsed = parse_authorization(request.headers["Authorization"])
    assert parsed is not None
    assert "authorization" not in parsed.signed_headers
    assert request.headers["Authorization"] != first
    assert verify(_as_signed(request), {AK: SK})


# --- the simulator over HTTP ----------------------------------------------------------------------


@contextmanager
def serve(auth, clock=None):
    """A DLI world with one batch behind a real loopback server."""
    world = World("dli", clock=clock) if clock is not None else World("dli")
    server = SimServer(world, auth)
    url = server.start_in_thread()
    try:
        yield world, server, url
    finally:
        server.stop()


@pytest.fixture
def aksk_sim():
    """A simulator that requires SDK-HMAC-SHA256 signatures from AK."""
    with serve(SimAuth(mode="aksk", keys={AK: SK})) as env:
        yield env


@pytest.mark.anyio
async def test_aksk_accepted_by_simulator(aksk_sim):
    """The right SK is accepted on details, state, log (with a query) and list (with an encoded filter)."""
    world, server, url = aksk_sim
    bid = world.add_batch(name="job", queue="q 1")
    async with httpx.AsyncClient(base_url=url, auth=AkSkAuth(AK, SK, project_id=PID)) as client:
        for path, params in [
            (f"{BASE}/{bid}", None),
            (f"{BASE}/{bid}/state", None),
            (f"{BASE}/{bid}/log", {"from": 0, "size": 5}),
            (BASE, {"queue_name": "q 1", "from": "0", "size": "10", "x": "a+b/\u00e9"}),
        ]:
            resp = await client.get(path, params=params)
            assert resp.status_code == 200, resp.text
    assert server.requests["unauthorized"] == 0
    assert server.requests["details"] == 1


@pytest.mark.anyio
async def test_aksk_awkward_paths_verify_on_the_simulator(aksk_sim):
    """Paths with spaces, unicode and %2F sign as the server sees them: not-found, never 401."""
    _, server, url = aksk_sim
    async with httpx.AsyncClient(base_url=url, auth=AkSkAuth(AK, SK, project_id=PID)) as client:
        for batch_id in ("no such", "caf\u00e9", "a%2Fb", "x~y", "a%252F"):
            resp = await client.get(f"{BASE}/{batch_id}")
            assert resp.status_code == 400, (batch_id, resp.text)
            assert resp.json()["error_code"] == "DLI.0002"
    assert server.requests["unauthorized"] == 0


@pytest.mark.anyio
async def test_aksk_wrong_secret_or_unknown_key_is_401(aksk_sim):
    """A wrong SK or an unknown AK gets the gateway's 401 APIG.0301; BatchApi turns it into AuthError."""
    world, _, url = aksk_sim
    bid = world.add_batch()
    for auth in (AkSkAuth(AK, SK + "x", project_id=PID), AkSkAuth("AKUNKNOWN", SK, project_id=PID)):
        async with httpx.AsyncClient(base_url=url, auth=auth) as client:
            resp = await client.get(f"{BASE}/{bid}")
            assert resp.status_code == 401
            assert resp.json()["error_code"] == "APIG.0301"
            api = BatchApi(client, ApiConfig(flavor="dli", endpoint=url, project_id=PID))
            with pytest.raises(AuthError) as info:
                await api.details(bid)
            assert info.value.status_code == 401
            assert info.value.error_code == "APIG.0301"
            assert SK not in str(info.value)


@pytest.mark.anyio
async def test_aksk_skewed_clock_is_signature_expired(aksk_sim):
    """A signature dated more than 15 minutes off is refused with APIG.0303."""
    world, _, url = aksk_sim
    bid = world.add_batch()
    skewed = AkSkAuth(AK, SK, project_id=PID, clock=lambda: datetime.now(UTC).timestamp() - 20 * 60)
    async with httpx.AsyncClient(base_url=url, auth=skewed) as client:
        resp = await client.get(f"{BASE}/{bid}")
    assert resp.status_code == 401
    assert resp.json()["error_code"] == "APIG.0303"


@pytest.mark.anyio
async def test_aksk_security_token_required_by_simulator():
    """With temporary credentials the STS token must be sent and signed; without it the gateway refuses."""
    with serve(SimAuth(mode="aksk", keys={AK: SK}, security_token="sts-1")) as (world, _, url):
        bid = world.add_batch()
        with_token = AkSkAuth(AK, SK, project_id=PID, security_token="sts-1")
        async with httpx.AsyncClient(base_url=url, auth=with_token) as client:
            assert (await client.get(f"{BASE}/{bid}")).status_code == 200
        for auth in (AkSkAuth(AK, SK, project_id=PID), AkSkAuth(AK, SK, project_id=PID, security_token="x")):
            async with httpx.AsyncClient(base_url=url, auth=auth) as client:
                assert (await client.get(f"{BASE}/{bid}")).status_code == 401


@pytest.mark.anyio
async def test_aksk_batch_api_end_to_end(aksk_sim):
    """BatchApi over AkSkAuth reads details, state, log and list from the simulator."""
    world, _, url = aksk_sim
    bid = world.add_batch(name="etl", queue="default", state="Running")
    world.append_stdout(bid, ["line 1", "line 2"])
    async with httpx.AsyncClient(auth=AkSkAuth(AK, SK, project_id=PID)) as client:
        api = BatchApi(client, ApiConfig(flavor="dli", endpoint=url, project_id=PID))
        snap = await api.details(bid)
        assert (snap.batch_id, snap.state, snap.raw_state, snap.name) == (bid, "running", "Running", "etl")
        page = await api.log(bid, 0, 100)
        assert "line 2" in page.lines
        listing = await api.list(0, 10, queue_name="default")
        assert [s.batch_id for s in listing.sessions] == [bid]


# --- TokenAuth ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_token_auth_against_simulator():
    """A known token is accepted; an unknown one gets 401 and never leaks into the error."""
    with serve(SimAuth(mode="token", tokens=("good-token",))) as (world, server, url):
        bid = world.add_batch()
        async with httpx.AsyncClient(base_url=url, auth=TokenAuth("good-token")) as client:
            assert (await client.get(f"{BASE}/{bid}")).status_code == 200
        async with httpx.AsyncClient(auth=TokenAuth("bad-token")) as client:
            resp = await client.get(f"{url}{BASE}/{bid}")
            assert resp.status_code == 401
            assert resp.request.headers["X-Auth-Token"] == "bad-token"
            with pytest.raises(AuthError) as info:
                await BatchApi(client, ApiConfig(flavor="dli", endpoint=url, project_id=PID)).details(bid)
            assert "bad-token" not in str(info.value)
        assert server.requests["unauthorized"] == 2


# --- PasswordAuth + IamTokenSource ----------------------------------------------------------------


def _password_config(url: str, password: str = PASSWORD) -> AuthConfig:
    """Password auth against the simulator's IAM endpoint."""
    return AuthConfig(
        method="password", user="alice", password=password, domain="acme", project_name="cn-north-4", iam_endpoint=url
    )


@contextmanager
def password_sim(clock: FakeClock | None = None, lifetime: float = 24 * 3600.0):
    """A token-mode simulator whose IAM knows alice, on an optional fake clock."""
    auth = SimAuth(mode="token", users={"alice": PASSWORD}, domain="acme", token_lifetime=lifetime)
    with serve(auth, clock) as env:
        yield env


@pytest.mark.anyio
async def test_password_auth_obtains_and_reuses_a_token():
    """The first request obtains a token via IAM (201 + X-Subject-Token); the next ones reuse it."""
    iam_responses: list[httpx.Response] = []

    async def record(response: httpx.Response) -> None:
        iam_responses.append(response)

    with password_sim() as (world, server, url):
        bid = world.add_batch()
        async with httpx.AsyncClient(event_hooks={"response": [record]}) as iam:
            source = IamTokenSource(_password_config(url), iam)
            async with httpx.AsyncClient(base_url=url, auth=PasswordAuth(source)) as client:
                sent = []
                for _ in range(10):
                    resp = await client.get(f"{BASE}/{bid}")
                    assert resp.status_code == 200
                    sent.append(resp.request.headers["X-Auth-Token"])
        assert [r.status_code for r in iam_responses] == [201]
        assert iam_responses[0].headers["X-Subject-Token"] == sent[0]
        assert world.tokens_issued == 1
        assert server.requests["iam"] == 1
        assert len(set(sent)) == 1
        assert world.token_valid(sent[0])
        assert server.requests["unauthorized"] == 0


@pytest.mark.anyio
async def test_password_auth_sends_the_iam_request_iam_expects():
    """The IAM call is a project-scoped password request with the JSON content type IAM documents."""
    seen: list[httpx.Request] = []

    def iam(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, headers={"X-Subject-Token": "tok"}, json={"token": {}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(iam)) as http:
        source = IamTokenSource(_password_config("https://iam.example.com/"), http)
        assert await source.token() == "tok"
    request = seen[0]
    assert str(request.url) == "https://iam.example.com/v3/auth/tokens?nocatalog=true"
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json;charset=utf8"
    body = json.loads(request.content)
    assert body["auth"]["identity"]["methods"] == ["password"]
    assert body["auth"]["identity"]["password"]["user"] == {
        "name": "alice",
        "password": PASSWORD,
        "domain": {"name": "acme"},
    }
    assert body["auth"]["scope"] == {"project": {"name": "cn-north-4"}}


@pytest.mark.anyio
async def test_password_auth_refreshes_once_after_revocation():
    """After the tokens are revoked, a 401 fetches one new token and the request succeeds."""
    with password_sim() as (world, server, url):
        bid = world.add_batch()
        async with httpx.AsyncClient() as iam:
            source = IamTokenSource(_password_config(url), iam)
            async with httpx.AsyncClient(base_url=url, auth=PasswordAuth(source)) as client:
                assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                world.revoke_tokens()
                resp = await client.get(f"{BASE}/{bid}")
                assert resp.status_code == 200
                assert len(resp.history) == 1
                assert resp.history[0].status_code == 401
                for _ in range(3):
                    assert (await client.get(f"{BASE}/{bid}")).status_code == 200
        assert world.tokens_issued == 2
        assert server.requests["unauthorized"] == 1


@pytest.mark.anyio
async def test_password_auth_retries_a_401_only_once():
    """If the fresh token is refused too, the 401 is returned after exactly one retry (no loop)."""
    api_calls = []
    iam_calls = []
    tokens = iter(f"tok-{i}" for i in range(10))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3/auth/tokens":
            iam_calls.append(request)
            return httpx.Response(201, headers={"X-Subject-Token": next(tokens)})
        api_calls.append(request.headers["X-Auth-Token"])
        return httpx.Response(401, json={"error_code": "APIG.0301", "error_msg": "no"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        source = IamTokenSource(_password_config("https://iam.example.com"), http)
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, auth=PasswordAuth(source)) as client:
            resp = await client.get("https://dli.example.com/v2.0/p/batches/b")
    assert resp.status_code == 401
    assert api_calls == ["tok-0", "tok-1"]
    assert len(iam_calls) == 2


@pytest.mark.anyio
async def test_password_auth_refreshes_before_expiry():
    """With a 24 h token the refresh happens an hour early, before the gateway ever says 401."""
    clock = FakeClock()
    with password_sim(clock) as (world, server, url):
        bid = world.add_batch()
        async with httpx.AsyncClient() as iam:
            source = IamTokenSource(_password_config(url), iam, clock=clock)
            async with httpx.AsyncClient(base_url=url, auth=PasswordAuth(source)) as client:
                assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                clock.now += 23 * 3600 - 5
                assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                assert world.tokens_issued == 1
                clock.now += 10
                assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                assert world.tokens_issued == 2
                clock.now += 23 * 3600 + 5
                assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                assert world.tokens_issued == 3
        assert server.requests["unauthorized"] == 0


@pytest.mark.anyio
async def test_password_auth_short_lived_tokens_are_reused_until_halfway():
    """A token shorter-lived than the refresh margin is still reused, and renewed halfway through."""
    clock = FakeClock()
    with password_sim(clock, lifetime=600) as (world, server, url):
        bid = world.add_batch()
        async with httpx.AsyncClient() as iam:
            source = IamTokenSource(_password_config(url), iam, clock=clock)
            async with httpx.AsyncClient(base_url=url, auth=PasswordAuth(source)) as client:
                for _ in range(5):
                    assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                    clock.now += 50
                assert world.tokens_issued == 1
                clock.now += 60
                assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                assert world.tokens_issued == 2
        assert server.requests["unauthorized"] == 0


@pytest.mark.anyio
@pytest.mark.parametrize("skew_hours", [-30, 30])
async def test_password_auth_tolerates_a_skewed_local_clock(skew_hours):
    """A local clock a day off the server's neither refetches on every request nor keeps a dead token."""
    world_clock = FakeClock()
    local = FakeClock(world_clock.now + skew_hours * 3600)
    with password_sim(world_clock) as (world, server, url):
        bid = world.add_batch()
        async with httpx.AsyncClient() as iam:
            source = IamTokenSource(_password_config(url), iam, clock=local)
            async with httpx.AsyncClient(base_url=url, auth=PasswordAuth(source)) as client:
                for _ in range(5):
                    assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                assert world.tokens_issued == 1
                world_clock.now += 23.5 * 3600
                local.now += 23.5 * 3600
                assert (await client.get(f"{BASE}/{bid}")).status_code == 200
                assert world.tokens_issued == 2
        assert server.requests["unauthorized"] == 0


@pytest.mark.anyio
async def test_password_auth_concurrent_requests_share_one_fetch():
    """Many requests starting together without a token cause exactly one IAM call."""
    with password_sim() as (world, server, url):
        bid = world.add_batch()
        async with httpx.AsyncClient() as iam:
            source = IamTokenSource(_password_config(url), iam)
            async with httpx.AsyncClient(base_url=url, auth=PasswordAuth(source)) as client:
                statuses = []

                async def one():
                    statuses.append((await client.get(f"{BASE}/{bid}")).status_code)

                async with anyio.create_task_group() as tg:
                    for _ in range(20):
                        tg.start_soon(one)
        assert statuses == [200] * 20
        assert world.tokens_issued == 1
        assert server.requests["iam"] == 1


@pytest.mark.anyio
async def test_password_auth_wrong_password_is_auth_error_without_the_password():
    """IAM's 401 becomes AuthError; the password appears nowhere in it, and no API request is made."""
    wrong = "wrong-S3CRET-pw"
    with password_sim() as (world, server, url):
        bid = world.add_batch()
        async with httpx.AsyncClient() as iam:
            source = IamTokenSource(_password_config(url, password=wrong), iam)
            async with httpx.AsyncClient(base_url=url, auth=PasswordAuth(source)) as client:
                with pytest.raises(AuthError) as info:
                    await client.get(f"{BASE}/{bid}")
                api = BatchApi(client, ApiConfig(flavor="dli", endpoint=url, project_id=PID))
                with pytest.raises(AuthError):
                    await api.details(bid)
        err = info.value
        assert err.status_code == 401
        assert err.reason == "auth"
        for text in (str(err), repr(err), err.message, repr(err.args)):
            assert wrong not in text
            assert PASSWORD not in text
        assert err.__cause__ is None
        assert world.tokens_issued == 0
        assert server.requests["details"] == 0


@pytest.mark.anyio
async def test_password_auth_iam_unreachable_is_auth_error():
    """A connection failure to IAM is an AuthError naming the failure, not the password."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        source = IamTokenSource(_password_config("https://iam.example.com"), http)
        with pytest.raises(AuthError) as info:
            await source.token()
    assert "ConnectError" in str(info.value)
    assert PASSWORD not in str(info.value)
    assert info.value.__cause__ is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(201, json={"token": {}}),  # no X-Subject-Token
        httpx.Response(200, headers={"X-Subject-Token": "t"}),  # not 201
        httpx.Response(400, json={"error": {"code": 400, "message": "bad scope"}}),
    ],
    ids=["no-header", "not-201", "400"],
)
async def test_iam_refusals_are_auth_errors(response):
    """Anything but 201 with X-Subject-Token is a refusal."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: response)) as http:
        with pytest.raises(AuthError):
            await IamTokenSource(_password_config("https://iam.example.com"), http).token()


def test_password_auth_needs_an_async_client():
    """The synchronous flow refuses clearly instead of sending without a token."""
    source = IamTokenSource(_password_config("https://iam.example.com"), None)  # type: ignore[arg-type]  # never reached
    client = httpx.Client(transport=httpx.MockTransport(Recorder()), auth=PasswordAuth(source))
    with client, pytest.raises(RuntimeError, match="AsyncClient"):
        client.get("https://h/batches/1")


# --- build_auth -----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("flavor", "auth", "expect"),
    [
        ("dli", AuthConfig(method="aksk", access_key=AK, secret_key=SK), {"X-Project-Id": PID}),
        ("livy", AuthConfig(method="aksk", access_key=AK, secret_key=SK), {}),
        (
            "dli",
            AuthConfig(method="aksk", access_key=AK, secret_key=SK, security_token="s"),
            {"X-Project-Id": PID, "X-Security-Token": "s"},
        ),
        ("dli", AuthConfig(method="token", token="tok"), {"X-Auth-Token": "tok"}),
    ],
    ids=["aksk-dli", "aksk-livy", "aksk-sts", "token"],
)
async def test_build_auth_methods(flavor, auth, expect):
    """Each configured method yields an Auth that sets the headers that method needs."""
    rec = Recorder()
    api = ApiConfig(flavor=flavor, endpoint="https://h", project_id=PID)
    async with httpx.AsyncClient() as iam:
        built = build_auth(api, auth, iam)
        async with httpx.AsyncClient(transport=httpx.MockTransport(rec), auth=built) as client:
            await client.get("https://h/batches/1")
    headers = rec.requests[0].headers
    for name, value in expect.items():
        assert headers[name] == value
    if auth.method == "aksk":
        assert verify(_as_signed(rec.requests[0]), {AK: SK})
        assert ("X-Project-Id" in headers) == (flavor == "dli")
    else:
        assert "Authorization" not in headers


@pytest.mark.anyio
async def test_build_auth_password_none_and_unknown():
    """Password gives PasswordAuth, none gives no auth, anything else is a ConfigError on auth.method."""
    api = ApiConfig(flavor="dli", endpoint="https://h", project_id=PID)
    async with httpx.AsyncClient() as iam:
        assert isinstance(build_auth(api, _password_config("https://iam"), iam), PasswordAuth)
        assert build_auth(api, AuthConfig(method="none"), iam) is None
        with pytest.raises(ConfigError) as info:
            build_auth(api, AuthConfig(method="kerberos"), iam)  # type: ignore[arg-type]  # wrong on purpose
    assert info.value.key == "auth.method"
