"""The cost of a start, by hand: the real daemon's first cycle, cold (no state file), against the simulator.

    python tests/bench/first_cycle.py [--batches 10000,100000] [--queues 1,5] [--no-details] [--warm]
                                      [--json out.json]

For each N and number of queues it starts a simulator process with N running batches dealt over
the queues (server.py), then ``dli-watcher run`` in list mode with a fresh config and no state
file, and reads its stdout until ``watcher.ready``. Each row has the requests by endpoint (as the
watcher counted them in watcher.ready, and as the server served them by then), the seconds from
the process start to readiness and from the first API request to readiness (a list cycle first
waits for its aligned slot), the watcher's CPU seconds, and the issue's budget of
ceil(N / page_size) x 1.2 list requests. Detail polling of the same N runs in the same session
(one queue: queues do not matter to it) as the baseline the ratios are taken against. With
``--warm``, list mode also restarts with a state file (a first run fills it, the second is measured).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
from run import ENV, ROOT, Server, say, short

PAGE_SIZE = 100  # watch.list_page_size's default
CONCURRENCY = 16  # watch.concurrency's default
INTERVAL = 15.0  # watch.interval_seconds's default
BUDGET_FACTOR = 1.2
READY_TIMEOUT = 900.0


@dataclass(frozen=True)
class Case:
    """One run: how many batches over how many queues, polled how."""

    batches: int
    queues: int
    mode: str
    warm: bool = False  # restarted with a state file a previous run filled

    @property
    def label(self) -> str:
        """The mode, and whether the start was warm."""
        return f"{self.mode}+state" if self.warm else self.mode


def config_text(
    server: Server,
    mode: str,
    state: str = "",
    *,
    page_size: int = PAGE_SIZE,
    max_pages: int | None = None,
    interval: float = INTERVAL,
    listen: str = "127.0.0.1:0",
) -> str:
    """A config watching the server's batches: auth none, JSON events, a state file or none (fleet.py's too)."""
    pages = "" if max_pages is None else f"max_list_pages = {max_pages}\n"
    return f"""
[api]
endpoint = "{server.url}"
project_id = "{server.project_id}"

[auth]
method = "none"

[watch]
batch_ids_file = "{server.ids_file}"
mode = "{mode}"
list_page_size = {page_size}
{pages}concurrency = {CONCURRENCY}
interval_seconds = {interval}

[metrics]
listen = "{listen}"

[events]
format = "json"

[state]
path = "{state}"
"""


class Reader:
    """Drains the watcher's stdout in a thread (a reader that lags would hold its polls) and catches watcher.ready."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.ready = threading.Event()
        self.fields: dict[str, Any] = {}
        self.at = 0.0
        self.lines = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.lines += 1
            if not self.ready.is_set() and b'"watcher.ready"' in line:
                self.at = time.time()
                self.fields = json.loads(line)
                self.ready.set()

    def join(self) -> None:
        """Wait until the watcher closed its stdout."""
        self._thread.join(timeout=60)


def run_case(server: Server, case: Case) -> dict[str, Any]:
    """Start the watcher (warm: a second time, over the state file of a first run), wait for watcher.ready, measure."""
    with tempfile.TemporaryDirectory(prefix="bench-first-cycle-") as tmp:
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(config_text(server, case.mode, str(Path(tmp) / "state.db") if case.warm else ""))
        if case.warm:
            start_watcher(server, case, cfg)
        return start_watcher(server, case, cfg)


def start_watcher(server: Server, case: Case, cfg: Path) -> dict[str, Any]:
    """One watcher process from start to watcher.ready; stopped with SIGTERM once measured."""
    before = server.stats()
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=ENV,
    )
    assert proc.stdout is not None
    reader = Reader(proc.stdout)
    try:
        if not reader.ready.wait(READY_TIMEOUT):
            raise TimeoutError(f"{case}: no watcher.ready within {READY_TIMEOUT:.0f} s")
        after = server.stats()
        cpu = psutil.Process(proc.pid).cpu_times()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        reader.join()
    served = {r: after["requests"].get(r, 0) - before["requests"].get(r, 0) for r in ("list", "details", "log")}
    first = after["first_request"] or started
    return {
        "batches": case.batches,
        "queues": case.queues,
        "mode": case.label,
        "ready": reader.fields,
        "served_by_ready": served,
        "to_ready_s": reader.at - started,
        "cycle_s": reader.at - first,
        "watcher_cpu_s": cpu.user + cpu.system,
        "event_lines": reader.lines,
        "list_budget": math.ceil(case.batches / PAGE_SIZE) * BUDGET_FACTOR,
    }


def requests(row: dict[str, Any]) -> int:
    """Every API request the first cycle took, as the watcher counted them."""
    ready = row["ready"]
    return int(ready["list_requests"] + ready["details_requests"] + ready["log_requests"])


def table(rows: list[dict[str, Any]]) -> str:
    """One line per run; list rows carry ratios against the detail row of the same N."""
    head = (
        f"{'mode':<11}{'N':>6}{'queues':>7}{'list':>7}{'details':>9}{'log':>5}{'budget':>8}"
        f"{'to ready s':>11}{'cycle s':>9}{'CPU s':>7}{'x req':>8}{'x ready':>9}"
    )
    out = [head, "-" * len(head)]
    base = {r["batches"]: r for r in rows if r["mode"] == "details"}
    for r in rows:
        ready, b = r["ready"], base.get(r["batches"])
        ratio_req = f"{requests(r) / requests(b):.4f}" if b and r is not b else "-"
        ratio_ready = f"{r['to_ready_s'] / b['to_ready_s']:.2f}" if b and r is not b else "-"
        budget = f"{r['list_budget']:.0f}" if r["mode"].startswith("list") else "-"
        out.append(
            f"{r['mode']:<11}{short(r['batches']):>6}{r['queues']:>7}{ready['list_requests']:>7}"
            f"{ready['details_requests']:>9}{ready['log_requests']:>5}{budget:>8}{r['to_ready_s']:>11.1f}"
            f"{r['cycle_s']:>9.1f}{r['watcher_cpu_s']:>7.1f}{ratio_req:>8}{ratio_ready:>9}"
        )
    return "\n".join(out)


def main() -> int:
    """Run every case, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="10000,100000", help="comma-separated N values")
    parser.add_argument("--queues", default="1,5", help="comma-separated numbers of queues (list mode)")
    parser.add_argument("--no-details", action="store_true", help="skip the detail-polling baseline")
    parser.add_argument("--warm", action="store_true", help="also restart list mode with a filled state file")
    parser.add_argument("--json", default="bench-first-cycle.json", help="where to write every measurement")
    args = parser.parse_args()
    sizes = [int(x) for x in args.batches.split(",") if x]
    queue_counts = [int(x) for x in args.queues.split(",") if x]
    report: dict[str, Any] = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "rows": []}
    t0 = time.monotonic()
    for n in sizes:
        cases = [] if args.no_details else [Case(n, 1, "details")]
        cases += [Case(n, q, "list") for q in queue_counts]
        cases += [Case(n, q, "list", warm=True) for q in queue_counts if args.warm]
        for queues in sorted({c.queues for c in cases}):
            say(f"N={n}, {queues} queue(s): starting the simulator")
            server = Server(n, extra=("--queues", str(queues)))
            try:
                for case in (c for c in cases if c.queues == queues):
                    say(f"  {case.mode}: cold start")
                    row = run_case(server, case)
                    say(f"    ready after {row['to_ready_s']:.1f} s: {row['ready']}")
                    report["rows"].append(row)
            finally:
                server.close()
    report["seconds"] = time.monotonic() - t0
    report["load_after"] = os.getloadavg()
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report["rows"]))
    load = ", ".join(f"{x:.2f}" for x in report["load_after"])
    print(f"\n{report['seconds']:.0f} s on {report['cpus']} CPUs, load average after: {load}; all in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
