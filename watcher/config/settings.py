"""Configuration: TOML in, a frozen validated Config out; every error names its dotted key."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from watcher.config.batchids import merge_file_ids, parse_batch_ids
from watcher.config.credentials import AuthConfig, Env, parse_auth
from watcher.config.tomltable import Table, choice, did_you_mean, positive_int, seconds, url
from watcher.core.flavor import BY_NAME, Flavor
from watcher.core.shard import Shard, parse_shard
from watcher.core.states import KNOWN, is_known, normalise
from watcher.core.vocabulary import (
    FLAVORS,
    FORMATS,
    LEVELS,
    MODES,
    TRANSPORTS,
    FlavorName,
    Format,
    Level,
    Mode,
    Transport,
)
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_PATH = "/etc/dli-watcher/config.toml"
DEFAULT_PORT = 19847
PROJECT_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the batch API lives and how long a request may take."""

    flavor: FlavorName = "dli"
    endpoint: str = ""
    project_id: str = ""
    timeout_seconds: float = 10.0
    verify_tls: bool = True
    transport: Transport = "aiohttp"
    log_endpoint: bool = True
    max_attempts: int = 4
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_response_bytes: int = 8 * 1024 * 1024
    # (state as the server sends it, normalised; the documented state it means), sorted
    state_map: tuple[tuple[str, str], ...] = ()

    @property
    def flavor_spec(self) -> Flavor:
        """What this flavor's API looks like: paths, ID rule, list filters."""
        return BY_NAME[self.flavor]


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
    mode: Mode = "details"
    list_page_size: int = 100
    max_list_pages: int = 1000
    shard: Shard = field(default_factory=Shard)


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

    format: Format = "auto"
    level: Level = "info"
    include_req_body: bool = False


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """Which batches to find and watch by themselves, beyond the listed IDs."""

    enabled: bool = False
    queues: tuple[str, ...] = ()
    job_name: str = ""
    owner: str = ""
    created_after_ms: int | None = None  # epoch milliseconds, parsed once from the RFC 3339 text
    max_batches: int = 1000
    interval_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    api: ApiConfig = field(default_factory=ApiConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    state: StateConfig = field(default_factory=StateConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)


T = TypeVar("T")


def _parse_api(raw: object) -> ApiConfig:
    sec = Table("api", raw, {f.name for f in fields(ApiConfig)})
    flavor = choice(sec, "flavor", FLAVORS, "dli")
    project_id = sec.get("project_id", str, "")
    if flavor == "dli" and not PROJECT_RE.fullmatch(project_id):
        problem = "is required for flavor dli" if not project_id else "must be 1-64 letters and digits"
        raise ConfigError(sec.key("project_id"), problem)
    return ApiConfig(
        flavor=flavor,
        endpoint=url(sec, "endpoint", required=True),
        project_id=project_id,
        timeout_seconds=seconds(sec, "timeout_seconds", 10.0),
        verify_tls=sec.get("verify_tls", bool, True),
        transport=choice(sec, "transport", TRANSPORTS, "aiohttp"),
        log_endpoint=sec.get("log_endpoint", bool, True),
        max_attempts=positive_int(sec, "max_attempts", 4),
        backoff_base_seconds=seconds(sec, "backoff_base_seconds", 0.5),
        backoff_max_seconds=seconds(sec, "backoff_max_seconds", 30.0),
        max_response_bytes=_at_least(sec, "max_response_bytes", 8 * 1024 * 1024, 64 * 1024),
        state_map=_state_map(sec),
    )


def _state_map(sec: Table) -> tuple[tuple[str, str], ...]:
    """``state_map``: states a Livy-compatible server sends that mean a documented one (``finished = "success"``)."""
    mapped: dict[str, str] = {}
    for raw, meant in sec.get("state_map", dict, {}).items():
        key = f"{sec.key('state_map')}.{raw}"
        state = normalise(raw)
        if not state:
            raise ConfigError(key, "must name a state")
        if state in mapped:
            raise ConfigError(key, f"maps {state!r} a second time (states are compared in lower case)")
        if not isinstance(meant, str) or not is_known(normalise(meant)):
            known = ", ".join(sorted(KNOWN))
            raise ConfigError(key, f"must be one of the documented states ({known}), got {meant!r}")
        mapped[state] = normalise(meant)
    return tuple(sorted(mapped.items()))


def _at_least(sec: Table, key: str, default: int, least: int) -> int:
    value = positive_int(sec, key, default)
    if value < least:
        raise ConfigError(sec.key(key), f"must be >= {least}, got {value}")
    return value


def _parse_shard(sec: Table, env: Env) -> Shard:
    try:
        return parse_shard(sec.get("shard", str, ""), env)
    except ValueError as exc:
        raise ConfigError(sec.key("shard"), str(exc)) from None


def _parse_watch(raw: object, flavor: FlavorName, env: Env) -> WatchConfig:
    sec = Table("watch", raw, {f.name for f in fields(WatchConfig)})
    listed = sec.get("batch_ids", list, [])
    for n, item in enumerate(listed):
        if not isinstance(item, str):
            raise ConfigError(f"{sec.key('batch_ids')}[{n}]", f"must be a string, got {type(item).__name__}")
    ids = parse_batch_ids(listed, flavor, sec.key("batch_ids"))
    ids_file = sec.get("batch_ids_file", str, "")
    return WatchConfig(
        batch_ids=merge_file_ids(ids, ids_file, flavor) if ids_file else ids,
        batch_ids_file=ids_file,
        interval_seconds=seconds(sec, "interval_seconds", 15.0),
        concurrency=positive_int(sec, "concurrency", 16),
        terminal_grace_seconds=seconds(sec, "terminal_grace_seconds", 120.0, zero_ok=True),
        retention_seconds=seconds(sec, "retention_seconds", 3600.0, zero_ok=True),
        not_found_interval_seconds=seconds(sec, "not_found_interval_seconds", 300.0),
        mode=choice(sec, "mode", MODES, "details"),
        list_page_size=positive_int(sec, "list_page_size", 100),
        max_list_pages=positive_int(sec, "max_list_pages", 1000),
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
    sec = Table("metrics", raw, {"listen"})
    host, port = parse_listen(sec.get("listen", str, f"127.0.0.1:{DEFAULT_PORT}"))
    return MetricsConfig(host=host, port=port)


def _parse_simple(raw: object, name: str, cls: type[T], choices: Mapping[str, tuple[str, ...]]) -> T:
    """Parse a table whose keys are exactly the fields of ``cls``, with optional choice lists."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    sec = Table(name, raw, names)
    values: dict[str, Any] = {}
    defaults = cls()
    for f in fields(cls):  # type: ignore[arg-type]
        default = getattr(defaults, f.name)
        if f.name in choices:
            values[f.name] = choice(sec, f.name, choices[f.name], default)
        else:
            values[f.name] = sec.get(f.name, type(default), default)
    return cls(**values)


SECTIONS = ("api", "auth", "watch", "metrics", "state", "events", "discovery")


def parse_time_ms(text: str) -> int | None:
    """An RFC 3339 time as epoch milliseconds; None for an empty string. Raises ValueError."""
    if not text:
        return None
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-01-31T00:00:00Z")
    return int(stamp.timestamp() * 1000)


DISCOVERY_KEYS = ("enabled", "queues", "job_name", "owner", "created_after", "max_batches", "interval_seconds")


def _parse_discovery(raw: object) -> DiscoveryConfig:
    sec = Table("discovery", raw, DISCOVERY_KEYS)
    queues = sec.get("queues", list, [])
    for n, item in enumerate(queues):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{sec.key('queues')}[{n}]", "must be a non-empty string")
    try:
        after = parse_time_ms(sec.get("created_after", str, ""))
    except ValueError as exc:
        raise ConfigError(sec.key("created_after"), f"must be an RFC 3339 time: {exc}") from None
    return DiscoveryConfig(
        enabled=sec.get("enabled", bool, False),
        queues=tuple(queues),
        job_name=sec.get("job_name", str, ""),
        owner=sec.get("owner", str, ""),
        created_after_ms=after,
        max_batches=positive_int(sec, "max_batches", 1000),
        interval_seconds=seconds(sec, "interval_seconds", 60.0),
    )


def parse(data: Mapping[str, Any], env: Env) -> Config:
    """Validate a parsed TOML document; raises ConfigError naming the first bad key."""
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(key, "unknown section" + did_you_mean(key, SECTIONS))
    if "api" not in data:
        raise ConfigError("api.endpoint", "is required (the [api] section is missing)")
    api = _parse_api(data["api"])
    return Config(
        api=api,
        auth=parse_auth(data.get("auth", {}), api.flavor, api.endpoint, env),
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
