"""``dli-watcher check``: the preflight. Validate the config, look at what ``run`` needs, read each batch once.

Offline it validates the file alone (no secrets, files or network), reporting every problem at
once. Online it also resolves credentials, proxies and CAs, checks the state file and the metrics
address, reads each batch (and the list endpoint for discovery), all within one deadline.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from watcher.api.http import open_api, routes
from watcher.api.policy import RequestPolicy
from watcher.api.tls import ssl_context
from watcher.commands.preflight import Finding, listen_address, state_file, status_pages, watch_set
from watcher.config.problems import Problems
from watcher.config.settings import load_all
from watcher.core.events import rfc3339_millis
from watcher.core.plural import plural
from watcher.core.printable import printable
from watcher.daemon.discovery import to_watch
from watcher.errors import ApiError, AuthError, ConfigError, NotFoundError, TimeoutApiError
from watcher.web.webconfig import load_web_config

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from watcher.api.client import BatchApi
    from watcher.config.settings import Config
    from watcher.core.model import Snapshot

NOTHING_TO_WATCH = "nothing to watch: list batch IDs here, or set watch.batch_ids_file or discovery.enabled"


@dataclass(frozen=True, slots=True)
class Row:
    """One batch's outcome: its snapshot, or the error that stopped us reading it."""

    batch_id: str
    snapshot: Snapshot | None = None
    error: ApiError | None = None

    def as_dict(self) -> dict[str, object]:
        """The row as JSON-ready fields."""
        snap, err = self.snapshot, self.error
        return {
            "batch_id": self.batch_id,
            "ok": snap is not None,
            "state": snap.state if snap else None,
            "job_name": snap.name if snap else None,
            "queue": snap.queue if snap else None,
            "update_time": rfc3339_millis(snap.update_time) if snap else None,
            "error": f"{_reason(err)}: {err.message}" if err else None,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``check`` found: the preflight findings and one row per batch."""

    findings: list[Finding] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No finding failed and every batch was read."""
        return all(f.status != "failed" for f in self.findings) and all(r.snapshot is not None for r in self.rows)

    def errors(self) -> list[ApiError]:
        """Every API error, from the batches and the findings."""
        return [e for e in [*(r.error for r in self.rows), *(f.error for f in self.findings)] if e is not None]


def _reason(err: ApiError) -> str:
    """The poll_failed reason, but naming not-found plainly: it is the usual typo in a batch ID."""
    return "not_found" if isinstance(err, NotFoundError) else err.reason


# --- the config --------------------------------------------------------------------------------------


def validate(path: str, env: Mapping[str, str], *, offline: bool) -> tuple[Config, list[ConfigError]]:
    """The config and every problem with it; online also the proxies and TLS files it leads to."""
    cfg, found = load_all(path, env, offline=offline)
    if not any(p.key.startswith(("watch", "discovery", "--config")) for p in found):
        watch = cfg.watch
        if not watch.batch_ids and not watch.batch_ids_file and not cfg.discovery.enabled:
            found.append(ConfigError("watch.batch_ids", NOTHING_TO_WATCH))
    if not offline and not any(p.key.startswith(("api", "auth", "--config")) for p in found):
        problems = Problems(collect=True)
        with problems.guard():
            routes(cfg, env)
        with problems.guard():
            ssl_context(cfg.api, env)
        found += problems.found
    if not offline and not any(p.key.startswith(("metrics", "--config")) for p in found):
        # the web config and its certificates live where the watcher runs: read them online only
        problems = Problems(collect=True)
        with problems.guard():
            load_web_config(cfg.metrics.web_config_file)
        found += problems.found
    return cfg, found


def offline_report(cfg: Config, path: str) -> Report:
    """What an offline check can say of a valid file, and what it left for the online one."""
    watch = cfg.watch
    what = [f"{len(watch.batch_ids)} batch IDs"]
    if watch.batch_ids_file:
        what.append(f"file {watch.batch_ids_file} (not read offline)")
    if cfg.discovery.enabled:
        what.append("discovery")
    untested = "secrets, files it names, proxies, the state file, the metrics address and the API"
    return Report(
        [
            Finding("config", "ok", f"{path} is valid"),
            *deprecations(cfg),
            Finding("watch", "ok", ", ".join(what)),
            Finding("online", "skipped", f"offline: not checked: {untested}"),
        ]
    )


def deprecations(cfg: Config) -> list[Finding]:
    """A warning per key the file gives by an old name (it works; the daemon says it as watcher.deprecated_key)."""
    return [Finding("deprecated", "warning", old.message) for old in cfg.deprecated]


# --- online ------------------------------------------------------------------------------------------


async def check(cfg: Config, path: str, *, deadline: float, env: Mapping[str, str]) -> Report:
    """Every local finding, then the API (batches, discovery or the list endpoint) within ``deadline`` seconds."""
    api_route, iam_route = routes(cfg, env)
    via = f"API {api_route.target} {api_route.describe()}"
    if iam_route is not None:
        via += f"; IAM {iam_route.target} {iam_route.describe()}"
    findings = [
        Finding("config", "ok", f"{path} is valid"),
        *deprecations(cfg),
        watch_set(cfg),
        Finding("route", "ok", via),
        state_file(cfg.state.path),
        await listen_address(cfg.metrics),
        status_pages(cfg),
    ]
    rows, online = await _online(cfg, deadline, env)
    return Report(findings + online, rows)


async def _online(cfg: Config, deadline: float, env: Mapping[str, str]) -> tuple[list[Row], list[Finding]]:
    """Read every batch once, concurrently, with the daemon's retries; the list endpoint when needed."""
    rows: dict[str, Row] = {}
    found: list[Finding] = []
    policy = RequestPolicy(cfg.api, cfg.watch.concurrency)
    ids = cfg.watch.batch_ids
    async with open_api(cfg, env) as api:

        async def one(bid: str) -> None:
            try:
                rows[bid] = Row(bid, snapshot=await policy.call(lambda: api.details(bid)))
            except ApiError as exc:
                rows[bid] = Row(bid, error=exc)

        async def listing() -> None:
            found.append(await _listing(cfg, api, policy))

        # one deadline for the whole: retries of a server that drips a byte a second must not outlast it
        with anyio.move_on_after(deadline) as scope:
            async with anyio.create_task_group() as tg:
                for bid in ids:
                    tg.start_soon(one, bid)
                if cfg.discovery.enabled or not ids:
                    tg.start_soon(listing)
    if scope.cancelled_caught:
        late = TimeoutApiError(f"no answer within the {deadline:g} s deadline (check --deadline)")
        found.append(Finding("deadline", "failed", f"the API checks did not finish within {deadline:g} s", late))
        if (cfg.discovery.enabled or not ids) and not any(f.name in ("discovery", "api") for f in found):
            found.append(Finding("discovery" if cfg.discovery.enabled else "api", "failed", late.message, late))
    else:
        late = TimeoutApiError("not read")
    return [rows.get(b) or Row(b, error=late) for b in ids], found


async def _listing(cfg: Config, api: BatchApi, policy: RequestPolicy) -> Finding:
    """Discovery's listing as a ``run`` cycle does it, or with nothing to watch yet, one page (reachable, allowed)."""
    try:
        if cfg.discovery.enabled:
            found = await to_watch(api, policy, cfg, time.time())
            return Finding(
                "discovery", "ok", f"the list endpoint answered; discovery would watch {plural(len(found), 'batch')}"
            )
        page = await policy.call(lambda: api.list(0, 1))
    except ApiError as exc:
        name = "discovery" if cfg.discovery.enabled else "api"
        return Finding(name, "failed", f"list endpoint: {_reason(exc)}: {exc.message}", exc)
    return Finding("api", "ok", f"the list endpoint answered ({plural(page.total, 'batch')})")


# --- output ------------------------------------------------------------------------------------------


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Fixed-width columns, the last one left ragged."""
    fixed = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(fixed)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:fixed], widths, strict=True)) + "  " + row[fixed]
        for row in rows
    ]


def render_table(report: Report) -> str:
    """The findings, then the batches, as tables for people."""
    found = ((f.name, f.status, printable(f.detail)) for f in report.findings)
    out = _columns([("CHECK", "RESULT", "DETAIL"), *found])
    if report.rows:
        header = ("BATCH", "STATE", "JOB", "QUEUE", "UPDATED / ERROR")
        body = [
            (
                r.batch_id,
                str(d["state"] or "-"),
                str(d["job_name"] or "-"),
                str(d["queue"] or "-"),
                str(d["update_time"] or "-") if r.snapshot else str(d["error"]),
            )
            for r in report.rows
            for d in [r.as_dict()]
        ]
        out += ["", *_columns([header, *(tuple(printable(cell) for cell in row) for row in body)])]
    return "\n".join(out)


def render_json(report: Report) -> str:
    """The report as one JSON object: ``ok``, ``checks`` and ``batches``."""
    body = {
        "ok": report.ok,
        "checks": [f.as_dict() for f in report.findings],
        "batches": [r.as_dict() for r in report.rows],
    }
    return json.dumps(body, indent=2)


def render_problems_json(problems: Sequence[ConfigError]) -> str:
    """Config problems as JSON, for ``--json``."""
    return json.dumps({"ok": False, "problems": [{"key": p.key, "problem": p.problem} for p in problems]}, indent=2)


def auth_failure(report: Report) -> AuthError | None:
    """The auth error, when credentials (not the batches) are the problem."""
    errors = report.errors()
    # An AuthError without a 4xx status is IAM being unreachable or failing, not a refusal.
    refused = [e for e in errors if isinstance(e, AuthError) and e.status_code and e.status_code < 500]
    if errors and len(refused) == len(errors):
        return refused[0]
    return None
