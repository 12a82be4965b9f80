"""The TLS context for the API and IAM: which CAs to trust, and the client certificate for mutual TLS."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import certifi

from watcher.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from watcher.config.settings import ApiConfig


class _EncryptedKeyError(Exception):
    """OpenSSL asked for a passphrase: the key is encrypted."""


def _no_passphrase() -> str:
    # without a callback OpenSSL would prompt on the terminal, and a daemon has none
    raise _EncryptedKeyError


def ssl_context(api: ApiConfig, env: Mapping[str, str]) -> ssl.SSLContext:
    """A new context (one per client: httpcore sets ALPN on the one it gets); bad files are ConfigErrors."""
    ctx = _trusting(api, env)
    if api.client_cert_file:
        _load_client_cert(ctx, api)
    return ctx


def _trusting(api: ApiConfig, env: Mapping[str, str]) -> ssl.SSLContext:
    """Verification against ca_file/ca_dir, else what httpx trusts by default; or none at all."""
    if not api.verify_tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if api.ca_file or api.ca_dir:
        key = "api.ca_file" if api.ca_file else "api.ca_dir"
        try:
            ctx = ssl.create_default_context(cafile=api.ca_file or None, capath=api.ca_dir or None)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(key, f"cannot load CA certificates: {_reason(exc)}") from None
        if not ctx.get_ca_certs() and not api.ca_dir:  # a directory is read lazily, per handshake
            raise ConfigError(key, "holds no CA certificate")
        return ctx
    # as httpx does with trust_env: $SSL_CERT_FILE, then $SSL_CERT_DIR, then certifi's bundle
    if env.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
    if env.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=env["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def _load_client_cert(ctx: ssl.SSLContext, api: ApiConfig) -> None:
    try:
        ctx.load_cert_chain(api.client_cert_file, api.client_key_file or None, password=_no_passphrase)
    except _EncryptedKeyError:
        key = "api.client_key_file" if api.client_key_file else "api.client_cert_file"
        raise ConfigError(key, "the private key is encrypted; give the watcher an unencrypted key file") from None
    except (ssl.SSLError, OSError) as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError("api.client_key_file", "does not belong to api.client_cert_file") from None
        where = "api.client_cert_file" + (" / api.client_key_file" if api.client_key_file else "")
        raise ConfigError(where, f"cannot load the client certificate and key: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """OpenSSL's reason (``NO_CERTIFICATE_OR_CRL_FOUND``) in words, else the error's text."""
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    return str(reason).replace("_", " ").lower() if reason else str(exc)
