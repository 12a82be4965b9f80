"""Configuration: TOML in, a frozen validated Config out; every error names its dotted key."""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from watcher.errors import ConfigError
from watcher.shard import parse_shard

DEFAULT_PATH = "/etc/dli-watcher/config.toml"
DEFAULT_PORT = 19847
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LIVY_ID_RE = re.compile(r"^(\d+|[A-Za-z][\w.-]{0,127})$")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROJECT_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")
FLAVORS = ("dli", "livy")
AUTH_METHODS = ("aksk", "token", "password", "none")
FORMATS = ("json", "console", "auto")
LEVELS = ("debug", "info", "warning", "error")
TRANSPORTS = ("aiohttp", "httpx")
WATCH_MODES = ("details", "list")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the batch API lives and how long a request may take."""

    flavor: str = "dli"
    endpoint: str = ""
    project_id: str = ""
    timeout_seconds: float = 10.0
    verify_tls: bool = True
    transport: str = "aiohttp"
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
    mode: str = "details"
    list_page_size: int = 100
    shard: str = ""


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
class DiscoveryConfig:
    """Which batches to find and watch by themselves, beyond the listed IDs."""

    enabled: bool = False
    queues: tuple[str, ...] = ()
    job_name: str = ""
    owner: str = ""
    created_after: str = ""
    max_batches: int = 1000
    interval_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    api: ApiConfig
    auth: AuthConfig
    watch: WatchConfig
    metrics: MetricsConfig
    state: StateConfig
    events: EventsConfig
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)


T = TypeVar("T")
Env = Mapping[str, str]


def _did_you_mean(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


_TOML_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "table"}


def _toml_type(kind: type, *, article: bool = False) -> str:
    """What TOML calls a Python type: the words a person editing the file knows."""
    name = _TOML_TYPES.get(kind, kind.__name__)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}" if article else name


class _Section:
    """Reads one TOML table, type-checking each key; keys outside ``known`` are rejected up front."""

    def __init__(self, name: str, raw: object, known: Collection[str]) -> None:
        if not isinstance(raw, dict):
            raise ConfigError(name, "must be a table")
        self.name, self.raw = name, raw
        # A typo must not fall back to a default silently, nor hide behind the error its default causes.
        for key in raw:
            if key not in known:
                raise ConfigError(self.key(key), "unknown key" + _did_you_mean(key, known))

    def get(self, key: str, kind: type[T], default: T) -> T:
        """The value of ``key`` if present and of the right type, else the default."""
        if key not in self.raw:
            return default
        value = self.raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            wanted, got = _toml_type(kind, article=True), _toml_type(type(value))
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ConfigError(self.key(key), f"must be {wanted}, got {got} {shown}")
        return value

    def key(self, key: str) -> str:
        """The dotted name of a key in this section."""
        return f"{self.name}.{key}"


def _choice(sec: _Section, key: str, choices: tuple[str, ...], default: str) -> str:
    value = sec.get(key, str, default)
    if value not in choices:
        raise ConfigError(sec.key(key), f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def _seconds(sec: _Section, key: str, default: float, *, zero_ok: bool = False) -> float:
    value = sec.get(key, float, default)
    if not math.isfinite(value):
        raise ConfigError(sec.key(key), f"must be a finite number, got {value}")
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(sec.key(key), f"must be {'>=' if zero_ok else '>'} 0, got {value}")
    return value


def _positive_int(sec: _Section, key: str, default: int) -> int:
    value = sec.get(key, int, default)
    if value < 1:
        raise ConfigError(sec.key(key), f"must be >= 1, got {value}")
    return value


def _url(sec: _Section, key: str, *, required: bool) -> str:
    value = sec.get(key, str, "")
    if not value:
        if required:
            raise ConfigError(sec.key(key), "is required, e.g. 'https://dli.cn-north-4.myhuaweicloud.com'")
        return ""
    if "@" in value.partition("//")[2].partition("/")[0]:
        raise ConfigError(sec.key(key), "must not contain credentials; secrets go in [auth] *_env / *_file")
    try:
        parts = urlsplit(value)
        valid = parts.port is None or parts.port > 0  # .port raises ValueError when out of range
    except ValueError:
        valid = False
    if not valid or parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
        raise ConfigError(sec.key(key), f"must be an http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigError(sec.key(key), f"must not have a query or fragment, got {value!r}")
    return value.rstrip("/")


def _parse_api(raw: object) -> ApiConfig:
    sec = _Section("api", raw, {f.name for f in fields(ApiConfig)})
    flavor = _choice(sec, "flavor", FLAVORS, "dli")
    project_id = sec.get("project_id", str, "")
    if flavor == "dli" and not PROJECT_RE.fullmatch(project_id):
        problem = "is required for flavor dli" if not project_id else "must be 1-64 letters and digits"
        raise ConfigError(sec.key("project_id"), problem)
    return ApiConfig(
        flavor=flavor,
        endpoint=_url(sec, "endpoint", required=True),
        project_id=project_id,
        timeout_seconds=_seconds(sec, "timeout_seconds", 10.0),
        verify_tls=sec.get("verify_tls", bool, True),
        transport=_choice(sec, "transport", TRANSPORTS, "aiohttp"),
        log_endpoint=sec.get("log_endpoint", bool, True),
        max_attempts=_positive_int(sec, "max_attempts", 4),
        backoff_base_seconds=_seconds(sec, "backoff_base_seconds", 0.5),
        backoff_max_seconds=_seconds(sec, "backoff_max_seconds", 30.0),
    )


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


def _secret(sec: _Section, name: str, env: Env, *, default_env: str = "", required: bool = True) -> str:
    """Resolve ``<name>_file`` or ``<name>_env``; the file wins when both are set.

    An optional secret becomes required once its ``_env`` key names a variable explicitly:
    a configured but missing security token must not silently turn into no token.
    """
    file_key, env_key = f"{name}_file", f"{name}_env"
    path = sec.get(file_key, str, "")
    var = sec.get(env_key, str, default_env)
    if var and not ENV_NAME_RE.fullmatch(var):
        # never echo it: a secret pasted here by mistake must not end up in logs
        raise ConfigError(sec.key(env_key), "must be the name of an environment variable, e.g. DLI_TOKEN")
    if path:
        return _read_secret_file(sec.key(file_key), path, env)
    value = env.get(var, "").strip() if var else ""  # a trailing newline is never part of a secret
    if value:
        return value
    if not required and not (var and env_key in sec.raw):
        return ""
    if not var:
        raise ConfigError(sec.key(file_key), f"set {env_key} or {file_key}")
    where = f"environment variable {var} is empty" if var in env else f"environment variable {var} is not set"
    raise ConfigError(sec.key(env_key), where)


SECRET_NAMES = ("access_key", "secret_key", "security_token", "token", "password")
AUTH_KEYS = frozenset(
    {"method", "user", "domain", "project_name", "iam_endpoint"}
    | {f"{name}_{how}" for name in SECRET_NAMES for how in ("env", "file")}
)


def _parse_auth(raw: object, api: ApiConfig, env: Env) -> AuthConfig:
    sec = _Section("auth", raw, AUTH_KEYS)
    # DLI always needs credentials (AK/SK is what the SDK uses); a plain Livy server usually has none.
    method = _choice(sec, "method", AUTH_METHODS, "aksk" if api.flavor == "dli" else "none")
    # Keys of the other methods are documented keys, not typos: type-check them, use only the method's own.
    for key in AUTH_KEYS - {"method", "iam_endpoint"}:
        sec.get(key, str, "")
    iam_endpoint = _url(sec, "iam_endpoint", required=False)
    values: dict[str, Any] = {"method": method}
    if method == "aksk":
        values["access_key"] = _secret(sec, "access_key", env, default_env="HUAWEICLOUD_SDK_AK")
        values["secret_key"] = _secret(sec, "secret_key", env, default_env="HUAWEICLOUD_SDK_SK")
        values["security_token"] = _secret(sec, "security_token", env, required=False)
    elif method == "token":
        values["token"] = _secret(sec, "token", env, default_env="DLI_TOKEN")
    elif method == "password":
        values.update(_password_fields(sec, api, env, iam_endpoint))
    return AuthConfig(**values)


def _password_fields(sec: _Section, api: ApiConfig, env: Env, iam_endpoint: str) -> dict[str, str]:
    out = {}
    for key in ("user", "domain", "project_name"):
        out[key] = sec.get(key, str, "")
        if not out[key]:
            raise ConfigError(sec.key(key), "is required for auth.method password")
    out["password"] = _secret(sec, "password", env, default_env="DLI_PASSWORD")
    out["iam_endpoint"] = iam_endpoint or _default_iam(api.endpoint)
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
        if not pattern.fullmatch(item):
            raise ConfigError(f"{key}[{n}]", f"{item!r} is not a valid {flavor} batch ID")
        if item in seen:
            raise ConfigError(f"{key}[{n}]", f"duplicate batch ID {item!r}")
        seen[item] = None
    return tuple(seen)


def _numbered_ids(path: str) -> Iterator[tuple[int, str]]:
    """(line number, ID) for each ID in the file; blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("watch.batch_ids_file", f"cannot read {path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("watch.batch_ids_file", f"{path!r} is not UTF-8 text") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        item = line.split("#", 1)[0].strip()
        if item:
            yield lineno, item


def read_batch_ids_file(path: str) -> list[str]:
    """One ID per line; blank lines and ``#`` comments are ignored."""
    return [item for _, item in _numbered_ids(path)]


def _merge_file_ids(listed: tuple[str, ...], path: str, flavor: str) -> tuple[str, ...]:
    """The listed IDs plus the file's; a bad or repeated ID names the file and its line."""
    pattern = UUID_RE if flavor == "dli" else LIVY_ID_RE
    seen = dict.fromkeys(listed)
    for lineno, item in _numbered_ids(path):
        where = f"{path!r} line {lineno}"
        if not pattern.fullmatch(item):
            raise ConfigError("watch.batch_ids_file", f"{where}: {item!r} is not a valid {flavor} batch ID")
        if item in seen:
            also = " (also in watch.batch_ids)" if item in listed else ""
            raise ConfigError("watch.batch_ids_file", f"{where}: duplicate batch ID {item!r}{also}")
        seen[item] = None
    return tuple(seen)


def _parse_shard(sec: _Section, env: Env) -> str:
    try:
        shard = parse_shard(sec.get("shard", str, ""), env)
    except ValueError as exc:
        raise ConfigError(sec.key("shard"), str(exc)) from None
    return "" if shard.count == 1 else str(shard)


def _parse_watch(raw: object, flavor: str, env: Env) -> WatchConfig:
    sec = _Section("watch", raw, {f.name for f in fields(WatchConfig)})
    listed = sec.get("batch_ids", list, [])
    for n, item in enumerate(listed):
        if not isinstance(item, str):
            raise ConfigError(f"{sec.key('batch_ids')}[{n}]", f"must be a string, got {type(item).__name__}")
    ids = parse_batch_ids(listed, flavor, sec.key("batch_ids"))
    ids_file = sec.get("batch_ids_file", str, "")
    return WatchConfig(
        batch_ids=_merge_file_ids(ids, ids_file, flavor) if ids_file else ids,
        batch_ids_file=ids_file,
        interval_seconds=_seconds(sec, "interval_seconds", 15.0),
        concurrency=_positive_int(sec, "concurrency", 16),
        terminal_grace_seconds=_seconds(sec, "terminal_grace_seconds", 120.0, zero_ok=True),
        retention_seconds=_seconds(sec, "retention_seconds", 3600.0, zero_ok=True),
        not_found_interval_seconds=_seconds(sec, "not_found_interval_seconds", 300.0),
        mode=_choice(sec, "mode", WATCH_MODES, "details"),
        list_page_size=_positive_int(sec, "list_page_size", 100),
        shard=_parse_shard(sec, env),
    )


def parse_listen(value: str, key: str = "metrics.listen") -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:port`` for IPv6); port 0 picks a free one."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise ConfigError(key, f"must be host:port with a port of 0-65535, got {value!r}")
    if host.startswith("[") and host.endswith("]") and len(host) > 2:
        host = host[1:-1]
    elif any(c in host for c in ":[]") or re.search(r"\s", host):
        raise ConfigError(key, f"must be host:port ([::1]:port for IPv6), got {value!r}")
    return host or "0.0.0.0", int(port_text)  # noqa: S104 - ":PORT" means every address


def _parse_metrics(raw: object) -> MetricsConfig:
    sec = _Section("metrics", raw, {"listen"})
    host, port = parse_listen(sec.get("listen", str, f"127.0.0.1:{DEFAULT_PORT}"))
    return MetricsConfig(host=host, port=port)


def _parse_simple(raw: object, name: str, cls: type[T], choices: Mapping[str, tuple[str, ...]]) -> T:
    """Parse a table whose keys are exactly the fields of ``cls``, with optional choice lists."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    sec = _Section(name, raw, names)
    values: dict[str, Any] = {}
    defaults = cls()
    for f in fields(cls):  # type: ignore[arg-type]
        default = getattr(defaults, f.name)
        if f.name in choices:
            values[f.name] = _choice(sec, f.name, choices[f.name], default)
        else:
            values[f.name] = sec.get(f.name, type(default), default)
    return cls(**values)


SECTIONS = ("api", "auth", "watch", "metrics", "state", "events", "discovery")


def created_after_ms(text: str) -> int | None:
    """An RFC 3339 time as epoch milliseconds; None for an empty string. Raises ValueError."""
    if not text:
        return None
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-01-31T00:00:00Z")
    return int(stamp.timestamp() * 1000)


def _parse_discovery(raw: object) -> DiscoveryConfig:
    sec = _Section("discovery", raw, {f.name for f in fields(DiscoveryConfig)})
    queues = sec.get("queues", list, [])
    for n, item in enumerate(queues):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{sec.key('queues')}[{n}]", "must be a non-empty string")
    created_after = sec.get("created_after", str, "")
    try:
        created_after_ms(created_after)
    except ValueError as exc:
        raise ConfigError(sec.key("created_after"), f"must be an RFC 3339 time: {exc}") from None
    return DiscoveryConfig(
        enabled=sec.get("enabled", bool, False),
        queues=tuple(queues),
        job_name=sec.get("job_name", str, ""),
        owner=sec.get("owner", str, ""),
        created_after=created_after,
        max_batches=_positive_int(sec, "max_batches", 1000),
        interval_seconds=_seconds(sec, "interval_seconds", 60.0),
    )


def parse(data: Mapping[str, Any], env: Env) -> Config:
    """Validate a parsed TOML document; raises ConfigError naming the first bad key."""
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(key, "unknown section" + _did_you_mean(key, SECTIONS))
    if "api" not in data:
        raise ConfigError("api.endpoint", "is required (the [api] section is missing)")
    api = _parse_api(data["api"])
    return Config(
        api=api,
        auth=_parse_auth(data.get("auth", {}), api, env),
        watch=_parse_watch(data.get("watch", {}), api.flavor, env),
        metrics=_parse_metrics(data.get("metrics", {})),
        state=_parse_simple(data.get("state", {}), "state", StateConfig, {}),
        events=_parse_simple(data.get("events", {}), "events", EventsConfig, {"format": FORMATS, "level": LEVELS}),
        discovery=_parse_discovery(data.get("discovery", {})),
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
    except UnicodeDecodeError:
        raise ConfigError("--config", f"{path} is not UTF-8 text") from None
    return parse(data, os.environ if env is None else env)


def default_path(env: Env) -> str:
    """``$DLI_WATCHER_CONFIG``, else the system-wide default."""
    return env.get("DLI_WATCHER_CONFIG") or DEFAULT_PATH


Loader = Callable[[], Config]
