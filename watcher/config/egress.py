"""The [api] keys for the way out: a proxy, the hosts that skip it, private CAs and a client certificate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from watcher.core.noproxy import parse_entry
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from watcher.config.tomltable import Table


def proxy_url(sec: Table, key: str = "proxy") -> str:
    """``http://host[:port]``, or empty for the environment's; never credentials in the file."""
    value = sec.get(key, str, "")
    if not value:
        return ""
    return check_proxy_url(value, sec.key(key), from_file=True)


def check_proxy_url(value: str, where: str, *, from_file: bool) -> str:
    """A forward proxy URL (``http://``: HTTPS goes through it with CONNECT); errors never echo credentials."""
    text = value if "://" in value else "http://" + value  # curl and httpx read "host:port" as http
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError when out of range
    except ValueError:
        raise ConfigError(where, "must be a proxy URL such as http://proxy.example:3128") from None
    if parts.username is not None or parts.password is not None:
        if from_file:
            raise ConfigError(where, "must not contain credentials; a proxy that needs them goes in $HTTPS_PROXY")
        shown = f"{parts.scheme}://{parts.hostname}{f':{port}' if port else ''}"
    else:
        shown = text
    if parts.scheme != "http" or not parts.hostname or port == 0:
        raise ConfigError(where, f"must be an http:// proxy URL (HTTPS is tunnelled with CONNECT), got {shown!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(where, f"must be http://host[:port] with nothing after it, got {shown!r}")
    return text.rstrip("/")


def no_proxy(sec: Table) -> tuple[str, ...]:
    """Hosts reached directly: names (with their subdomains), .domains, IPs, CIDR ranges, or ``*``."""
    entries = sec.get("no_proxy", list, [])
    for n, entry in enumerate(entries):
        where = f"{sec.key('no_proxy')}[{n}]"
        if not isinstance(entry, str):
            raise ConfigError(where, f"must be a string, got {type(entry).__name__}")
        try:
            parse_entry(entry)
        except ValueError as exc:
            raise ConfigError(where, str(exc)) from None
    return tuple(e.strip() for e in entries)


def tls_path(sec: Table, key: str, env: Mapping[str, str] | None) -> str:
    """A CA or client certificate path; relative ones are looked up in $CREDENTIALS_DIRECTORY when it is set.

    ``env`` None (offline): the path is only type-checked, since the file lives where the watcher runs.
    """
    value = sec.get(key, str, "")
    if not value or env is None:
        return value
    path = Path(value)
    if not path.is_absolute() and env.get("CREDENTIALS_DIRECTORY"):
        path = Path(env["CREDENTIALS_DIRECTORY"]) / path
    if key == "ca_dir":
        if not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
            raise ConfigError(sec.key(key), f"{str(path)!r} is not a readable directory")
        return str(path)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(sec.key(key), f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return str(path)


def check_tls_combination(values: Mapping[str, Any], sec: Table) -> None:
    """Settings that contradict each other: a key without its certificate, CAs that would be ignored."""
    if values.get("client_key_file") and not values.get("client_cert_file"):
        raise ConfigError(sec.key("client_key_file"), "needs api.client_cert_file (the certificate it belongs to)")
    if values.get("verify_tls") is False:
        for key in ("ca_file", "ca_dir"):
            if values.get(key):
                raise ConfigError(sec.key(key), "has no effect with api.verify_tls = false")
