"""Configuration: TOML in, a frozen validated Config out; every error names its dotted key."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from watcher.errors import ConfigError

DEFAULT_PATH = "/etc/dli-watcher/config.toml"
DEFAULT_PORT = 19847
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LIVY_ID_RE = re.compile(r"^(\d+|[A-Za-z][\w.-]{0,127})$")
PROJECT_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")
FLAVORS = ("dli", "livy")
AUTH_METHODS = ("aksk", "token", "password", "none")
FORMATS = ("json", "console", "auto")
LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the batch API lives and how long a request may take."""

    flavor: str = "dli"
    endpoint: str = ""
    project_id: str = ""
    timeout_seconds: float = 10.0
    verify_tls: bool = True
    log_endpoint: bool = True
    max_attempts: int = 4
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """How requests authenticate; secret values are resolved and never shown in repr."""

    method: str = "none"
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    user: str = ""
    domain: str = ""
    password: str = field(default="", repr=False)
    project_name: str = ""
    iam_endpoint: str = ""


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Which batches to watch and how often."""

    batch_ids: tuple[str, ...] = ()
    batch_ids_file: str = ""
    interval_seconds: float = 15.0
    concurrency: int = 16
    terminal_grace_seconds: float = 120.0
    retention_seconds: float = 3600.0
    not_found_interval_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Where /metrics, /healthz and /readyz are served."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where per-batch state persists; empty path disables persistence."""

    path: str = ""


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """How events are rendered on stdout."""

    format: str = "auto"
    level: str = "info"
    include_req_body: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    api: ApiConfig
    auth: AuthConfig
    watch: WatchConfig
    metrics: MetricsConfig
    state: StateConfig
    events: EventsConfig


T = TypeVar("T")
Env = Mapping[str, str]


class _Section:
    """Reads one TOML table, type-checking each key and remembering which were used."""

    def __init__(self, name: str, raw: object) -> None:
        if not isinstance(raw, dict):
            raise ConfigError(name, "must be a table")
        self.name, self.raw, self.used = name, raw, set[str]()

    def get(self, key: str, kind: type[T], default: T) -> T:
        """The value of ``key`` if present and of the right type, else the default."""
        self.used.add(key)
        if key not in self.raw:
            return default
        value = self.raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(self.key(key), f"must be a {kind.__name__}, got {type(value).__name__}")
        return value

    def key(self, key: str) -> str:
        """The dotted name of a key in this section."""
        return f"{self.name}.{key}"

    def finish(self) -> None:
        """Reject keys nobody asked for: a typo must not fall back to a default silently."""
        for key in self.raw:
            if key not in self.used:
                raise ConfigError(self.key(key), "unknown key")


def _choice(sec: _Section, key: str, choices: tuple[str, ...], default: str) -> str:
    value = sec.get(key, str, default)
    if value not in choices:
        raise ConfigError(sec.key(key), f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def _positive(sec: _Section, key: str, default: float) -> float:
    value = sec.get(key, float, default)
    if not value > 0:
        raise ConfigError(sec.key(key), f"must be > 0, got {value}")
    return value


def _positive_int(sec: _Section, key: str, default: int) -> int:
    value = sec.get(key, int, default)
    if value < 1:
        raise ConfigError(sec.key(key), f"must be >= 1, got {value}")
    return value


def _url(sec: _Section, key: str, *, required: bool) -> str:
    value = sec.get(key, str, "")
    if not value and not required:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(sec.key(key), f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _parse_api(raw: object) -> ApiConfig:
    sec = _Section("api", raw)
    flavor = _choice(sec, "flavor", FLAVORS, "dli")
    project_id = sec.get("project_id", str, "")
    if flavor == "dli" and not PROJECT_RE.match(project_id):
        problem = "is required for flavor dli" if not project_id else "must be 1-64 letters and digits"
        raise ConfigError(sec.key("project_id"), problem)
    cfg = ApiConfig(
        flavor=flavor,
        endpoint=_url(sec, "endpoint", required=True),
        project_id=project_id,
        timeout_seconds=_positive(sec, "timeout_seconds", 10.0),
        verify_tls=sec.get("verify_tls", bool, True),
        log_endpoint=sec.get("log_endpoint", bool, True),
        max_attempts=_positive_int(sec, "max_attempts", 4),
        backoff_base_seconds=_positive(sec, "backoff_base_seconds", 0.5),
        backoff_max_seconds=_positive(sec, "backoff_max_seconds", 30.0),
    )
    sec.finish()
    return cfg


def _read_secret_file(key: str, path_text: str, env: Env) -> str:
    path = Path(path_text)
    if not path.is_absolute():
        cred_dir = env.get("CREDENTIALS_DIRECTORY", "")
        path = Path(cred_dir) / path if cred_dir else path
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(key, f"cannot read secret file {str(path)!r}: {exc.strerror}") from None
    if not value:
        raise ConfigError(key, f"secret file {str(path)!r} is empty")
    return value


def _secret(sec: _Section, name: str, env: Env, *, default_env: str = "", required: bool = True) -> str:
    """Resolve ``<name>_file`` or ``<name>_env``; the file wins when both are set."""
    file_key, env_key = f"{name}_file", f"{name}_env"
    path = sec.get(file_key, str, "")
    var = sec.get(env_key, str, default_env)
    if path:
        return _read_secret_file(sec.key(file_key), path, env)
    if var and env.get(var):
        return env[var]
    if not required:
        return ""
    where = f"environment variable {var} is not set" if var else f"set {env_key} or {file_key}"
    raise ConfigError(sec.key(env_key if var else file_key), where)


def _parse_auth(raw: object, api: ApiConfig, env: Env) -> AuthConfig:
    sec = _Section("auth", raw)
    method = _choice(sec, "method", AUTH_METHODS, "none")
    values: dict[str, Any] = {"method": method}
    if method == "aksk":
        values["access_key"] = _secret(sec, "access_key", env, default_env="HUAWEICLOUD_SDK_AK")
        values["secret_key"] = _secret(sec, "secret_key", env, default_env="HUAWEICLOUD_SDK_SK")
        values["security_token"] = _secret(sec, "security_token", env, required=False)
    elif method == "token":
        values["token"] = _secret(sec, "token", env, default_env="DLI_TOKEN")
    elif method == "password":
        values.update(_password_fields(sec, api, env))
    cfg = AuthConfig(**values)
    sec.finish()
    return cfg


def _password_fields(sec: _Section, api: ApiConfig, env: Env) -> dict[str, str]:
    out = {}
    for key in ("user", "domain", "project_name"):
        out[key] = sec.get(key, str, "")
        if not out[key]:
            raise ConfigError(sec.key(key), "is required for auth.method password")
    out["password"] = _secret(sec, "password", env, default_env="DLI_PASSWORD")
    out["iam_endpoint"] = _url(sec, "iam_endpoint", required=False) or _default_iam(api.endpoint)
    return out


def _default_iam(endpoint: str) -> str:
    """IAM lives beside DLI in the same region: dli.<region>.<domain> -> iam.<region>.<domain>."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    iam_host = "iam." + host.split(".", 1)[1] if host.startswith("dli.") else "iam.myhuaweicloud.com"
    return f"https://{iam_host}"


def parse_batch_ids(lines: list[str], flavor: str, key: str) -> tuple[str, ...]:
    """Validate batch IDs for the flavor; duplicates and malformed IDs are errors naming ``key``."""
    pattern = UUID_RE if flavor == "dli" else LIVY_ID_RE
    seen: dict[str, None] = {}
    for n, item in enumerate(lines):
        if not pattern.match(item):
            raise ConfigError(f"{key}[{n}]", f"{item!r} is not a valid {flavor} batch ID")
        if item in seen:
            raise ConfigError(f"{key}[{n}]", f"duplicate batch ID {item!r}")
        seen[item] = None
    return tuple(seen)


def read_batch_ids_file(path: str) -> list[str]:
    """One ID per line; blank lines and ``#`` comments are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("watch.batch_ids_file", f"cannot read {path!r}: {exc.strerror}") from None
    stripped = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in stripped if line]


def _parse_watch(raw: object, flavor: str) -> WatchConfig:
    sec = _Section("watch", raw)
    listed = sec.get("batch_ids", list, [])
    if not all(isinstance(i, str) for i in listed):
        raise ConfigError(sec.key("batch_ids"), "must be a list of strings")
    ids_file = sec.get("batch_ids_file", str, "")
    from_file = read_batch_ids_file(ids_file) if ids_file else []
    all_ids = parse_batch_ids([*listed, *from_file], flavor, sec.key("batch_ids"))
    cfg = WatchConfig(
        batch_ids=all_ids,
        batch_ids_file=ids_file,
        interval_seconds=_positive(sec, "interval_seconds", 15.0),
        concurrency=_positive_int(sec, "concurrency", 16),
        terminal_grace_seconds=sec.get("terminal_grace_seconds", float, 120.0),
        retention_seconds=sec.get("retention_seconds", float, 3600.0),
        not_found_interval_seconds=_positive(sec, "not_found_interval_seconds", 300.0),
    )
    for key in ("terminal_grace_seconds", "retention_seconds"):
        if getattr(cfg, key) < 0:
            raise ConfigError(sec.key(key), "must be >= 0")
    sec.finish()
    return cfg


def parse_listen(value: str, key: str = "metrics.listen") -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:port`` for IPv6); port 0 picks a free one."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(key, f"must be host:port, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port_text)  # noqa: S104 - ":PORT" means every address


def _parse_metrics(raw: object) -> MetricsConfig:
    sec = _Section("metrics", raw)
    host, port = parse_listen(sec.get("listen", str, f"127.0.0.1:{DEFAULT_PORT}"))
    sec.finish()
    return MetricsConfig(host=host, port=port)


def _parse_simple(raw: object, name: str, cls: type[T], choices: Mapping[str, tuple[str, ...]]) -> T:
    """Parse a table whose keys are exactly the fields of ``cls``, with optional choice lists."""
    sec = _Section(name, raw)
    values: dict[str, Any] = {}
    defaults = cls()
    for f in fields(cls):  # type: ignore[arg-type]
        default = getattr(defaults, f.name)
        if f.name in choices:
            values[f.name] = _choice(sec, f.name, choices[f.name], default)
        else:
            values[f.name] = sec.get(f.name, type(default), default)
    sec.finish()
    return cls(**values)


SECTIONS = ("api", "auth", "watch", "metrics", "state", "events")


def parse(data: Mapping[str, Any], env: Env) -> Config:
    """Validate a parsed TOML document; raises ConfigError naming the first bad key."""
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(key, "unknown section")
    if "api" not in data:
        raise ConfigError("api.endpoint", "is required")
    api = _parse_api(data["api"])
    return Config(
        api=api,
        auth=_parse_auth(data.get("auth", {}), api, env),
        watch=_parse_watch(data.get("watch", {}), api.flavor),
        metrics=_parse_metrics(data.get("metrics", {})),
        state=_parse_simple(data.get("state", {}), "state", StateConfig, {}),
        events=_parse_simple(
            data.get("events", {}), "events", EventsConfig, {"format": FORMATS, "level": LEVELS}
        ),
    )


def load(path: str | os.PathLike[str], env: Env | None = None) -> Config:
    """Read and validate a TOML config file."""
    try:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from None
    return parse(data, os.environ if env is None else env)


def default_path(env: Env) -> str:
    """``$DLI_WATCHER_CONFIG``, else the system-wide default."""
    return env.get("DLI_WATCHER_CONFIG") or DEFAULT_PATH


Loader = Callable[[], Config]
