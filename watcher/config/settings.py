"""Configuration: TOML in, a frozen validated Config out; every error names its dotted key."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from watcher.config.batchids import merge_file_ids, parse_batch_ids
from watcher.config.credentials import AuthConfig, parse_auth
from watcher.config.egress import check_tls_combination, no_proxy, proxy_url, tls_path
from watcher.config.keys import (
    Ctx,
    Deprecated,
    Env,
    Parser,
    count,
    duration,
    duration0,
    file_keys,
    flag,
    key,
    key_factory,
    one_of,
    parse_section,
    part_of,
    resolve_aliases,
    text,
)
from watcher.config.problems import Problems
from watcher.config.statuslinks import StatusConfig
from watcher.config.tomltable import Table, did_you_mean, positive_int, url
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
    SHARD_BY,
    TRANSPORTS,
    EventTime,
    FlavorName,
    Format,
    Level,
    Mode,
    PerBatch,
    ShardBy,
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


# Each key's parser: (table, key, default, context) -> value; the keys themselves are declared on the fields below.


def _endpoint(sec: Table, name: str, default: Any, ctx: Ctx) -> str:
    return url(sec, name, required=True)


def _project_id(sec: Table, name: str, default: Any, ctx: Ctx) -> str:
    project_id: str = sec.get(name, str, default)
    if ctx.values.get("flavor", "dli") == "dli" and not PROJECT_RE.fullmatch(project_id):
        problem = "is required for flavor dli" if not project_id else "must be 1-64 letters and digits"
        raise ConfigError(sec.key(name), problem)
    return project_id


def _tls(sec: Table, name: str, default: Any, ctx: Ctx) -> str:
    return tls_path(sec, name, None if ctx.offline else ctx.env)


def _proxy(sec: Table, name: str, default: Any, ctx: Ctx) -> str:
    return proxy_url(sec, name)


def _no_proxy(sec: Table, name: str, default: Any, ctx: Ctx) -> tuple[str, ...]:
    return no_proxy(sec)


def _state_map(sec: Table, name: str, default: Any, ctx: Ctx) -> tuple[tuple[str, str], ...]:
    """``state_map``: states a Livy-compatible server sends that mean a documented one (``finished = "success"``)."""
    mapped: dict[str, str] = {}
    for raw, meant in sec.get(name, dict, {}).items():
        key = f"{sec.key(name)}.{raw}"
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


def _at_least(least: int) -> Parser:
    """An integer of at least ``least`` (a byte cap smaller than that would refuse ordinary answers)."""

    def parse(sec: Table, name: str, default: Any, ctx: Ctx) -> int:
        value = positive_int(sec, name, default)
        if value < least:
            raise ConfigError(sec.key(name), f"must be >= {least}, got {value}")
        return value

    return parse


def _shard(sec: Table, name: str, default: Any, ctx: Ctx) -> Shard:
    text = sec.get(name, str, default)
    if ctx.offline and text.startswith("ordinal/"):
        # the pod's ordinal is only known where it runs: check the rest of the spec with ordinal 0
        text = "0/" + text.removeprefix("ordinal/")
    try:
        return parse_shard(text, ctx.env)
    except ValueError as exc:
        raise ConfigError(sec.key(name), str(exc)) from None


def _shard_by(sec: Table, name: str, default: Any, ctx: Ctx) -> ShardBy:
    value: ShardBy = one_of(SHARD_BY)(sec, name, default, ctx)
    if value == "queue" and (ctx.values.get("batch_ids") or ctx.values.get("batch_ids_file")):
        # a configured ID's queue is unknown until it is read, so its shard could not be chosen
        raise ConfigError(sec.key(name), '"queue" needs discovery: it cannot be set with batch_ids or batch_ids_file')
    if value == "queue" and ctx.flavor != "dli":
        raise ConfigError(sec.key(name), '"queue" needs flavor dli (Livy lists every batch in one read)')
    return value


def check_shard_by(config: Config, problems: Problems) -> None:
    """``shard_by = "queue"`` shards what discovery lists, so discovery must be on."""
    if config.watch.shard_by == "queue" and not config.discovery.enabled:
        problems.add(ConfigError("watch.shard_by", '"queue" needs discovery.enabled = true'))


def _batch_ids(sec: Table, name: str, default: Any, ctx: Ctx) -> tuple[str, ...]:
    """The listed IDs, plus the file's (not read offline: it lives where the watcher runs)."""
    listed = sec.get(name, list, [])
    for n, item in enumerate(listed):
        if not isinstance(item, str):
            raise ConfigError(f"{sec.key(name)}[{n}]", f"must be a string, got {type(item).__name__}")
    ids = parse_batch_ids(listed, ctx.flavor, sec.key(name))
    ids_file = sec.get("batch_ids_file", str, "")
    return merge_file_ids(ids, ids_file, ctx.flavor) if ids_file and not ctx.offline else ids


def _queues(sec: Table, name: str, default: Any, ctx: Ctx) -> tuple[str, ...]:
    queues = sec.get(name, list, [])
    for n, item in enumerate(queues):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{sec.key(name)}[{n}]", "must be a non-empty string")
    return tuple(queues)


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


def _listen(sec: Table, name: str, default: Any, ctx: Ctx) -> tuple[str, int]:
    return parse_listen(sec.get(name, str, default), sec.key(name))


def _patterns(sec: Table, name: str, default: Any, ctx: Ctx) -> tuple[str, ...]:
    """A list of regular expressions, each checked to compile."""
    items = sec.get(name, list, [])
    for n, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{sec.key(name)}[{n}]", "must be a non-empty string")
        try:
            re.compile(item)
        except re.error as exc:
            raise ConfigError(f"{sec.key(name)}[{n}]", f"is not a regular expression: {exc}") from None
    return tuple(items)


def parse_time_ms(text: str) -> int | None:
    """An RFC 3339 time as epoch milliseconds; None for an empty string. Raises ValueError."""
    if not text:
        return None
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-01-31T00:00:00Z")
    return int(stamp.timestamp() * 1000)


def _created_after(sec: Table, name: str, default: Any, ctx: Ctx) -> int | None:
    try:
        return parse_time_ms(sec.get(name, str, default))
    except ValueError as exc:
        raise ConfigError(sec.key(name), f"must be an RFC 3339 time: {exc}") from None


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the batch API lives and how long a request may take."""

    flavor: FlavorName = key("dli", one_of(FLAVORS), "dli (Huawei Cloud DLI) or livy (Apache Livy)", "restart")
    endpoint: str = key("", _endpoint, "the API's base URL (required)", "restart")
    project_id: str = key("", _project_id, "required for dli: 1-64 letters and digits", "restart", late=True)
    timeout_seconds: float = key(10.0, duration, "per request", "applied")
    verify_tls: bool = key(True, flag, "check the server's certificate", "restart")
    ca_file: str = key("", _tls, "PEM bundle replacing the default CAs; relative: in $CREDENTIALS_DIRECTORY", "restart")
    ca_dir: str = key("", _tls, "an OpenSSL hashed directory of CA certificates (c_rehash)", "restart")
    client_cert_file: str = key("", _tls, "PEM client certificate, for gateways that require mutual TLS", "restart")
    client_key_file: str = key("", _tls, "its unencrypted PEM key; empty: the key is in client_cert_file", "restart")
    proxy: str = key("", _proxy, "http://host:port; empty: $HTTPS_PROXY / $HTTP_PROXY / $ALL_PROXY", "restart")
    no_proxy: tuple[str, ...] = key((), _no_proxy, "hosts reached directly, besides those in $NO_PROXY", "restart")
    transport: Transport = key("aiohttp", one_of(TRANSPORTS), "aiohttp (less CPU per request) or httpx", "restart")
    log_endpoint: bool = key(True, flag, "backfill lost log lines from GET .../log", "applied")
    max_attempts: int = key(4, count, "per poll, for timeouts, connect errors, 5xx, 429, APIG.0308", "applied")
    backoff_base_seconds: float = key(0.5, duration, "exponential backoff with full jitter", "applied")
    backoff_max_seconds: float = key(30.0, duration, "the backoff's cap, also on a server's Retry-After", "applied")
    max_response_bytes: int = key(8 * 1024 * 1024, _at_least(64 * 1024), "a larger answer is a failed poll", "applied")
    # (state as the server sends it, normalised; the documented state it means), sorted
    state_map: tuple[tuple[str, str], ...] = key((), _state_map, "a gateway's states to documented ones", "applied")

    @property
    def flavor_spec(self) -> Flavor:
        """What this flavor's API looks like: paths, ID rule, list filters."""
        return BY_NAME[self.flavor]


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Which batches to watch and how often."""

    batch_ids: tuple[str, ...] = key((), _batch_ids, "DLI: UUIDs; Livy: numeric IDs (or session names)", "applied")
    batch_ids_file: str = key("", text, "one ID per line, '#' comments; re-read on SIGHUP", "applied")
    interval_seconds: float = key(15.0, duration, "each batch is polled once per interval", "applied")
    # the connection pool is sized once, at start: raised above the start value it needs a restart
    concurrency: int = key(16, count, "requests in flight at most", "lowered")
    terminal_grace_seconds: float = key(120.0, duration0, "keep polling a finished batch this long", "applied")
    retention_seconds: float = key(3600.0, duration0, "a finished or gone batch leaves /metrics after", "applied")
    not_found_interval_seconds: float = key(300.0, duration, "how often an unknown batch is re-tried", "applied")
    mode: Mode = key("details", one_of(MODES), "details (one request per batch) or list (pages)", "applied")
    list_page_size: int = key(100, count, "batches per list request in list mode", "applied")
    max_list_pages: int = key(1000, count, "pages read per queue and cycle (list mode, discovery)", "applied")
    # list mode: how far back a sweep for never-polled batches reads (0: they are read by details)
    list_lookback: float = key(DEFAULT_LIST_LOOKBACK, duration0, "list mode: age of never-polled batches", "applied")
    # list mode: the queues that sweep reads; empty: discovery's queues when it is on, else every queue
    queues: tuple[str, ...] = key((), _queues, "list mode: the queues the sweep reads", "applied")
    shard: Shard = key_factory(Shard, _shard, "i/n or ordinal/n: watch one shard of the batches", "applied", "")
    # a restart: switching what is hashed mid-run would leave discovery's last IDs sharded the old way
    shard_by: ShardBy = key("id", _shard_by, "id, or queue: whole queues per shard (discovery only)", "restart")


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Where /metrics, /healthz and /readyz are served."""

    host: str = key(
        "127.0.0.1",
        _listen,
        "host:port of /metrics, /healthz, /readyz and the status pages",
        "restart",
        name="listen",
        file_default=f"127.0.0.1:{DEFAULT_PORT}",
        fields=("host", "port"),
        aliases=("web.listen-address",),
    )
    port: int = part_of(DEFAULT_PORT, "host")
    web_config_file: str = key(
        "", text, "TLS and basic auth, exporter-toolkit format", "applied", aliases=("web.config.file",)
    )
    per_batch: PerBatch = key("compact", one_of(PER_BATCH_MODES), "which batches get the per-batch families", "restart")
    # kube-state-metrics' --metric-allowlist / --metric-denylist: regular expressions, one or the other
    metric_allowlist: tuple[str, ...] = key((), _patterns, "families served (regular expressions)", "restart")
    metric_denylist: tuple[str, ...] = key((), _patterns, "families not served (regular expressions)", "restart")
    # distinct values per API-supplied label (job_name, queue, owner, kind, sc_type); more fold into one
    max_label_values: int = key(1000, count, "distinct values per API-supplied label", "restart")
    # Prometheus' --web.enable-lifecycle: POST /-/reload reloads as SIGHUP does (behind the web config's auth)
    enable_lifecycle: bool = key(
        False, flag, "POST /-/reload reloads as SIGHUP does", "applied", aliases=("web.enable-lifecycle",)
    )


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where per-batch state persists; empty path disables persistence."""

    path: str = key("", text, "SQLite file; empty: no persistence", "restart")
    lock_wait_seconds: float = key(30.0, duration, "at start, wait this long for another program's lock", "restart")


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """Where a recording of every API exchange goes (empty: none), and its cap."""

    path: str = key("", text, "a recording of every API exchange; empty: none", "restart")
    max_bytes: int = key(64 * 1024 * 1024, _at_least(64 * 1024), "per recording file", "restart")
    # segments kept, the current one included; 1: recording stops at the cap
    files: int = key(3, count, "recording files kept, the current one included", "restart")


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """How events are rendered on stdout."""

    format: Format = key("auto", one_of(FORMATS), "json, ecs, readable or auto", "restart")
    level: Level = key("info", one_of(LEVELS), "debug, info, warning or error", "applied")
    time: EventTime = key("local", one_of(EVENT_TIMES), "how the readable format shows times", "restart")
    include_req_body: bool = key(False, flag, "add the original request to batch.discovered", "applied")
    buffer_lines: int = key(10_000, count, "event lines queued for a slow stdout reader", "applied")
    # and their bytes: long lines fill memory long before the line count is reached
    buffer_bytes: int = key(32 * 1024 * 1024, _at_least(64 * 1024), "and their bytes", "applied")


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """Which batches to find and watch by themselves, beyond the listed IDs."""

    enabled: bool = key(False, flag, "also watch every listed batch that matches", "applied")
    queues: tuple[str, ...] = key((), _queues, "queue names to look in; empty: every queue", "applied")
    job_name: str = key("", text, "shell-style pattern on the job name; empty: any", "applied")
    owner: str = key("", text, "exact owner; empty: any", "applied")
    # epoch milliseconds, parsed once from the RFC 3339 text
    created_after_ms: int | None = key(
        None, _created_after, "RFC 3339; empty: any time", "applied", name="created_after", file_default=""
    )
    max_batches: int = key(1000, count, "newest matching batches watched at once", "applied")
    interval_seconds: float = key(60.0, duration, "how often to look for new batches", "applied")


SECTION_TYPES: dict[str, type] = {
    "api": ApiConfig,
    "auth": AuthConfig,
    "watch": WatchConfig,
    "metrics": MetricsConfig,
    "state": StateConfig,
    "events": EventsConfig,
    "discovery": DiscoveryConfig,
    "status": StatusConfig,
    "record": RecordConfig,
}
SECTIONS = tuple(SECTION_TYPES)


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
    # keys the file gave by an old name (not a setting: a reload does not compare it)
    deprecated: tuple[Deprecated, ...] = field(default=(), compare=False)


T = TypeVar("T")


def _section(name: str, raw: object, ctx: Ctx, problems: Problems) -> dict[str, Any]:
    cls = SECTION_TYPES[name]
    sec = Table(name, raw, file_keys(cls), problems)
    values = parse_section(sec, cls, ctx, problems)
    if name == "api":
        with problems.guard():
            check_tls_combination(values, sec)
    if name == "metrics" and values.get("metric_allowlist") and values.get("metric_denylist"):
        problems.add(ConfigError(sec.key("metric_denylist"), "cannot be set with metric_allowlist (one or the other)"))
    return values


def parse(data: Mapping[str, Any], env: Env, problems: Problems | None = None, *, offline: bool = False) -> Config:
    """Validate a parsed TOML document; raises ConfigError naming the first bad key unless ``problems`` collects.

    ``offline`` validates without the environment's secrets and without reading the files the config
    names (batch IDs, CA and client certificates), which live where the watcher runs.
    """
    problems = Problems() if problems is None else problems
    config = _parse(data, env, problems, offline=offline)
    check_shard_by(config, problems)
    return config


def _parse(data: Mapping[str, Any], env: Env, problems: Problems, *, offline: bool) -> Config:
    data, deprecated = resolve_aliases(data, SECTION_TYPES, problems)
    for name in data:
        if name not in SECTIONS:
            problems.add(ConfigError(name, "unknown section" + did_you_mean(name, SECTIONS)))
    if "api" not in data:
        problems.add(ConfigError("api.endpoint", "is required (the [api] section is missing)"))

    def part(name: str, build: Callable[[object], T], fallback: Callable[[], T]) -> T:
        return problems.section(lambda: build(data.get(name, {})), fallback)

    def section(name: str, cls: Callable[..., T], flavor: FlavorName = "dli") -> T:
        ctx = Ctx(env, offline, flavor, problems)
        return part(name, lambda raw: cls(**_section(name, raw, ctx, problems)), cls)

    api = section("api", ApiConfig) if "api" in data else ApiConfig()
    flavor, endpoint = api.flavor, api.endpoint
    return Config(
        api=api,
        auth=part("auth", lambda raw: parse_auth(raw, flavor, endpoint, env, problems, offline=offline), AuthConfig),
        watch=section("watch", WatchConfig, flavor),
        metrics=section("metrics", MetricsConfig),
        state=section("state", StateConfig),
        events=section("events", EventsConfig),
        discovery=section("discovery", DiscoveryConfig),
        status=section("status", StatusConfig),
        record=section("record", RecordConfig),
        deprecated=tuple(deprecated),
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
