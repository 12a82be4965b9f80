"""Checks of deploy/grafana/dashboard.json: structure, SPEC metric names, PromQL syntax via promtool.

``dashboard_queries``, ``concrete`` and ``metric_names`` are meant for reuse (e.g. a live check that
runs every panel query against a Prometheus scraping the demo).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tests.tools import SPEC_SERIES, promtool

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
GRID_WIDTH = 24


# Concrete stand-ins for Grafana's built-in variables.
GRAFANA_MACROS = {
    "__rate_interval": "1m",
    "__interval": "30s",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "30000",
}
DEFAULT_VARIABLE_VALUE = ".*"

_PROMQL_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
        "atan2",
    }
)
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?(\w+)\s*\)\s*$", re.DOTALL)


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    """The dashboard JSON."""
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def variable_query_expr(query: str) -> str:
    """A PromQL expression equivalent to a Prometheus variable query (``label_values(sel, label)``)."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        return query  # query_result(...) and plain expressions are PromQL already
    selector, label = match.groups()
    if not selector:
        selector = "{" + label + '!=""}'
    return f"group by ({label}) ({selector})"


def dashboard_queries(dashboard: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """``(where, PromQL)`` for every panel target and every query variable, before substitution."""
    dashboard = load_dashboard() if dashboard is None else dashboard
    queries = []
    for panel in iter_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            where = f"panel {panel.get('id')} ({panel.get('title')}) target {target.get('refId')}"
            queries.append((where, target.get("expr", "")))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            query = query.get("query", "") if isinstance(query, dict) else query
            queries.append((f"variable {variable['name']}", variable_query_expr(query)))
    return queries


def dashboard_variables(dashboard: Mapping[str, Any] | None = None) -> set[str]:
    """Names of the dashboard's template variables."""
    dashboard = load_dashboard() if dashboard is None else dashboard
    return {variable["name"] for variable in dashboard.get("templating", {}).get("list", [])}


def concrete(expr: str, values: Mapping[str, str] | None = None, known: set[str] | None = None) -> str:
    """The expr with Grafana macros and template variables replaced by concrete values.

    Variables missing from ``values`` become ``.*`` (an "All" selection); a variable that is neither a
    macro nor in ``known`` (default: the dashboard's variables) raises KeyError.
    """
    values = values or {}
    known = dashboard_variables() if known is None else known

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in GRAFANA_MACROS:
            return GRAFANA_MACROS[name]
        if name not in known:
            raise KeyError(f"undefined variable ${name} in {expr!r}")
        return values.get(name, DEFAULT_VARIABLE_VALUE)

    return _VARIABLE.sub(replace, expr)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (a lexical scan: strings, labels, clauses skipped)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])[a-zA-Z_:][\w:]*", text):
        name = match.group()
        if name.lower() in _PROMQL_KEYWORDS or re.match(r"\s*\(", text[match.end() :]):
            continue
        names.add(name)
    return names


def promtool_check_exprs(exprs: list[str], directory: Path) -> subprocess.CompletedProcess[str]:
    """Run `promtool check rules` on a file holding each expr as a recording rule."""
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(exprs)]
    path = directory / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def test_dashboard_has_datasource_and_filter_variables() -> None:
    """Schema version >= 36, a Prometheus datasource variable used everywhere, job and batch filters."""
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"]
    assert dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job_name", "batch_id"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${datasource}"
        assert variables[name]["includeAll"] is True
    for panel in iter_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    """Panel ids are unique, and panels lie inside the 24-column grid without overlapping."""
    panels = list(iter_panels(load_dashboard()["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), ids
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= GRID_WIDTH, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_target_has_an_expr() -> None:
    """Every panel has targets, each with a non-empty expr and a refId unique within the panel."""
    for panel in iter_panels(load_dashboard()["panels"]):
        if panel["type"] == "row":
            continue
        targets = panel["targets"]
        assert targets, panel["title"]
        assert all(target.get("expr", "").strip() for target in targets), panel["title"]
        ref_ids = [target["refId"] for target in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_metric_names_helper() -> None:
    """metric_names finds selected metrics and skips functions, keywords, labels, strings and durations."""
    expr = (
        'histogram_quantile(0.9, sum by (le) (rate(a_bucket{job="x", q=~"b_c|d"}[5m]))) '
        "/ on (instance) group_left (version) b_info and bool c offset 1h unless d:rec[1h:5m] * 1e3"
    )
    assert metric_names(expr) == {"a_bucket", "b_info", "c", "d:rec"}
    assert metric_names('count(x{state="running"} == 1) or vector(0)') == {"x"}


def test_dashboard_uses_only_spec_metrics() -> None:
    """Every metric any query selects is a SPEC §6 metric; together they cover what the panels promise."""
    used: set[str] = set()
    for where, expr in dashboard_queries():
        names = metric_names(concrete(expr))
        assert names, f"{where}: no metric in {expr!r}"
        assert names <= SPEC_SERIES, f"{where}: not in SPEC: {sorted(names - SPEC_SERIES)}"
        used |= names
    assert used >= {
        "dli_batch_state",
        "dli_batch_created_timestamp_seconds",
        "dli_batch_transitions_total",
        "dli_watcher_events_total",
        "dli_watcher_log_gaps_total",
        "dli_watcher_poll_duration_seconds_bucket",
        "dli_watcher_poll_failures_total",
    }


def test_dashboard_has_the_promised_panels() -> None:
    """States, running/failed now, oldest age, transitions, logs, latency, errors, runs, durations, waits, status."""
    exprs = {expr for _, expr in dashboard_queries()}
    joined = "\n".join(exprs)
    assert any("by (state)" in expr and "dli_batch_state" in expr for expr in exprs)
    assert 'state="running"' in joined
    assert re.search(r'state=~"dead\|error', joined)
    assert any("dli_batch_created_timestamp_seconds" in expr and "min(" in expr for expr in exprs)
    assert "rate(dli_batch_transitions_total" in joined
    assert 'dli_watcher_events_total{event="batch.log"}' in joined
    assert "dli_watcher_log_gaps_total" in joined
    assert re.search(r"histogram_quantile\(0\.\d+, sum by \(le\) \(rate\(dli_watcher_poll_duration", joined)
    assert any("by (reason)" in expr and "dli_watcher_poll_failures_total" in expr for expr in exprs)
    assert "sum by (outcome) (increase(dli_job_runs_total" in joined
    assert re.search(
        r"histogram_quantile\(0\.\d+, sum by \(le, queue\) \(rate\(dli_job_duration_seconds_bucket", joined
    )
    assert re.search(r"histogram_quantile\(0\.\d+, sum by \(le, queue\) \(rate\(dli_job_queue_wait_seconds", joined)
    assert "sum by (status) (dli_watcher_batches)" in joined


def test_queries_parse_with_promtool(tmp_path: Path) -> None:
    """Every query, with variables made concrete, is valid PromQL for `promtool check rules`."""
    exprs = [concrete(expr) for _, expr in dashboard_queries()]
    assert not any("$" in expr for expr in exprs)
    result = promtool_check_exprs(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_promtool_rejects_a_broken_query(tmp_path: Path) -> None:
    """The syntax check is live: an unbalanced query makes promtool fail."""
    result = promtool_check_exprs(["sum(rate(dli_watcher_polls_total[1m])"], tmp_path)
    assert result.returncode != 0
