"""Credentials: the [auth] table, and each secret read from its environment variable or file.

A relative ``*_file`` is looked up in ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``).
Secret values never appear in error messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from watcher.config.keys import by_auth, file_keys
from watcher.config.keys import key as declare
from watcher.config.problems import Problems
from watcher.config.tomltable import Table, choice, url
from watcher.core.flavor import BY_NAME
from watcher.core.vocabulary import AUTH_METHODS, AuthMethod, FlavorName
from watcher.errors import ConfigError

Env = Mapping[str, str]


def _secret_key(doc: str) -> str:
    """A secret: named in the file by ``<name>_env`` or ``<name>_file``, resolved by ``parse_auth``."""
    made: str = declare("", by_auth, doc, "restart", repr=False, file_keys=("{}_env", "{}_file"))
    return made


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """How requests authenticate; secret values are resolved and never shown in repr."""

    # [auth] is read by parse_auth (the method decides which keys are needed); these declare its keys
    method: AuthMethod = declare("none", by_auth, "aksk, token, password or none (default: the flavor's)", "restart")
    access_key: str = _secret_key("aksk: the access key (AK)")
    secret_key: str = _secret_key("aksk: the secret key (SK)")
    security_token: str = _secret_key("aksk: the STS security token of temporary credentials")
    token: str = _secret_key("token: a ready IAM token sent in X-Auth-Token")
    user: str = declare("", by_auth, "password: the IAM user", "restart")
    domain: str = declare("", by_auth, "password: the account (domain) name", "restart")
    password: str = _secret_key("password: the IAM user's password")
    project_name: str = declare("", by_auth, "password: the project (region) the token is scoped to", "restart")
    iam_endpoint: str = declare("", by_auth, "password: IAM's URL; default: derived from api.endpoint", "restart")

    def secrets(self) -> tuple[str, ...]:
        """The values that must never be printed, to mask wherever server text echoes them."""
        return tuple(s for s in (self.access_key, self.secret_key, self.security_token, self.token, self.password) if s)


ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _read_secret_file(key: str, path_text: str, env: Env) -> str:
    path = Path(path_text)
    hint = ""
    if not path.is_absolute():
        cred_dir = env.get("CREDENTIALS_DIRECTORY", "")
        path = Path(cred_dir) / path if cred_dir else path
        hint = "" if cred_dir else " ($CREDENTIALS_DIRECTORY is not set)"
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(key, f"cannot read secret file {str(path)!r}: {reason}{hint}") from None
    except UnicodeDecodeError:
        raise ConfigError(key, f"secret file {str(path)!r} is not UTF-8 text") from None
    if not value:
        raise ConfigError(key, f"secret file {str(path)!r} is empty")
    return value


def _secret(sec: Table, name: str, env: Env | None, *, default_env: str = "", required: bool = True) -> str:
    """Resolve ``<name>_file`` or ``<name>_env``; the file wins when both are set. ``env`` None: offline, only check.

    An optional secret becomes required once its ``_env`` key names a variable explicitly:
    a configured but missing security token must not silently turn into no token.
    """
    file_key, env_key = f"{name}_file", f"{name}_env"
    path = sec.get(file_key, str, "")
    var = sec.get(env_key, str, default_env)
    if var and not ENV_NAME_RE.fullmatch(var):
        # never echo it: a secret pasted here by mistake must not end up in logs
        raise ConfigError(sec.key(env_key), "must be the name of an environment variable, e.g. DLI_TOKEN")
    if env is None:
        return ""
    if path:
        return _read_secret_file(sec.key(file_key), path, env)
    value = env.get(var, "").strip() if var else ""  # a trailing newline is never part of a secret
    if value:
        return value
    if not required and not (var and env_key in sec.raw):
        return ""
    if not var:
        raise ConfigError(sec.key(file_key), f"set {env_key} or {file_key}")
    shown = var if _plausible_name(var) else "it names (not shown: it looks like a secret pasted by mistake)"
    where = f"environment variable {shown} is empty" if var in env else f"environment variable {shown} is not set"
    raise ConfigError(sec.key(env_key), where)


# a run this long of letters and digits is what keys and tokens look like, not variable names
_SECRET_RUN_RE = re.compile(r"[A-Za-z0-9]{16,}")


def _plausible_name(var: str) -> bool:
    """Whether ``var`` reads like a variable name (``DLI_TOKEN``) rather than a pasted AK, SK or token.

    Huawei access keys (20 capitals and digits) and most tokens are valid variable names too, so
    a name is echoed in an error only when it looks like one: upper case, no long run without ``_``.
    """
    return var.isupper() and not _SECRET_RUN_RE.search(var)


AUTH_KEYS = frozenset(file_keys(AuthConfig))


def parse_auth(
    raw: object,
    flavor: FlavorName,
    endpoint: str,
    env: Env,
    problems: Problems | None = None,
    *,
    offline: bool = False,
) -> AuthConfig:
    """The [auth] table with every secret the chosen method needs resolved (only checked when ``offline``)."""
    problems = Problems() if problems is None else problems
    sec = Table("auth", raw, AUTH_KEYS, problems)
    # DLI always needs credentials (AK/SK is what the SDK uses); a plain Livy server usually has none.
    method = choice(sec, "method", AUTH_METHODS, BY_NAME[flavor].default_auth)
    # Keys of the other methods are documented keys, not typos: type-check them, use only the method's own.
    for key in sorted(AUTH_KEYS - {"method", "iam_endpoint"}):
        with problems.guard():
            sec.get(key, str, "")
    secrets_env = None if offline else env
    values = problems.values(iam_endpoint=lambda: url(sec, "iam_endpoint", required=False))
    if method == "aksk":
        values |= problems.values(
            access_key=lambda: _secret(sec, "access_key", secrets_env, default_env="HUAWEICLOUD_SDK_AK"),
            secret_key=lambda: _secret(sec, "secret_key", secrets_env, default_env="HUAWEICLOUD_SDK_SK"),
            security_token=lambda: _secret(sec, "security_token", secrets_env, required=False),
        )
    elif method == "token":
        values |= problems.values(token=lambda: _secret(sec, "token", secrets_env, default_env="DLI_TOKEN"))
    elif method == "password":
        values |= _password_fields(sec, endpoint, secrets_env, values.get("iam_endpoint", ""))
    if method != "password":
        values.pop("iam_endpoint", None)
    return AuthConfig(method, **values)


def _password_fields(sec: Table, endpoint: str, env: Env | None, iam_endpoint: str) -> dict[str, str]:
    def required(key: str) -> str:
        value = sec.get(key, str, "")
        if not value:
            raise ConfigError(sec.key(key), "is required for auth.method password")
        return value

    out = sec.problems.values(
        user=lambda: required("user"),
        domain=lambda: required("domain"),
        project_name=lambda: required("project_name"),
        password=lambda: _secret(sec, "password", env, default_env="DLI_PASSWORD"),
    )
    out["iam_endpoint"] = iam_endpoint or _default_iam(endpoint)
    return out


def _default_iam(endpoint: str) -> str:
    """IAM lives beside DLI in the same region: dli.<region>.<domain> -> iam.<region>.<domain>."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    iam_host = "iam." + host.split(".", 1)[1] if host.startswith("dli.") else "iam.myhuaweicloud.com"
    return f"https://{iam_host}"
