"""The watcher's words as Literal types mypy can check, each defined once, with the tuples code iterates."""

from __future__ import annotations

from typing import Final, Literal, get_args

FlavorName = Literal["dli", "livy"]
Transport = Literal["aiohttp", "httpx"]
Mode = Literal["details", "list"]
ShardBy = Literal["id", "queue"]  # watch.shard_by: what the shard hash is taken of
AuthMethod = Literal["aksk", "token", "password", "none"]
Level = Literal["debug", "info", "warning", "error"]
# console: the readable format's earlier name; auto: readable on a terminal, else json
Format = Literal["json", "ecs", "readable", "console", "auto"]
# how the readable format shows times: the machine's zone with its offset, or UTC with a Z
EventTime = Literal["local", "utc"]
Presence = Literal["pending", "present", "not_found", "gone"]
# the API requests the watcher makes, as its self-metrics and watcher.ready count them
Endpoint = Literal["list", "details", "log"]
# the per-batch metric families: compact (at most 4 series a batch: info, the current state, since when,
# the watch status), or today's full families for all batches, the unfinished ones, or none (aggregates only)
PerBatch = Literal["compact", "all", "active", "none"]
PagesMode = Literal["auto", "on", "off"]  # status.pages: who sees the status pages
EventName = Literal[
    "batch.discovered",
    "batch.state_changed",
    "batch.finished",
    "batch.outcome",
    "batch.log",
    "batch.log_gap",
    "batch.log_unavailable",
    "batch.changed",
    "batch.unknown_state",
    "batch.field_repaired",
    "batch.gone",
    "batch.not_found",
    "batch.poll_failed",
    "batch.poll_recovered",
    "watcher.started",
    "watcher.ready",
    "watcher.stopped",
    "watcher.crashed",
    "watcher.internal_error",
    "watcher.reloaded",
    "watcher.reload_failed",
    "watcher.state_reset",
    "watcher.state_row_skipped",
    "watcher.recording_stopped",
    "watcher.state_locked",
    "watcher.deprecated_key",
    "watcher.state_write_failed",
    "watcher.state_write_recovered",
    "watcher.output_stalled",
    "watcher.output_resumed",
    "watcher.discovery_failed",
    "watcher.nothing_to_watch",
    "watcher.credentials_rejected",
    "watcher.all_not_found",
    "watcher.metrics_slow",
]

FLAVORS: Final[tuple[FlavorName, ...]] = get_args(FlavorName)
TRANSPORTS: Final[tuple[Transport, ...]] = get_args(Transport)
MODES: Final[tuple[Mode, ...]] = get_args(Mode)
SHARD_BY: Final[tuple[ShardBy, ...]] = get_args(ShardBy)
PER_BATCH_MODES: Final[tuple[PerBatch, ...]] = get_args(PerBatch)
PAGES_MODES: Final[tuple[PagesMode, ...]] = get_args(PagesMode)
AUTH_METHODS: Final[tuple[AuthMethod, ...]] = get_args(AuthMethod)
LEVELS: Final[tuple[Level, ...]] = get_args(Level)
FORMATS: Final[tuple[Format, ...]] = get_args(Format)
EVENT_TIMES: Final[tuple[EventTime, ...]] = get_args(EventTime)
ENDPOINTS: Final[tuple[Endpoint, ...]] = get_args(Endpoint)
# every event name; the metrics pre-fill their counters from it
EVENT_NAMES: Final[tuple[EventName, ...]] = get_args(EventName)
