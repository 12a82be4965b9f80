"""Which credentials the simulator accepts: none, IAM tokens, or AK/SK signatures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from watcher.api.signer import DATE_FORMAT, SignedRequest, parse_authorization, verify
from watcher.simulator import replies

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from watcher.simulator.wire import Request, Response
    from watcher.simulator.world import World

AuthMode = Literal["none", "token", "aksk"]


@dataclass(frozen=True)
class SimAuth:
    """Auth settings of one server: the mode, and the tokens, keys and IAM users it accepts."""

    mode: AuthMode = "none"
    tokens: Collection[str] = ()
    keys: Mapping[str, str] = field(default_factory=dict)
    security_token: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)
    domain: str = "sim-domain"
    token_lifetime: float = 24 * 3600.0
    max_skew: float = 15 * 60.0

    def __post_init__(self) -> None:
        if self.mode not in {"none", "token", "aksk"}:
            raise ValueError(f"auth mode must be none, token or aksk, not {self.mode!r}")


def check_request(auth: SimAuth, world: World, req: Request) -> Response | None:
    """None when the request may proceed, else the 401 the gateway would send."""
    if auth.mode == "none":
        return None
    if auth.mode == "token":
        return _check_token(auth, world, req)
    return _check_aksk(auth, world, req)


def _check_token(auth: SimAuth, world: World, req: Request) -> Response | None:
    """Accept a static or unexpired IAM-issued ``X-Auth-Token``."""
    token = req.headers.get("x-auth-token")
    if not token:
        return replies.unauthorized("the X-Auth-Token header is missing")
    if token in auth.tokens or world.token_valid(token):
        return None
    return replies.unauthorized("the token is invalid or has expired")


def parse_sdk_date(value: str) -> float | None:
    """Epoch seconds of an ``X-Sdk-Date`` value, or None when it does not parse."""
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _check_aksk(auth: SimAuth, world: World, req: Request) -> Response | None:
    """Accept a fresh, correctly signed SDK-HMAC-SHA256 request."""
    headers = req.headers
    parsed = parse_authorization(headers.get("authorization", ""))
    if parsed is None:
        return replies.unauthorized("missing or malformed SDK-HMAC-SHA256 Authorization header")
    when = parse_sdk_date(headers.get("x-sdk-date", ""))
    if when is None:
        return replies.unauthorized("missing or malformed X-Sdk-Date header")
    if abs(when - world.clock()) > auth.max_skew:
        return replies.signature_expired()
    if auth.security_token is not None and (
        headers.get("x-security-token") != auth.security_token or "x-security-token" not in parsed.signed_headers
    ):
        return replies.unauthorized("missing or wrong X-Security-Token")
    signed = SignedRequest(req.method, req.path, tuple(req.params()), headers, req.body)
    if not verify(signed, auth.keys):
        return replies.unauthorized("the signature does not match")
    return None
