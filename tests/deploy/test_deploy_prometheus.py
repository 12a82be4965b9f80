"""Checks of deploy/prometheus/: alert rules and their unit tests with promtool, the scrape config."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests import alerts_at_scale
from tests.tools import SPEC_SERIES, promtool, require, run

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
SCRAPE_CONFIG = PROMETHEUS_DIR / "prometheus.example.yml"

SEVERITIES = frozenset({"critical", "warning", "info"})
# What the issue asks the rules to cover, by alert name.
REQUIRED_ALERTS = frozenset(
    {
        "DLIJobLastRunFailed",
        "DLIBatchStuckStarting",
        "DLIBatchRunningTooLong",
        "DLIJobNoRecentSuccess",
        "DLIWatcherDown",
        "DLIWatcherAbsent",
        "DLIWatcherNotPolling",
        "DLIWatcherPollErrors",
        "DLIWatcherLogGaps",
        "DLIWatcherConfigReloadFailed",
        "DLIBatchUnreadable",
        "DLIBatchNotFound",
    }
)
MIXIN = ROOT / "deploy" / "mixin"
README = ROOT / "README.md"


def render_alerts(config: str = "{}") -> str:
    """alerts.yml as the mixin renders it, with ``config`` (jsonnet) overriding its parameters."""
    jsonnet = require("jsonnet", "jsonnet")
    result = run(jsonnet, "-S", "--tla-code", f"config={config}", MIXIN / "alerts.jsonnet")
    assert result.returncode == 0, result.stderr
    return result.stdout


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def alert_rules(groups_doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every alerting rule of a rules document, in order."""
    return [rule for group in groups_doc["groups"] for rule in group["rules"] if "alert" in rule]


def duration_seconds(text: str) -> int:
    """Seconds in a Prometheus duration such as ``1h30m`` or ``26h``."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", text)
    assert parts, f"not a duration: {text!r}"
    assert "".join(n + u for n, u in parts) == text, f"not a duration: {text!r}"
    return sum(int(n) * units[u] for n, u in parts)


def test_rules_pass_promtool_check() -> None:
    """`promtool check rules` accepts alerts.yml."""
    result = run(promtool(), "check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_pass() -> None:
    """`promtool test rules alerts_test.yml` passes."""
    result = run(promtool(), "test", "rules", ALERTS_TEST.name, cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_tests_catch_alerts_that_never_fire(tmp_path: Path) -> None:
    """With every alert expression replaced by one that never fires, the unit tests fail for each alert."""
    rules = yaml.safe_load(ALERTS.read_text())
    for rule in alert_rules(rules):
        rule["expr"] = "vector(1) == 0"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    shutil.copy(ALERTS_TEST, tmp_path / ALERTS_TEST.name)
    result = run(promtool(), "test", "rules", ALERTS_TEST.name, cwd=tmp_path)
    assert result.returncode != 0
    failing = set(re.findall(r"alertname: (\w+), time:", result.stdout + result.stderr))
    assert failing == {rule["alert"] for rule in alert_rules(rules)}


def test_every_alert_is_tested_firing_then_clearing() -> None:
    """alerts_test.yml shows each alert not firing, firing, and then cleared again."""
    names = {rule["alert"] for rule in alert_rules(yaml.safe_load(ALERTS.read_text()))}
    assert names >= REQUIRED_ALERTS
    timelines: dict[str, list[tuple[int, bool]]] = {}
    for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            fired = bool(case["exp_alerts"])
            timeline = timelines.setdefault(case["alertname"], [])
            timeline.append((duration_seconds(case["eval_time"]), fired))
    for name in sorted(names):
        timeline = sorted(timelines.get(name, []))
        fired_at = [t for t, fired in timeline if fired]
        assert fired_at, f"{name} is never shown firing"
        assert any(not fired and t < fired_at[0] for t, fired in timeline), f"{name}: no quiet eval before"
        assert any(not fired and t > fired_at[-1] for t, fired in timeline), f"{name}: never shown clearing"


def test_alerts_are_annotated() -> None:
    """Each alert has a severity, a description and a summary naming its batch, job or watcher."""
    for rule in alert_rules(yaml.safe_load(ALERTS.read_text())):
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) >= {"summary", "description"}, rule["alert"]
        assert all(annotations[key].strip() for key in ("summary", "description")), rule["alert"]
        subject = {"DLIBatch": "batch_id", "DLIJob": "job_name", "DLIWatcher": "instance"}
        label = next(label for prefix, label in subject.items() if rule["alert"].startswith(prefix))
        if rule["alert"] != "DLIWatcherAbsent":  # absent() has no instance to name
            assert f"$labels.{label}" in annotations["summary"], rule["alert"]


def test_alerts_use_spec_metric_names() -> None:
    """Every dli_* metric in the rules and their unit tests is one that SPEC §6 defines."""
    text = ALERTS.read_text() + ALERTS_TEST.read_text()
    used = set(re.findall(r"\bdli_[a-z0-9_]+", text))
    assert used, "no dli_* metric found"
    assert used <= SPEC_SERIES, sorted(used - SPEC_SERIES)


def test_example_scrape_config_passes_promtool() -> None:
    """`promtool check config` accepts prometheus.example.yml, which scrapes job dli-watcher on :19847."""
    result = run(promtool(), "check", "config", SCRAPE_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "dli-watcher"]
    targets = [target for static in job["static_configs"] for target in static["targets"]]
    assert targets == ["127.0.0.1:19847"]
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_committed_alerts_are_what_the_mixin_renders() -> None:
    """deploy/prometheus/alerts.yml equals `jsonnet -S deploy/mixin/alerts.jsonnet` (edit the mixin, then render)."""
    assert ALERTS.read_text() == render_alerts()


def test_mixin_parameters_change_the_selector_and_durations() -> None:
    """Overriding _config changes every selector and the for: durations, nothing else is needed."""
    rules = alert_rules(yaml.safe_load(render_alerts('{selector: \'job="dli"\', unreadableFor: "20s"}')))
    by_name = {rule["alert"]: rule for rule in rules}
    assert by_name["DLIBatchUnreadable"]["for"] == "20s"
    assert all('job="dli-watcher"' not in rule["expr"] for rule in rules)
    assert all('job="dli"' in rule["expr"] for rule in rules)


def test_every_alert_links_a_readme_runbook_section() -> None:
    """Each runbook_url ends in the anchor of a README heading named after the alert."""
    anchors = {github_anchor(line.lstrip("#")) for line in README.read_text().splitlines() if line.startswith("#")}
    for rule in alert_rules(yaml.safe_load(ALERTS.read_text())):
        url = rule["annotations"]["runbook_url"]
        assert url.endswith("README.md#" + rule["alert"].lower()), url
        assert rule["alert"].lower() in anchors, f"README has no section {rule['alert']}"


def test_per_batch_alerts_fire_on_the_default_exposition_of_a_fleet(tmp_path: Path) -> None:
    """Promtool tests generated from the compact exposition of 1,000 batches: each per-batch alert fires 10 times."""
    code, output, _ = alerts_at_scale.check(1000, tmp_path)
    assert code == 0, output
    assert "SUCCESS" in output
