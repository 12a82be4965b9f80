"""Promtool unit tests generated from the default (compact) exposition of N batches: the per-batch alerts fire.

The input series are exactly what ``BatchText`` renders for N batches (plus the job and instance
labels a scrape adds), held for 7 hours. A fixed share of the batches is stuck starting, running too
long, failing or not found; the rest run normally. ``promtool test rules`` then checks, at 6h45m,
how many of each per-batch alert fire and that no normal batch has one.

By hand at fleet size: ``python -m tests.alerts_at_scale --batches 100000`` (prints promtool's time).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.tools import promtool
from watcher.core.labels import LabelCap
from watcher.core.model import Snapshot
from watcher.core.states import FLAVOR_STATES
from watcher.core.tracker import Track
from watcher.metrics.exposition import BatchText, BatchView

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
EVERY = 100  # one batch in EVERY is stuck starting, one runs too long, one fails, one is not found
KINDS = {0: "stuck", 1: "long", 2: "failing", 3: "missing"}
ALERT_OF = {
    "stuck": "DLIBatchStuckStarting",
    "long": "DLIBatchRunningTooLong",
    "failing": "DLIBatchUnreadable",
    "missing": "DLIBatchNotFound",
}
HOURS = 7
STEP_MINUTES = 15
EVAL = "6h45m"


def kind_of(i: int) -> str:
    """What batch ``i`` does: one of KINDS, else "ok"."""
    return KINDS.get(i % EVERY, "ok")


def fleet(n: int) -> list[Track]:
    """N tracks, their times on promtool's clock (which starts at 0)."""
    tracks = []
    for i in range(n):
        kind = kind_of(i)
        bid = f"{kind}-{i:06d}"
        if kind == "missing":
            tracks.append(Track(bid, presence="not_found", up=True))
            continue
        state = "starting" if kind == "stuck" else "running"
        # normal batches entered their state after the evaluation time: never over a threshold
        since = 0.0 if kind in ("stuck", "long") else 7 * 3600.0
        snap = Snapshot(bid, state, state, name=f"etl-{i % 50}", queue=f"q{i % 4}", owner="o", kind="spark")
        failing = 0.0 if kind == "failing" else None
        tracks.append(Track(bid, snapshot=snap, presence="present", state_since=since, up=True, failing_since=failing))
    return tracks


def exposed(tracks: list[Track]) -> str:
    """The compact per-batch text of the tracks, as /metrics serves it."""
    cap = LabelCap()
    for t in tracks:
        if t.snapshot is not None:
            for label, value in (("job_name", t.snapshot.name), ("queue", t.snapshot.queue)):
                cap.admit(label, value)
    return BatchText(BatchView("compact", FLAVOR_STATES["dli"], labels=cap)).render(tracks, 0.0)


def series_of(text: str) -> list[dict[str, str]]:
    """The input series for promtool, each sample held for the whole test, labelled as the scrape job would."""
    steps = HOURS * 60 // STEP_MINUTES
    out = [{"series": 'up{job="dli-watcher",instance="w1:19847"}', "values": f"1x{steps}"}]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {"job": "dli-watcher", "instance": "w1:19847", **sample.labels}
            body = ",".join(f'{k}="{v}"' for k, v in labels.items())
            value = int(sample.value) if float(sample.value).is_integer() else sample.value
            out.append({"series": f"{sample.name}{{{body}}}", "values": f"{value}x{steps}"})
    return out


def unit_tests(n: int) -> dict[str, object]:
    """The promtool unit-test document for N batches."""
    tracks = fleet(n)
    counts = Counter(kind_of(i) for i in range(n))
    firing = 'ALERTS{alertstate="firing"}'
    normal = 'ALERTS{alertstate="firing",batch_id=~"ok-.*"}'
    expected: list[dict[str, object]] = [
        {"labels": f'{{alertname="{ALERT_OF[k]}"}}', "value": counts[k]} for k in sorted(KINDS.values()) if counts[k]
    ]
    return {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": f"{STEP_MINUTES}m",
        "tests": [
            {
                "interval": f"{STEP_MINUTES}m",
                "input_series": series_of(exposed(tracks)),
                "promql_expr_test": [
                    {
                        "expr": f"count by (alertname) ({firing})",
                        "eval_time": EVAL,
                        "exp_samples": sorted(expected, key=str),
                    },
                    {"expr": f"count({normal})", "eval_time": EVAL, "exp_samples": []},
                ],
            }
        ],
    }


def check(n: int, workdir: Path) -> tuple[int, str, float]:
    """Write the tests for N batches and run promtool on them: its exit code, output and wall seconds."""
    path = workdir / "alerts_at_scale_test.yml"
    path.write_text(yaml.safe_dump(unit_tests(n), sort_keys=False))
    start = time.monotonic()
    command = [promtool(), "test", "rules", path.name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False, cwd=workdir)
    return result.returncode, result.stdout + result.stderr, time.monotonic() - start


def main() -> int:
    """Generate and run the tests at the given size; print promtool's verdict and time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=100_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="alerts-at-scale-"))
    try:
        code, output, seconds = check(args.batches, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(output.strip())
    print(f"{args.batches:,} batches: promtool exit {code} in {seconds:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
