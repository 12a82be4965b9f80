"""The web config file: TLS and basic auth for the endpoints, in the Prometheus exporter-toolkit's format.

The same YAML an exporter takes with ``--web.config.file``; relative file names in it are relative
to the file's own directory, as there. Keys this implementation cannot honour are errors rather than
silently ignored, and so are unknown keys: a typo must not leave /metrics open.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from watcher.errors import ConfigError
from watcher.web.basicauth import MAX_COST, BasicAuth, hash_cost
from watcher.web.tlsserver import (
    CLIENT_AUTH,
    TLS_VERSIONS,
    UNSUPPORTED_CLIENT_AUTH,
    ClientCerts,
    TlsSettings,
    server_context,
)

if TYPE_CHECKING:
    import ssl
    from collections.abc import Collection

T = TypeVar("T")
FILE_KEY = "metrics.web_config_file"
TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_ca_file",
    "client_auth_type",
    "client_allowed_sans",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
)
# known to the toolkit, not to this server: each with why
UNSUPPORTED = {
    "rate_limit": "put a reverse proxy in front for rate limits",
    "auth_excluded_paths": "/healthz and /readyz never need authentication here, every other path always does",
    "tls_server_config.cert": "give the certificate as cert_file",
    "tls_server_config.key": "give the key as key_file",
    "tls_server_config.client_ca": "give the CA as client_ca_file",
    "tls_server_config.cipher_suites": "OpenSSL's default cipher suites are used",
    "tls_server_config.curve_preferences": "OpenSSL's default curves are used",
}
# the toolkit's header table: which headers may be set, and the values allowed where it limits them
HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}


@dataclass(frozen=True, slots=True)
class WebConfig:
    """What the server needs from a web config file: a TLS context, client certificate rules, users, headers."""

    path: str
    tls: ssl.SSLContext | None = None
    client_certs: ClientCerts = "none"
    allowed_sans: frozenset[str] = frozenset()
    auth: BasicAuth | None = None
    headers: tuple[tuple[str, str], ...] = ()


class _Section:
    """One mapping of the file; errors name the dotted key and the file."""

    def __init__(self, raw: object, dotted: str, where: str, known: Collection[str]) -> None:
        self.dotted, self.where = dotted, where
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise self.error("", "must be a mapping")
        self.raw: dict[str, Any] = raw
        for key in raw:
            full = self.name(str(key))
            if full in UNSUPPORTED:
                raise self.error(str(key), f"is not supported by dli-watcher ({UNSUPPORTED[full]})")
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
                raise self.error(str(key), "unknown key" + hint)

    def name(self, key: str) -> str:
        return f"{self.dotted}.{key}" if self.dotted and key else self.dotted or key

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.name(key)} ({self.where})", problem)

    def get(self, key: str, kind: type[T], default: T) -> T:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.error(key, f"must be a {kind.__name__}, got {type(value).__name__}")
        return value

    def choice(self, key: str, choices: Collection[str], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value


def load_web_config(path: str) -> WebConfig | None:
    """Read and check the web config file, loading its certificates; None without one. Raises ConfigError."""
    if not path:
        return None
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(FILE_KEY, f"cannot read {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(FILE_KEY, f"{path} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ConfigError(FILE_KEY, f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    return parse_web_config(data, path)


def parse_web_config(data: object, path: str) -> WebConfig:
    """Check a parsed web config file (``path`` names it in errors and anchors its relative file names)."""
    top = _Section(data, "", path, ("tls_server_config", "http_server_config", "basic_auth_users"))
    tls_section = _Section(top.raw.get("tls_server_config"), "tls_server_config", path, TLS_KEYS)
    tls = _tls(tls_section, Path(path).parent)
    allowed = _sans(tls_section)
    if allowed and (tls is None or tls.client_certs != "required"):
        problem = "needs client_auth_type RequireAndVerifyClientCert (without a certificate there is no name to match)"
        raise ConfigError(f"tls_server_config.client_allowed_sans ({path})", problem)
    return WebConfig(
        path=path,
        tls=None if tls is None else server_context(tls, path),
        client_certs="none" if tls is None else tls.client_certs,
        allowed_sans=allowed,
        auth=_users(top.raw.get("basic_auth_users"), path),
        headers=_headers(_Section(top.raw.get("http_server_config"), "http_server_config", path, ("http2", "headers"))),
    )


def _tls(sec: _Section, directory: Path) -> TlsSettings | None:
    if not sec.raw:
        return None

    def file(key: str) -> str:
        name = sec.get(key, str, "")
        # relative to the web config file, as the toolkit resolves them
        return "" if not name else str(directory / name) if not os.path.isabs(name) else name

    cert, key = file("cert_file"), file("key_file")
    for name, value in (("cert_file", cert), ("key_file", key)):
        if not value:
            raise sec.error(name, "is required to serve TLS")
    auth_type = sec.get("client_auth_type", str, "NoClientCert")
    if auth_type in UNSUPPORTED_CLIENT_AUTH:
        problem = f"{auth_type} is not supported (Python's ssl verifies every certificate it asks for); use one of "
        raise sec.error("client_auth_type", problem + ", ".join(CLIENT_AUTH))
    client_certs = CLIENT_AUTH[sec.choice("client_auth_type", CLIENT_AUTH, "NoClientCert")]
    client_ca = file("client_ca_file")
    if client_ca and client_certs == "none":
        raise sec.error("client_ca_file", "is set but client_auth_type is NoClientCert")
    if client_certs != "none" and not client_ca:
        raise sec.error("client_ca_file", f"is required for client_auth_type {auth_type}")
    low = sec.choice("min_version", TLS_VERSIONS, "TLS12")
    high = sec.choice("max_version", TLS_VERSIONS, "TLS13")
    if TLS_VERSIONS[low] > TLS_VERSIONS[high]:
        raise sec.error("min_version", f"{low} is above max_version {high}")
    prefer = sec.get("prefer_server_cipher_suites", bool, True)
    return TlsSettings(cert, key, client_ca, client_certs, low, high, prefer)


def _sans(sec: _Section) -> frozenset[str]:
    names = sec.get("client_allowed_sans", list, [])
    if not all(isinstance(name, str) and name for name in names):
        raise sec.error("client_allowed_sans", "must be a list of non-empty strings")
    return frozenset(names)


def _users(raw: object, path: str) -> BasicAuth | None:
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"basic_auth_users ({path})", "must be a mapping of user names to bcrypt hashes")
    users: dict[str, str] = {}
    for name, hashed in raw.items():
        key = f"basic_auth_users.{name} ({path})"
        if not isinstance(name, str) or not name or ":" in name:
            raise ConfigError(key, "a user name must be a non-empty string without ':'")
        # the hash is a secret of sorts: the message never shows it
        if not isinstance(hashed, str) or hash_cost(hashed) is None:
            raise ConfigError(key, "must be a bcrypt hash ($2y$10$..., e.g. from `htpasswd -nBC 10 '' | tr -d ':\\n'`)")
        cost = hash_cost(hashed) or 0
        if cost > MAX_COST:
            # every check, right or wrong, would hold the one check thread for seconds: a flood's lever
            raise ConfigError(key, f"bcrypt cost {cost} is above {MAX_COST}; hash the password again with -C 10 to 14")
        users[name] = hashed
    return BasicAuth(users)


def _field_value(value: str) -> bool:
    """Whether RFC 9110 allows this as a header field value: visible Latin-1 characters, spaces and tabs."""
    return all(c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff" for c in value)


def _headers(sec: _Section) -> tuple[tuple[str, str], ...]:
    sec.get("http2", bool, True)  # accepted for compatibility; this server speaks HTTP/1.1 only
    raw = sec.get("headers", dict, {})
    out = []
    for name, value in raw.items():
        if name not in HEADERS:
            raise sec.error(f"headers.{name}", f"cannot be set (allowed: {', '.join(HEADERS)})")
        if not isinstance(value, str) or not _field_value(value):
            # the value goes on the wire as Latin-1 in every answer, /healthz included: one that cannot be
            # encoded there, or that holds a line break or control character, would break them all
            raise sec.error(f"headers.{name}", "must be a one-line string of Latin-1 characters, no control characters")
        if HEADERS[name] and value not in HEADERS[name]:
            raise sec.error(f"headers.{name}", f"must be one of {', '.join(HEADERS[name])}; got {value!r}")
        if value:
            out.append((name, value))
    return tuple(out)


_CLIENT_CERT_RANK = {"none": 0, "optional": 1, "required": 2}


def weakening(old: WebConfig | None, new: WebConfig | None) -> str | None:
    """What a reload from ``old`` to ``new`` would take off /metrics' protection, or None when nothing.

    Removing a user or renewing a certificate is no weakening: a reload must still revoke a leaked password.
    """
    if old is None:
        return None
    if new is None:
        return "the web config file would be dropped"
    lowered = [
        (old.tls is not None and new.tls is None, "TLS would be turned off"),
        (old.auth is not None and new.auth is None, "basic auth would be turned off"),
        (
            _CLIENT_CERT_RANK[new.client_certs] < _CLIENT_CERT_RANK[old.client_certs],
            f"client_auth_type would be lowered from {old.client_certs} to {new.client_certs}",
        ),
        (bool(old.allowed_sans) and not new.allowed_sans, "client_allowed_sans would be dropped"),
    ]
    return next((why for weaker, why in lowered if weaker), None)
