"""Request authentication as httpx.Auth classes: none, static token, AK/SK signing, IAM password."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Callable, Generator
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import anyio
import httpx

from watcher.api.failures import connect_failure
from watcher.api.proxy import Route, host_port
from watcher.api.signer import SignedRequest, authorization, sdk_date
from watcher.core.untrusted import Scrubber
from watcher.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from watcher.config.credentials import AuthConfig
    from watcher.config.settings import ApiConfig

Clock = Callable[[], float]
TOKEN_HEADER = "X-Auth-Token"  # noqa: S105 - a header name, not a secret
# Refresh an IAM token this long before it expires (tokens live 24 h).
REFRESH_MARGIN_SECONDS = 3600.0
DEFAULT_TOKEN_LIFETIME = 24 * 3600.0
# After a failed IAM login wait this long, doubling per further failure up to the maximum.
LOGIN_BACKOFF_BASE_SECONDS = 2.0
LOGIN_BACKOFF_MAX_SECONDS = 300.0


class HeaderAuth(httpx.Auth):
    """An auth that sets headers on a request and never looks at the answer (the direct path applies it itself)."""

    steady = False  # whether it sets the same headers on every request

    def apply(self, request: httpx.Request) -> None:
        """Set the headers."""
        raise NotImplementedError

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Set the headers, send once."""
        self.apply(request)
        yield request


class TokenAuth(HeaderAuth):
    """A static IAM token in ``X-Auth-Token``."""

    steady = True

    def __init__(self, token: str) -> None:
        self._token = token

    def apply(self, request: httpx.Request) -> None:
        """Add the token header."""
        request.headers[TOKEN_HEADER] = self._token


class AkSkAuth(HeaderAuth):
    """SDK-HMAC-SHA256 signing of every request, with ``X-Project-Id`` like the official SDK."""

    requires_request_body = True

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        project_id: str = "",
        security_token: str = "",
        clock: Clock = time.time,
    ) -> None:
        self._ak, self._sk = access_key, secret_key
        self._project_id, self._security_token, self._clock = project_id, security_token, clock

    def apply(self, request: httpx.Request) -> None:
        """Set the signed headers, then the Authorization header over them."""
        sign_request(request, self._ak, self._sk, self._clock(), self._project_id, self._security_token)


def sign_request(
    request: httpx.Request, ak: str, sk: str, now: float, project_id: str = "", security_token: str = ""
) -> None:
    """Sign an httpx request in place; headers with ``_`` in their name stay unsigned, as in the SDK.

    Signing again (a new date, a retry) replaces the previous signature rather than signing it.
    """
    headers = request.headers
    headers.setdefault("Content-Type", "application/json")
    if not headers["Content-Type"].startswith(("application/json", "application/bson")):
        headers[UNSIGNED_PAYLOAD_HEADER] = "UNSIGNED-PAYLOAD"  # as the SDK does for other bodies
    headers["X-Sdk-Date"] = sdk_date(datetime.fromtimestamp(now, UTC))
    if project_id:
        headers["X-Project-Id"] = project_id
    if security_token:
        headers["X-Security-Token"] = security_token
    # httpx adds these at send time; they are not part of what the SDK signs
    signed = {k: v for k, v in headers.items() if k.lower() not in _UNSIGNED}
    query = tuple(parse_qsl(request.url.query.decode(), keep_blank_values=True))
    # the path as it goes on the wire (what the server verifies), not httpx's decoded .path
    path = request.url.raw_path.partition(b"?")[0].decode("ascii")
    req = SignedRequest(request.method, path, query, signed, request.content)
    headers["Authorization"] = authorization(req, ak, sk)


UNSIGNED_PAYLOAD_HEADER = "X-Sdk-Content-Sha256"
_UNSIGNED = frozenset({"accept", "accept-encoding", "connection", "user-agent", "content-length", "authorization"})


class IamTokenSource:
    """Obtains a project-scoped IAM token with a password and keeps it fresh.

    Logins are rationed because IAM locks a user after repeated failures, for every client of that user:
    one login is in flight at a time, failed logins back off exponentially (``backoff_base`` doubling up
    to ``backoff_max`` seconds), and a 401 from the API replaces a token at most once.
    """

    def __init__(
        self,
        auth: AuthConfig,
        http: httpx.AsyncClient,
        clock: Clock = time.time,
        *,
        backoff_base: float = LOGIN_BACKOFF_BASE_SECONDS,
        backoff_max: float = LOGIN_BACKOFF_MAX_SECONDS,
        route: Route | None = None,
    ) -> None:
        self._auth, self._http, self._clock = auth, http, clock
        self._route = route or Route(host_port(auth.iam_endpoint))
        self._backoff_base, self._backoff_max = backoff_base, backoff_max
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = anyio.Lock()
        self._failures = 0
        self._failed_at = 0.0
        self._last_error: AuthError | None = None
        self._replacing_refused = False  # the next login replaces a token the API answered 401 to
        self._replacement: str | None = None  # the token that login obtained: a 401 on it is not the token's fault

    async def token(self) -> str:
        """A valid token, fetching a new one when none is cached or it is about to expire."""
        async with self._lock:
            return await self._current()

    def tokens(self) -> tuple[str, ...]:
        """The cached token, if any (to mask wherever server text echoes it)."""
        return (self._token,) if self._token else ()

    async def after_401(self, refused: str) -> str:
        """The token to retry with after the API answered 401 to ``refused``: ``refused`` if a new one will not help.

        ``refused`` is replaced unless another request already replaced it, or it is itself the replacement
        for a refused token: then the API refuses the caller (permissions, project), not the token, and it is
        kept until its normal refresh rather than logging in again on every poll.
        """
        async with self._lock:
            if refused == self._token and refused != self._replacement:
                self._token, self._replacing_refused = None, True
            return await self._current()

    async def _current(self) -> str:
        """The cached token, or a new one; call with the lock held so only one login is in flight."""
        if self._token is None or self._clock() >= self._refresh_at:
            self._token, self._refresh_at = await self._login()
            self._replacement = self._token if self._replacing_refused else None
            self._replacing_refused = False
        return self._token

    async def _login(self) -> tuple[str, float]:
        """Log in to IAM, or raise at once while the backoff after failed logins lasts."""
        now = self._clock()
        allowed = next_login_at(self._failed_at, self._failures, self._backoff_base, self._backoff_max)
        # a clock set back past the failure must not stretch the wait
        if self._last_error is not None and self._failed_at <= now < allowed:
            when = datetime.fromtimestamp(allowed, UTC).isoformat(timespec="seconds")
            raise AuthError(
                f"IAM login paused after {self._failures} failure(s), last: {self._last_error.message}; "
                f"next attempt in {allowed - now:.1f} s (at {when})",
                status_code=self._last_error.status_code,
            )
        try:
            result = await self._fetch()
        except AuthError as err:
            self._failed(err)
            raise
        except BaseException:  # cancelled by a poll's deadline: a hanging IAM must not get a login per poll
            self._failed(AuthError("IAM token request did not finish"))
            raise
        self._failures, self._last_error = 0, None
        return result

    def _failed(self, err: AuthError) -> None:
        self._failures += 1
        self._failed_at, self._last_error = self._clock(), err

    async def _fetch(self) -> tuple[str, float]:
        url = self._auth.iam_endpoint.rstrip("/") + "/v3/auth/tokens?nocatalog=true"
        try:
            resp = await self._http.post(url, content=_iam_body(self._auth), headers=_IAM_HEADERS)
        except httpx.TimeoutException as exc:
            raise AuthError(f"IAM token request to {self._route.target} timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise AuthError(f"IAM token request failed: {connect_failure(exc, self._route)}") from None
        token = resp.headers.get("X-Subject-Token", "")
        if resp.status_code != 201 or not token:
            raise AuthError(f"IAM refused the credentials (HTTP {resp.status_code})", status_code=resp.status_code)
        return token, self._refresh_time(resp)

    def _refresh_time(self, resp: httpx.Response) -> float:
        """When to fetch the next token, on our clock.

        The lifetime is ``expires_at - issued_at`` as IAM states it, so a skewed local clock neither
        refetches on every request nor keeps a dead token; a short-lived token is refreshed halfway.
        """
        now = self._clock()
        lifetime = DEFAULT_TOKEN_LIFETIME
        try:
            info = resp.json()["token"]
            expires = _iam_time(info["expires_at"])
            issued = _iam_time(info["issued_at"]) if "issued_at" in info else now
            if expires > issued:
                lifetime = expires - issued
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        return now + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 2)


def next_login_at(failed_at: float, failures: int, base: float, cap: float) -> float:
    """When an IAM login may start after ``failures`` consecutive failed ones, the last at ``failed_at``.

    The wait is ``base`` after one failure, doubling per further failure up to ``cap``; none after none.
    """
    if failures <= 0:
        return failed_at
    return failed_at + min(cap, base * 2.0 ** min(failures - 1, 64))  # the exponent bound avoids OverflowError


def _iam_time(text: str) -> float:
    """Epoch seconds of an IAM timestamp such as ``2024-01-02T03:04:05.000000Z``."""
    return datetime.fromisoformat(text).timestamp()


_IAM_HEADERS = {"Content-Type": "application/json;charset=utf8"}


def _iam_body(auth: AuthConfig) -> bytes:
    user = {"name": auth.user, "password": auth.password, "domain": {"name": auth.domain}}
    body = {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": auth.project_name}},
        }
    }
    return json.dumps(body).encode()


class PasswordAuth(httpx.Auth):
    """``X-Auth-Token`` from an IamTokenSource; a 401 replaces the token (once per token) and retries."""

    def __init__(self, source: IamTokenSource) -> None:
        self._source = source

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send with the cached token; on 401 try once more, only if the source has a different token."""
        token = await self._source.token()
        request.headers[TOKEN_HEADER] = token
        response = yield request
        if response.status_code == 401:
            fresh = await self._source.after_401(token)
            if fresh != token:
                request.headers[TOKEN_HEADER] = fresh
                yield request

    def tokens(self) -> tuple[str, ...]:
        """The token in use, if any: a secret obtained while running."""
        return self._source.tokens()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The watcher is async only."""
        raise RuntimeError("PasswordAuth needs an AsyncClient")
        yield request  # pragma: no cover


def scrubber(auth_cfg: AuthConfig, auth: httpx.Auth | None, extra: tuple[str, ...] = ()) -> Scrubber:
    """Masks the configured secrets, ``extra`` ones (proxy credentials) and the IAM token in use, in server text."""
    dynamic = auth.tokens if isinstance(auth, PasswordAuth) else None
    return Scrubber((*auth_cfg.secrets(), *extra), dynamic)


def build_auth(
    api: ApiConfig, auth: AuthConfig, iam_http: httpx.AsyncClient, iam_route: Route | None = None
) -> httpx.Auth | None:
    """The httpx.Auth for the configured method; ``iam_http`` (going by ``iam_route``) only for password auth."""
    if auth.method == "aksk":
        project = api.project_id if api.flavor_spec.project_scoped else ""
        return AkSkAuth(auth.access_key, auth.secret_key, project_id=project, security_token=auth.security_token)
    if auth.method == "token":
        return TokenAuth(auth.token)
    if auth.method == "password":
        return PasswordAuth(IamTokenSource(auth, iam_http, route=iam_route))
    if auth.method == "none":
        return None
    raise ConfigError("auth.method", f"unsupported method {auth.method!r}")
