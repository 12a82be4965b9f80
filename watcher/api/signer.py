"""SDK-HMAC-SHA256 request signing, as Huawei Cloud's APIG and the official SDK do it.

Pure functions over plain values: the client signs with them and the simulator verifies with them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signature covers: method, path, query pairs, headers and body."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: bytes = b""


def sdk_date(now: datetime) -> str:
    """Format a timestamp the way ``X-Sdk-Date`` wants it."""
    return now.astimezone(UTC).strftime(DATE_FORMAT)


def canonical_uri(path: str) -> str:
    """Decode the path, percent-encode each segment and always end with a slash, like the SDK.

    The whole path is decoded before it is split (as the SDK does), so ``%2F`` and ``/`` sign alike
    and a raw path signs the same as its decoded form.
    """
    segments = [quote(s, safe="~") for s in unquote(path).split("/")]
    uri = "/".join(segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: Iterable[tuple[str, str]]) -> str:
    """Sort the raw pairs, then encode keys and values so only RFC 3986 unreserved stay literal.

    The SDK sorts before encoding; sorting the encoded text orders e.g. ``a:`` and ``a5`` differently.
    """
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(query))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """Every header without an underscore, lower-cased and sorted."""
    return sorted(k.lower() for k in headers if "_" not in k)


def canonical_request(req: SignedRequest, names: list[str]) -> str:
    """Build the canonical request string that gets hashed and signed."""
    lowered = {k.lower(): v for k, v in req.headers.items()}
    header_lines = "".join(f"{n}:{lowered[n].strip()}\n" for n in names)
    # as in the SDK: an empty body always hashes as empty, even with X-Sdk-Content-Sha256 set
    body_hash = EMPTY_SHA256
    if req.body:
        body_hash = lowered.get("x-sdk-content-sha256") or hashlib.sha256(req.body).hexdigest()
    return "\n".join(
        [
            req.method.upper(),
            canonical_uri(req.path),
            canonical_query(req.query),
            header_lines,
            ";".join(names),
            body_hash,
        ]
    )


def string_to_sign(canonical: str, date: str) -> str:
    """The algorithm, the date and the hash of the canonical request."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def signature(req: SignedRequest, names: list[str], secret_key: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed by the secret key."""
    date = {k.lower(): v for k, v in req.headers.items()}["x-sdk-date"]
    message = string_to_sign(canonical_request(req, names), date)
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()


def authorization(req: SignedRequest, access_key: str, secret_key: str) -> str:
    """The ``Authorization`` header value for a request whose headers are final."""
    names = signed_header_names(req.headers)
    sig = signature(req, names, secret_key)
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={sig}"


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    """The three fields of an ``Authorization: SDK-HMAC-SHA256 ...`` header."""

    access_key: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization | None:
    """Split an Authorization header into its fields; None when it is not SDK-HMAC-SHA256."""
    algo, _, rest = value.partition(" ")
    if algo != ALGORITHM:
        return None
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    try:
        names = fields["SignedHeaders"].split(";")
        return ParsedAuthorization(fields["Access"], names, fields["Signature"])
    except KeyError:
        return None


def verify(req: SignedRequest, secrets: Mapping[str, str]) -> bool:
    """Check a request's signature against the secret key of the access key it names."""
    lowered = {k.lower(): v for k, v in req.headers.items()}
    parsed = parse_authorization(lowered.get("authorization", ""))
    if parsed is None or parsed.access_key not in secrets or "x-sdk-date" not in lowered:
        return False
    if any(n not in lowered for n in parsed.signed_headers) or "x-sdk-date" not in parsed.signed_headers:
        return False
    expected = signature(req, parsed.signed_headers, secrets[parsed.access_key])
    return hmac.compare_digest(expected, parsed.signature)
