"""Promtool unit tests generated from the default (compact) exposition of N batches: the per-batch alerts fire.

The input series are exactly what ``BatchText`` renders for N batches (plus the job and instance
labels a scrape adds), held for 7 hours. A fixed share of the batches is stuck starting, running too
long, failing or not found; the rest run normally. ``promtool test rules`` then checks, at 6h45m,
that every batch of each kind fires its alert and that no other (alert, batch) pair fires.

The series go to promtool in files of GROUP batches: promtool's test engine refuses a query that
loads more than 10,000 samples (a real Prometheus allows 50 million by default), and the per-batch
alerts join three series per batch, so one file holds at most about 3,300 batches. The per-batch
alerts match series of one batch only, so splitting the fleet by batch changes no result.

By hand at fleet size: ``python -m tests.alerts_at_scale --batches 100000`` (prints promtool's time).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
STEPS = HOURS * 60 // STEP_MINUTES
EVAL = "6h45m"
GROUP = 2000  # batches per promtool file: 3 joined series each stay under its 10,000-sample limit
UP = {"series": 'up{job="dli-watcher",instance="w1:19847"}', "values": f"1x{STEPS}"}
BATCH_ID = re.compile(r'batch_id="([^"]*)"')
# distinct batches firing each alert, by the kind their ID starts with: any unexpected pair is an extra sample
FIRING_BY_KIND = (
    "count by (alertname, role) (label_replace("
    'count by (alertname, batch_id) (ALERTS{alertstate="firing"}), "role", "$1", "batch_id", "([a-z]+)-.*"))'
)


def kind_of(i: int) -> str:
    """What batch ``i`` does: one of KINDS, else "ok"."""
    return KINDS.get(i % EVERY, "ok")


def fleet(n: int, *, rogue: int | None = None) -> list[Track]:
    """N tracks, their times on promtool's clock (which starts at 0); batch ``rogue`` is stuck under an ok ID."""
    tracks = []
    for i in range(n):
        kind = kind_of(i)
        bid = f"{kind}-{i:06d}"
        if kind == "missing":
            tracks.append(Track(bid, presence="not_found", up=True))
            continue
        if i == rogue:
            kind = "stuck"
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
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {"job": "dli-watcher", "instance": "w1:19847", **sample.labels}
            body = ",".join(f'{k}="{v}"' for k, v in labels.items())
            value = int(sample.value) if float(sample.value).is_integer() else sample.value
            out.append({"series": f"{sample.name}{{{body}}}", "values": f"{value}x{STEPS}"})
    return out


def split(series: list[dict[str, str]], size: int) -> list[list[dict[str, str]]]:
    """The series in groups of ``size`` batches (all of a batch's series in one group), ``up`` in every group."""
    by_batch: dict[str, list[dict[str, str]]] = {}
    for item in series:
        match = BATCH_ID.search(item["series"])
        by_batch.setdefault(match.group(1) if match else "", []).append(item)
    shared = [UP, *by_batch.pop("", [])]
    ids = list(by_batch)
    return [shared + [s for bid in ids[i : i + size] for s in by_batch[bid]] for i in range(0, len(ids), size)]


def expected(series: list[dict[str, str]]) -> list[dict[str, object]]:
    """One sample per (alert, kind of batch) that must fire: the count of distinct batches of that kind."""
    ids = {m.group(1) for item in series if (m := BATCH_ID.search(item["series"]))}
    counts = Counter(bid.split("-", 1)[0] for bid in ids)
    return [
        {"labels": f'{{alertname="{ALERT_OF[k]}",role="{k}"}}', "value": counts[k]}
        for k in sorted(KINDS.values())
        if counts[k]
    ]


def group(series: list[dict[str, str]]) -> dict[str, object]:
    """One promtool test group: these series, and exactly the expected alerts firing at EVAL."""
    return {
        "interval": f"{STEP_MINUTES}m",
        "input_series": series,
        "promql_expr_test": [{"expr": FIRING_BY_KIND, "eval_time": EVAL, "exp_samples": expected(series)}],
    }


def unit_tests(series: list[dict[str, str]]) -> dict[str, object]:
    """The promtool unit-test document for one group of series."""
    return {"rule_files": [str(ALERTS)], "evaluation_interval": f"{STEP_MINUTES}m", "tests": [group(series)]}


def run_file(path: Path) -> tuple[int, str]:
    """``promtool test rules`` on one file: its exit code and output."""
    command = [promtool(), "test", "rules", path.name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False, cwd=path.parent)
    return result.returncode, result.stdout + result.stderr


def check(
    n: int, workdir: Path, *, rogue: int | None = None, jobs: int = 1, group_size: int = GROUP
) -> tuple[int, str, float]:
    """Write the tests for N batches in files of ``group_size`` batches and run promtool on them, ``jobs`` at a time.

    Returns the worst exit code, the output of the files that failed (else of the first) and the wall
    seconds. ``rogue`` makes that normal batch stuck starting without saying so: the tests must then fail.
    """
    series = split(series_of(exposed(fleet(n, rogue=rogue))), group_size)
    paths = []
    for index, chunk in enumerate(series):
        path = workdir / f"alerts_at_scale_{index:03d}_test.yml"
        # JSON is YAML to promtool, and writes 100 times faster than PyYAML
        path.write_text(json.dumps(unit_tests(chunk), indent=1))
        paths.append(path)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(run_file, paths))
    seconds = time.monotonic() - start
    failed = [output for code, output in results if code != 0]
    return max(code for code, _ in results), "\n".join(failed or [results[0][1]]), seconds


def main() -> int:
    """Generate and run the tests at the given size; print promtool's verdict and time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="promtool processes at once")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="alerts-at-scale-"))
    try:
        start = time.monotonic()
        code, output, seconds = check(args.batches, workdir, jobs=args.jobs)
        total = time.monotonic() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    files = -(-args.batches // GROUP)
    print(output.strip())
    print(
        f"{args.batches:,} batches in {files} files, {args.jobs} at a time: promtool exit {code} in {seconds:.1f} s"
        f" ({total:.1f} s with generating the files)"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
