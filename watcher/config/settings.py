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
from watcher.config.egress import check_tls_combination, no_proxy, proxy_url, tls_path
from watcher.config.problems import Problems
from watcher.config.statuslinks import StatusConfig, parse_status
from watcher.config.tomltable import Table, choice, did_you_mean, positive_int, seconds, url
from watcher.core.flavor import BY_NAME, Flavor
from watcher.core.shard import Shard, parse_shard
from watcher.core.states import KNOWN, is_known, normalise
from watcher.core.vocabulary import (
    EVENT_TIMES,
    FLAVORS,
    FORMATS,
    LEVELS,
    MODES,
    PER_BATCH_MODES,
    TRANSPORTS,
    EventTime,
    FlavorName,
    Format,
    Level,
    Mode,
    PerBatch,
    Transport,
)
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

DEFAULT_PATH = "/etc/dli-watcher/config.toml"
DEFAULT_PORT = 19847
PROJECT_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")
# list mode looks for never-polled batches among those created this long ago at most
DEFAULT_LIST_LOOKBACK = 3 * 86400.0


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the batch API lives and how long a request may take."""

    flavor: FlavorName = "dli"
    endpoint: str = ""
    project_id: str = ""
    timeout_seconds: float = 10.0
    verify_tls: bool = True
    ca_file: str = ""  # PEM bundle replacing the default CAs; relative: in $CREDENTIALS_DIRECTORY
    ca_dir: str = ""  # an OpenSSL hashed directory of CA certificates (c_rehash)
    client_cert_file: str = ""  # for gateways that require mutual TLS
    client_key_file: str = ""  # empty: the key is in client_cert_file
    proxy: str = ""  # http://host:port; empty: $HTTPS_PROXY / $HTTP_PROXY / $ALL_PROXY
    no_proxy: tuple[str, ...] = ()  # hosts reached directly, besides those in $NO_PROXY
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
    # list mode: how far back a sweep for never-polled batches reads (0: they are read by details)
    list_lookback: float = DEFAULT_LIST_LOOKBACK
    # list mode: the queues that sweep reads; empty: discovery's queues when it is on, else every queue
    queues: tuple[str, ...] = ()
    shard: Shard = field(default_factory=Shard)


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Where /metrics, /healthz and /readyz are served."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    web_config_file: str = ""  # TLS and basic auth, in the Prometheus exporter-toolkit's format
    per_batch: PerBatch = "compact"  # which batches get the per-batch families (README: what each costs)
    # kube-state-metrics' --metric-allowlist / --metric-denylist: regular expressions, one or the other
    metric_allowlist: tuple[str, ...] = ()
    metric_denylist: tuple[str, ...] = ()
    # distinct values per API-supplied label (job_name, queue, owner, kind, sc_type); more fold into one
    max_label_values: int = 1000
    # Prometheus' --web.enable-lifecycle: POST /-/reload reloads as SIGHUP does (behind the web config's auth)
    enable_lifecycle: bool = False


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where per-batch state persists; empty path disables persistence."""

    path: str = ""
    # how long a start waits out another program's lock on the file before it exits 2
    lock_wait_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """Where a recording of every API exchange goes (empty: none), and its cap."""

    path: str = ""
    max_bytes: int = 64 * 1024 * 1024  # per file
    files: int = 3  # segments kept, the current one included; 1: recording stops at the cap


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """How events are rendered on stdout."""

    format: Format = "auto"
    level: Level = "info"
    time: EventTime = "local"  # how the readable format shows times
    include_req_body: bool = False
    # event lines queued for a stdout reader that is not keeping up before polls are held
    buffer_lines: int = 10_000
    # and their bytes: long lines fill memory long before the line count is reached
    buffer_bytes: int = 32 * 1024 * 1024


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
    status: StatusConfig = field(default_factory=StatusConfig)
    record: RecordConfig = field(default_factory=RecordConfig)


T = TypeVar("T")


def _parse_api(raw: object, env: Env, problems: Problems, *, offline: bool) -> ApiConfig:
    sec = Table("api", raw, {f.name for f in fields(ApiConfig)}, problems)
    files_env = None if offline else env
    values = problems.values(
        flavor=lambda: choice(sec, "flavor", FLAVORS, "dli"),
        endpoint=lambda: url(sec, "endpoint", required=True),
        timeout_seconds=lambda: seconds(sec, "timeout_seconds", 10.0),
        verify_tls=lambda: sec.get("verify_tls", bool, True),
        ca_file=lambda: tls_path(sec, "ca_file", files_env),
        ca_dir=lambda: tls_path(sec, "ca_dir", files_env),
        client_cert_file=lambda: tls_path(sec, "client_cert_file", files_env),
        client_key_file=lambda: tls_path(sec, "client_key_file", files_env),
        proxy=lambda: proxy_url(sec),
        no_proxy=lambda: no_proxy(sec),
        transport=lambda: choice(sec, "transport", TRANSPORTS, "aiohttp"),
        log_endpoint=lambda: sec.get("log_endpoint", bool, True),
        max_attempts=lambda: positive_int(sec, "max_attempts", 4),
        backoff_base_seconds=lambda: seconds(sec, "backoff_base_seconds", 0.5),
        backoff_max_seconds=lambda: seconds(sec, "backoff_max_seconds", 30.0),
        max_response_bytes=lambda: _at_least(sec, "max_response_bytes", 8 * 1024 * 1024, 64 * 1024),
        state_map=lambda: _state_map(sec),
    )
    flavor = values.get("flavor", "dli")
    values.update(problems.values(project_id=lambda: _project_id(sec, flavor)))
    with problems.guard():
        check_tls_combination(values, sec)
    return ApiConfig(**values)


def _project_id(sec: Table, flavor: FlavorName) -> str:
    project_id = sec.get("project_id", str, "")
    if flavor == "dli" and not PROJECT_RE.fullmatch(project_id):
        problem = "is required for flavor dli" if not project_id else "must be 1-64 letters and digits"
        raise ConfigError(sec.key("project_id"), problem)
    return project_id


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


def _parse_shard(sec: Table, env: Env, *, offline: bool) -> Shard:
    text = sec.get("shard", str, "")
    if offline and text.startswith("ordinal/"):
        # the pod's ordinal is only known where it runs: check the rest of the spec with ordinal 0
        text = "0/" + text.removeprefix("ordinal/")
    try:
        return parse_shard(text, env)
    except ValueError as exc:
        raise ConfigError(sec.key("shard"), str(exc)) from None


def _batch_ids(sec: Table, flavor: FlavorName, *, offline: bool) -> tuple[str, ...]:
    """The listed IDs, plus the file's (not read offline: it lives where the watcher runs)."""
    listed = sec.get("batch_ids", list, [])
    for n, item in enumerate(listed):
        if not isinstance(item, str):
            raise ConfigError(f"{sec.key('batch_ids')}[{n}]", f"must be a string, got {type(item).__name__}")
    ids = parse_batch_ids(listed, flavor, sec.key("batch_ids"))
    ids_file = sec.get("batch_ids_file", str, "")
    return merge_file_ids(ids, ids_file, flavor) if ids_file and not offline else ids


def _parse_watch(raw: object, flavor: FlavorName, env: Env, problems: Problems, *, offline: bool) -> WatchConfig:
    sec = Table("watch", raw, {f.name for f in fields(WatchConfig)}, problems)
    return WatchConfig(
        **problems.values(
            batch_ids=lambda: _batch_ids(sec, flavor, offline=offline),
            batch_ids_file=lambda: sec.get("batch_ids_file", str, ""),
            interval_seconds=lambda: seconds(sec, "interval_seconds", 15.0),
            concurrency=lambda: positive_int(sec, "concurrency", 16),
            terminal_grace_seconds=lambda: seconds(sec, "terminal_grace_seconds", 120.0, zero_ok=True),
            retention_seconds=lambda: seconds(sec, "retention_seconds", 3600.0, zero_ok=True),
            not_found_interval_seconds=lambda: seconds(sec, "not_found_interval_seconds", 300.0),
            mode=lambda: choice(sec, "mode", MODES, "details"),
            list_page_size=lambda: positive_int(sec, "list_page_size", 100),
            max_list_pages=lambda: positive_int(sec, "max_list_pages", 1000),
            list_lookback=lambda: seconds(sec, "list_lookback", DEFAULT_LIST_LOOKBACK, zero_ok=True),
            queues=lambda: _queues(sec),
            shard=lambda: _parse_shard(sec, env, offline=offline),
        )
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


METRICS_KEYS = (
    "listen",
    "web_config_file",
    "per_batch",
    "metric_allowlist",
    "metric_denylist",
    "max_label_values",
    "enable_lifecycle",
)


def _parse_metrics(raw: object, problems: Problems) -> MetricsConfig:
    sec = Table("metrics", raw, METRICS_KEYS, problems)
    host, port = parse_listen(sec.get("listen", str, f"127.0.0.1:{DEFAULT_PORT}"))
    values = problems.values(
        web_config_file=lambda: sec.get("web_config_file", str, ""),
        per_batch=lambda: choice(sec, "per_batch", PER_BATCH_MODES, "compact"),
        metric_allowlist=lambda: _patterns(sec, "metric_allowlist"),
        metric_denylist=lambda: _patterns(sec, "metric_denylist"),
        max_label_values=lambda: positive_int(sec, "max_label_values", 1000),
        enable_lifecycle=lambda: sec.get("enable_lifecycle", bool, False),
    )
    if values.get("metric_allowlist") and values.get("metric_denylist"):
        problems.add(ConfigError(sec.key("metric_denylist"), "cannot be set with metric_allowlist (one or the other)"))
    return MetricsConfig(host=host, port=port, **values)


def _patterns(sec: Table, key: str) -> tuple[str, ...]:
    """A list of regular expressions, each checked to compile."""
    items = sec.get(key, list, [])
    for n, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{sec.key(key)}[{n}]", "must be a non-empty string")
        try:
            re.compile(item)
        except re.error as exc:
            raise ConfigError(f"{sec.key(key)}[{n}]", f"is not a regular expression: {exc}") from None
    return tuple(items)


def _parse_state(raw: object, problems: Problems) -> StateConfig:
    sec = Table("state", raw, {"path", "lock_wait_seconds"}, problems)
    return StateConfig(
        **problems.values(
            path=lambda: sec.get("path", str, ""),
            lock_wait_seconds=lambda: seconds(sec, "lock_wait_seconds", 30.0),
        )
    )


def _parse_record(raw: object, problems: Problems) -> RecordConfig:
    sec = Table("record", raw, {"path", "max_bytes", "files"}, problems)
    return RecordConfig(
        **problems.values(
            path=lambda: sec.get("path", str, ""),
            max_bytes=lambda: _at_least(sec, "max_bytes", 64 * 1024 * 1024, 64 * 1024),
            files=lambda: positive_int(sec, "files", 3),
        )
    )


EVENTS_KEYS = ("format", "level", "time", "include_req_body", "buffer_lines", "buffer_bytes")


def _parse_events(raw: object, problems: Problems) -> EventsConfig:
    sec = Table(
        "events", raw, {"format", "level", "time", "include_req_body", "buffer_lines", "buffer_bytes"}, problems
    )
    return EventsConfig(
        **problems.values(
            format=lambda: choice(sec, "format", FORMATS, "auto"),
            level=lambda: choice(sec, "level", LEVELS, "info"),
            time=lambda: choice(sec, "time", EVENT_TIMES, "local"),
            include_req_body=lambda: sec.get("include_req_body", bool, False),
            buffer_lines=lambda: positive_int(sec, "buffer_lines", 10_000),
            buffer_bytes=lambda: _at_least(sec, "buffer_bytes", 32 * 1024 * 1024, 64 * 1024),
        )
    )


SECTIONS = ("api", "auth", "watch", "metrics", "state", "events", "discovery", "status", "record")


def parse_time_ms(text: str) -> int | None:
    """An RFC 3339 time as epoch milliseconds; None for an empty string. Raises ValueError."""
    if not text:
        return None
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-01-31T00:00:00Z")
    return int(stamp.timestamp() * 1000)


DISCOVERY_KEYS = ("enabled", "queues", "job_name", "owner", "created_after", "max_batches", "interval_seconds")


def _queues(sec: Table) -> tuple[str, ...]:
    queues = sec.get("queues", list, [])
    for n, item in enumerate(queues):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{sec.key('queues')}[{n}]", "must be a non-empty string")
    return tuple(queues)


def _created_after(sec: Table) -> int | None:
    try:
        return parse_time_ms(sec.get("created_after", str, ""))
    except ValueError as exc:
        raise ConfigError(sec.key("created_after"), f"must be an RFC 3339 time: {exc}") from None


def _parse_discovery(raw: object, problems: Problems) -> DiscoveryConfig:
    sec = Table("discovery", raw, DISCOVERY_KEYS, problems)
    return DiscoveryConfig(
        **problems.values(
            enabled=lambda: sec.get("enabled", bool, False),
            queues=lambda: _queues(sec),
            job_name=lambda: sec.get("job_name", str, ""),
            owner=lambda: sec.get("owner", str, ""),
            created_after_ms=lambda: _created_after(sec),
            max_batches=lambda: positive_int(sec, "max_batches", 1000),
            interval_seconds=lambda: seconds(sec, "interval_seconds", 60.0),
        )
    )


def parse(data: Mapping[str, Any], env: Env, problems: Problems | None = None, *, offline: bool = False) -> Config:
    """Validate a parsed TOML document; raises ConfigError naming the first bad key unless ``problems`` collects.

    ``offline`` validates without the environment's secrets and without reading the files the config
    names (batch IDs, CA and client certificates), which live where the watcher runs.
    """
    problems = Problems() if problems is None else problems
    for key in data:
        if key not in SECTIONS:
            problems.add(ConfigError(key, "unknown section" + did_you_mean(key, SECTIONS)))
    if "api" not in data:
        problems.add(ConfigError("api.endpoint", "is required (the [api] section is missing)"))
    api = (
        problems.section(lambda: _parse_api(data["api"], env, problems, offline=offline), ApiConfig)
        if "api" in data
        else ApiConfig()
    )

    def part(name: str, build: Callable[[object], T], fallback: Callable[[], T]) -> T:
        return problems.section(lambda: build(data.get(name, {})), fallback)

    flavor, endpoint = api.flavor, api.endpoint
    return Config(
        api=api,
        auth=part("auth", lambda raw: parse_auth(raw, flavor, endpoint, env, problems, offline=offline), AuthConfig),
        watch=part("watch", lambda raw: _parse_watch(raw, flavor, env, problems, offline=offline), WatchConfig),
        metrics=part("metrics", lambda raw: _parse_metrics(raw, problems), MetricsConfig),
        state=part("state", lambda raw: _parse_state(raw, problems), StateConfig),
        events=part("events", lambda raw: _parse_events(raw, problems), EventsConfig),
        discovery=part("discovery", lambda raw: _parse_discovery(raw, problems), DiscoveryConfig),
        status=part("status", lambda raw: parse_status(raw, problems), StatusConfig),
        record=part("record", lambda raw: _parse_record(raw, problems), RecordConfig),
    )


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The TOML document at ``path``; a file that cannot be read or parsed is a ConfigError on ``--config``."""
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("--config", f"{path} is not UTF-8 text") from None


def load(path: str | os.PathLike[str], env: Env | None = None) -> Config:
    """Read and validate a TOML config file; raises the first ConfigError."""
    return parse(read_document(path), os.environ if env is None else env)


def load_all(path: str | os.PathLike[str], env: Env, *, offline: bool = False) -> tuple[Config, list[ConfigError]]:
    """Read and validate a config file, collecting every problem; the Config holds defaults where they were."""
    problems = Problems(collect=True)
    config = problems.section(lambda: parse(read_document(path), env, problems, offline=offline), Config)
    return config, problems.found


def default_path(env: Env) -> str:
    """``$DLI_WATCHER_CONFIG``, else the system-wide default."""
    return env.get("DLI_WATCHER_CONFIG") or DEFAULT_PATH
