"""IAM login rationing: backoff after failed logins, one login in flight, one 401 refresh per token."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import httpx
import pytest

from watcher.api.auth import IamTokenSource, PasswordAuth, next_login_at, scrubber
from watcher.config.credentials import AuthConfig
from watcher.errors import AuthError
from watcher.simulator import SimAuth, SimServer, World

PASSWORD = "correct-horse-battery-staple"
START = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
API = "https://dli.example.com/v2.0/p/batches/b"


@pytest.fixture
def anyio_backend():
    """Run the async tests on asyncio."""
    return "asyncio"


class FakeClock:
    """A settable clock in epoch seconds."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _config(url: str = "https://iam.example.com") -> AuthConfig:
    """Password auth for alice against ``url``."""
    return AuthConfig(
        method="password", user="alice", password=PASSWORD, domain="acme", project_name="cn-north-4", iam_endpoint=url
    )


def _iso(epoch: float) -> str:
    """An IAM timestamp."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class Iam:
    """A MockTransport handler: IAM answers ``status`` (201 issues tok-N living ``lifetime`` s); the API answers 401.

    It records the clock time of every IAM request and the token of every API request.
    """

    def __init__(self, clock: FakeClock, status: int = 201, lifetime: float = 600.0) -> None:
        self.clock, self.status, self.lifetime = clock, status, lifetime
        self.logins: list[float] = []
        self.api_tokens: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v3/auth/tokens":
            self.api_tokens.append(request.headers["X-Auth-Token"])
            return httpx.Response(401, json={"error_code": "APIG.0301", "error_msg": "Incorrect IAM authentication"})
        now = self.clock.now
        self.logins.append(now)
        if self.status != 201:
            return httpx.Response(self.status, json={"error": {"code": str(self.status), "message": "no"}})
        token = {"issued_at": _iso(now), "expires_at": _iso(now + self.lifetime)}
        return httpx.Response(201, headers={"X-Subject-Token": f"tok-{len(self.logins) - 1}"}, json={"token": token})


def _client(iam: Iam, source: IamTokenSource) -> httpx.AsyncClient:
    """An API client using PasswordAuth, on the same mock."""
    return httpx.AsyncClient(transport=httpx.MockTransport(iam), auth=PasswordAuth(source))


def test_next_login_at_doubles_from_base_to_cap():
    """No wait before any failure, then 2, 4, 8... seconds after the last failure, capped at 300."""
    waits = [next_login_at(100.0, n, 2.0, 300.0) - 100.0 for n in range(11)]
    assert waits == [0, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert next_login_at(100.0, 10**9, 2.0, 300.0) == 400.0  # a year of failures does not overflow
    assert next_login_at(0.0, -1, 2.0, 300.0) == 0.0


@pytest.mark.anyio
@pytest.mark.parametrize("status", [401, 500])
async def test_failing_iam_is_asked_on_the_backoff_schedule(status):
    """Polling every 0.5 s for 40 s against a failing IAM logs in at 0, 2, 6, 14, 30 s only."""
    clock = FakeClock()
    iam = Iam(clock, status)
    async with httpx.AsyncClient(transport=httpx.MockTransport(iam)) as http:
        source = IamTokenSource(_config(), http, clock=clock, backoff_base=2.0, backoff_max=16.0)
        for _ in range(80):
            with pytest.raises(AuthError) as info:
                await source.token()
            assert info.value.status_code == status
            clock.now += 0.5
    assert [t - START for t in iam.logins] == [0, 2, 6, 14, 30]


@pytest.mark.anyio
async def test_backed_off_error_is_immediate_and_says_why_and_when():
    """During the backoff token() raises without IAM, naming the last failure and the next attempt, no secret."""
    clock = FakeClock()
    iam = Iam(clock, 401)
    async with httpx.AsyncClient(transport=httpx.MockTransport(iam)) as http:
        source = IamTokenSource(_config(), http, clock=clock)
        with pytest.raises(AuthError):
            await source.token()
        clock.now += 0.5
        with pytest.raises(AuthError) as info:
            await source.token()
    err = info.value
    assert len(iam.logins) == 1
    assert err.status_code == 401
    assert "HTTP 401" in err.message
    assert "next attempt in 1.5 s" in err.message
    assert _iso(START + 2)[:19] in err.message
    assert PASSWORD not in str(err)
    assert err.__cause__ is None


@pytest.mark.anyio
async def test_concurrent_callers_share_one_failing_login():
    """Twenty callers arriving during one slow failing login cause exactly one IAM request and all fail."""
    clock = FakeClock()
    logins = []
    release = anyio.Event()

    async def slow_failure(request: httpx.Request) -> httpx.Response:
        logins.append(request)
        await release.wait()
        return httpx.Response(500)

    failures = []

    async def caller(source: IamTokenSource) -> None:
        try:
            await source.token()
        except AuthError as err:
            failures.append(err)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow_failure)) as http:
        source = IamTokenSource(_config(), http, clock=clock)
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(caller, source)
            await anyio.wait_all_tasks_blocked()
            release.set()
    assert len(logins) == 1
    assert len(failures) == 20


@pytest.mark.anyio
async def test_successful_login_resets_the_backoff():
    """After three failures a success resets the backoff: the next failure waits the base delay again."""
    clock = FakeClock()
    iam = Iam(clock, 500, lifetime=60.0)
    async with httpx.AsyncClient(transport=httpx.MockTransport(iam)) as http:
        source = IamTokenSource(_config(), http, clock=clock, backoff_base=2.0, backoff_max=300.0)
        for wait in (2, 4, 8):
            with pytest.raises(AuthError):
                await source.token()
            clock.now += wait
        iam.status = 201
        assert await source.token() == "tok-3"
        iam.status = 500
        clock.now += 30  # a 60 s token is refreshed halfway
        with pytest.raises(AuthError):
            await source.token()
        clock.now += 1.9
        with pytest.raises(AuthError, match="after 1 failure"):
            await source.token()
        clock.now += 0.1
        with pytest.raises(AuthError, match="HTTP 500"):
            await source.token()
    assert [t - START for t in iam.logins] == [0, 2, 6, 14, 44, 46]


@pytest.mark.anyio
async def test_a_cancelled_login_backs_off_too():
    """A login cancelled by a deadline (IAM hanging) counts as a failure, so the next poll does not log in."""
    logins = []

    async def hang(request: httpx.Request) -> httpx.Response:
        logins.append(request)
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as http:
        source = IamTokenSource(_config(), http, clock=FakeClock())
        with anyio.move_on_after(0.05):
            await source.token()
        with anyio.fail_after(1), pytest.raises(AuthError, match="did not finish"):  # a second login would hang
            await source.token()
    assert len(logins) == 1


@pytest.mark.anyio
async def test_api_401_with_a_fresh_token_relogs_in_once_per_token():
    """An API that refuses every token gets one re-login, then none until the refresh time, then one again."""
    clock = FakeClock()
    iam = Iam(clock, lifetime=600.0)  # refreshed after 300 s
    async with httpx.AsyncClient(transport=httpx.MockTransport(iam)) as http:
        source = IamTokenSource(_config(), http, clock=clock)
        async with _client(iam, source) as client:
            assert (await client.get(API)).status_code == 401
            assert iam.api_tokens == ["tok-0", "tok-1"]
            for _ in range(29):
                clock.now += 10
                assert (await client.get(API)).status_code == 401
            assert len(iam.logins) == 2
            assert iam.api_tokens[2:] == ["tok-1"] * 29  # no retry with the same token
            clock.now += 10  # 300 s: the normal refresh, whose token again gets one re-login
            assert (await client.get(API)).status_code == 401
            assert iam.api_tokens[-2:] == ["tok-2", "tok-3"]
            for _ in range(5):
                assert (await client.get(API)).status_code == 401
    assert len(iam.logins) == 4


@pytest.mark.anyio
async def test_concurrent_api_401s_cause_one_relogin():
    """Twenty requests refused together replace the token once, and later rounds log in no more."""
    clock = FakeClock()
    iam = Iam(clock)
    async with httpx.AsyncClient(transport=httpx.MockTransport(iam)) as http:
        source = IamTokenSource(_config(), http, clock=clock)
        async with _client(iam, source) as client:
            for _ in range(3):
                async with anyio.create_task_group() as tg:
                    for _ in range(20):
                        tg.start_soon(client.get, API)
                clock.now += 10
    assert len(iam.logins) == 2


@pytest.mark.anyio
async def test_api_401_refresh_is_subject_to_the_backoff():
    """A re-login after a 401 that fails backs off like any login; its eventual token is not replaced again."""
    clock = FakeClock()
    iam = Iam(clock)
    async with httpx.AsyncClient(transport=httpx.MockTransport(iam)) as http:
        source = IamTokenSource(_config(), http, clock=clock, backoff_base=2.0)
        async with _client(iam, source) as client:
            assert await source.token() == "tok-0"
            iam.status = 500
            with pytest.raises(AuthError, match="HTTP 500"):
                await client.get(API)
            clock.now += 1
            with pytest.raises(AuthError, match=r"next attempt in 1\.0 s"):
                await client.get(API)
            assert len(iam.logins) == 2
            iam.status = 201
            clock.now += 1
            assert (await client.get(API)).status_code == 401
            for _ in range(5):
                assert (await client.get(API)).status_code == 401
    assert len(iam.logins) == 3
    assert iam.api_tokens == ["tok-0", "tok-2", "tok-2", "tok-2", "tok-2", "tok-2", "tok-2"]


@pytest.mark.anyio
async def test_wrong_password_on_the_simulator_does_not_storm_iam():
    """Twenty batches polled every second for 20 s with a wrong password reach the simulator's IAM 4 times."""
    clock = FakeClock(datetime.now(UTC).timestamp())
    world = World("dli", clock=clock)
    server = SimServer(world, SimAuth(mode="token", users={"alice": "other"}, domain="acme"))
    url = server.start_in_thread()
    try:
        bids = [world.add_batch() for _ in range(20)]
        async with httpx.AsyncClient() as iam:
            source = IamTokenSource(_config(url), iam, clock=clock)
            async with httpx.AsyncClient(base_url=url, auth=PasswordAuth(source)) as client:
                for _ in range(20):
                    for bid in bids:
                        with pytest.raises(AuthError):
                            await client.get(f"/v2.0/p/batches/{bid}")
                    clock.now += 1
        assert server.requests["iam"] == 4  # at 0, 2, 6 and 14 s
        assert server.requests["details"] == 0
    finally:
        server.stop()


@pytest.mark.anyio
async def test_the_iam_token_in_use_is_masked_in_server_text():
    """An error echoing the live IAM token (obtained at run time, not configured) has it masked, and the password."""
    clock = FakeClock()
    iam = Iam(clock)
    async with httpx.AsyncClient(transport=httpx.MockTransport(iam)) as http:
        auth = PasswordAuth(IamTokenSource(_config(), http, clock=clock))
        token = await auth._source.token()
        scrub = scrubber(_config(), auth)
        text = scrub(f"echo: {token}-suffix and {PASSWORD}")
    assert token == "tok-0"
    assert "tok-0" not in text
    assert PASSWORD not in text
