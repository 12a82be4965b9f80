"""The server-side TLS context of the metrics endpoints, from the exporter-toolkit's ``tls_server_config``."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

from watcher.errors import ConfigError

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# the toolkit's client_auth_type values and what Python's ssl can do for each
ClientCerts = Literal["none", "optional", "required"]
CLIENT_AUTH: dict[str, ClientCerts] = {
    "NoClientCert": "none",
    "VerifyClientCertIfGiven": "optional",
    "RequireAndVerifyClientCert": "required",
}
# OpenSSL verifies every certificate it asks for: asking without verifying is not possible here
UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """The ``tls_server_config`` of a web config file, its file names resolved."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""
    client_certs: ClientCerts = "none"
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    prefer_server_cipher_suites: bool = True


def server_context(tls: TlsSettings, where: str) -> ssl.SSLContext:
    """A server SSLContext; every file is read now, and a problem is a ConfigError naming its key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    for key, name in (("cert_file", tls.cert_file), ("key_file", tls.key_file), ("client_ca_file", tls.client_ca_file)):
        _readable(key, name, where)
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except OSError as exc:  # ssl.SSLError included: not PEM, or a key that does not match the certificate
        problem = f"cannot load {tls.cert_file} with {tls.key_file}: {exc.strerror or exc}"
        raise ConfigError(f"tls_server_config.cert_file ({where})", problem) from None
    if tls.client_certs != "none":
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except OSError as exc:
            problem = f"cannot load {tls.client_ca_file}: {exc.strerror or exc}"
            raise ConfigError(f"tls_server_config.client_ca_file ({where})", problem) from None
        # "required" too: a probe without a certificate may still connect, and gets only /healthz and
        # /readyz (the server answers 403 elsewhere); a certificate that does not verify fails the handshake
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def sans(peercert: object) -> set[str]:
    """The subject alternative names of a verified peer certificate (``getpeercert()``), as plain strings."""
    if not isinstance(peercert, dict):
        return set()
    return {str(value) for _kind, value in peercert.get("subjectAltName", ())}


def _readable(key: str, name: str, where: str) -> None:
    """A file the context will load, checked first so that the error names its key (ssl's errors do not)."""
    if not name:
        return
    try:
        with open(name, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"tls_server_config.{key} ({where})", f"cannot read {name}: {exc.strerror}") from None
