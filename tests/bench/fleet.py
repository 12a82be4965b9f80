"""A fleet run in list mode: N running batches (300,000 by default) against one simulator, on one machine.

Run by hand: ``python tests/bench/fleet.py --batches 300000`` (``pip install '.[test,bench]'`` first).
The bench simulator (``server.py``, its own process) serves N running batches with ``--lines``
stdout lines each; a real ``dli-watcher run`` watches them in list mode with page size
``--page-size`` and ``watch.max_list_pages`` set to the pages N needs (ceil(N / page size), plus a
margin), ``--interval`` seconds between cycles. Reported, per N:

- ready: seconds from the start of the process to ``watcher.ready`` (its first cycle);
- CPU per batch-poll over ``--cycles`` steady cycles (the watcher's user + system CPU from psutil,
  divided by the batches the list pages served in that time: list requests x page size), next to
  ``json.loads`` of the same pages in this process (the parse floor), and their ratio;
- RSS after those cycles, in MiB and per batch;
- change-to-event delay: ``--changes`` batches are flipped between running and recovering through the
  simulator's admin API, and the time to each ``batch.state_changed`` on the watcher's stdout is taken
  (p50, p99, max; against the interval, the delay list mode is built for).

Numbers are printed, never asserted. The machine is whatever it is: say what else ran.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
from first_cycle import config_text
from run import ENV, ROOT, Server, say

HERE = Path(__file__).resolve().parent
PORT = 19950


class Events:
    """Drains the watcher's stdout in a thread; notes ``watcher.ready`` and each ``batch.state_changed``'s arrival."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.ready = threading.Event()
        self.ready_at = 0.0
        self.changed: dict[str, float] = {}
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            if b'"batch.state_changed"' in line:
                bid = json.loads(line).get("batch_id")
                self.changed.setdefault(str(bid), time.time())
            elif not self.ready.is_set() and b'"watcher.ready"' in line:
                self.ready_at = time.time()
                self.ready.set()


def parse_floor(server: Server, page_size: int, pages: int = 20) -> float:
    """CPU seconds of ``json.loads`` per list item, over a few of the pages the watcher reads (median of 5)."""
    bodies = [
        server.http.get(f"/v2.0/{server.project_id}/batches", params={"from": p * page_size, "size": page_size}).content
        for p in range(pages)
    ]
    items = sum(len(json.loads(b)["sessions"]) for b in bodies)
    runs = []
    for _ in range(5):
        start = time.process_time()
        for body in bodies:
            json.loads(body)
        runs.append(time.process_time() - start)
    return statistics.median(runs) / items


def cpu(proc: psutil.Process) -> float:
    """User + system CPU seconds so far."""
    t = proc.cpu_times()
    return float(t.user + t.system)


def list_requests(server: Server) -> int:
    """The simulator's list requests so far."""
    return int(server.stats()["requests"].get("list", 0))


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run_one(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One fleet size: start both processes, measure, stop."""
    say(f"{n:,} batches: building the simulator's world")
    server = Server(n, extra=("--lines", str(args.lines)))
    # after a change the simulator renders every batch again for the next list request (seconds at
    # 300,000), and an admin request can wait behind a few of those
    server.http.close()
    server.http = httpx.Client(base_url=server.url, timeout=600)
    pages = math.ceil(n / args.page_size)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        listen = f"127.0.0.1:{PORT}"
        text = config_text(
            server, "list", page_size=args.page_size, max_pages=pages + 10, interval=args.interval, listen=listen
        )
        cfg.write(text)
    started = time.time()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--config", cfg.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=ENV,
    )
    assert watcher.stdout is not None
    events = Events(watcher.stdout)
    proc = psutil.Process(watcher.pid)
    try:
        if not events.ready.wait(timeout=args.timeout):
            raise TimeoutError("the watcher did not become ready")
        ready = events.ready_at - started
        say(f"  ready in {ready:.1f} s; {args.cycles} cycles of {args.interval} s")
        time.sleep(args.interval)  # the cycle that follows the first one
        c0, l0 = cpu(proc), list_requests(server)
        time.sleep(args.cycles * args.interval)
        c1, l1 = cpu(proc), list_requests(server)
        rss = proc.memory_info().rss
        polls = (l1 - l0) / pages * n
        floor = parse_floor(server, args.page_size)
        say(f"  CPU {(c1 - c0) / polls * 1e6:.1f} µs per batch-poll over {polls:,.0f}; json.loads {floor * 1e6:.1f} µs;"
            f" RSS {rss / 2**20:.0f} MiB; now {args.changes} changes")  # fmt: skip
        chosen = random.Random(n).sample(server.ids, args.changes)
        sent = server.change_states(chosen)
        deadline = time.time() + 2 * args.interval + 60
        while time.time() < deadline and not all(b in events.changed for b in chosen):
            time.sleep(0.5)
        delays = [events.changed[b] - sent[b] for b in chosen if b in events.changed]
        per_poll = (c1 - c0) / polls if polls else float("nan")
        return {
            "batches": n,
            "page_size": args.page_size,
            "max_list_pages": pages + 10,
            "interval_s": args.interval,
            "ready_s": ready,
            "polls_measured": polls,
            "cpu_us_per_batch_poll": per_poll * 1e6,
            "json_loads_us_per_item": floor * 1e6,
            "cpu_vs_json_loads": per_poll / floor,
            "rss_mib": rss / 2**20,
            "rss_bytes_per_batch": rss / n,
            "changes": args.changes,
            "events_seen": len(delays),
            "delay_p50_s": statistics.median(delays) if delays else None,
            "delay_p99_s": percentile(delays, 0.99) if delays else None,
            "delay_max_s": max(delays) if delays else None,
            "load_average": os.getloadavg(),
        }
    finally:
        watcher.terminate()
        try:
            watcher.wait(timeout=120)
        except subprocess.TimeoutExpired:
            watcher.kill()
        server.close()
        os.unlink(cfg.name)


def main() -> int:
    """Run each fleet size and print one JSON line per size, then a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[300_000])
    parser.add_argument("--lines", type=int, default=1, help="stdout lines per batch (the issue's workload: 1)")
    parser.add_argument("--page-size", type=int, default=100, help="watch.list_page_size (its default: 100)")
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for watcher.ready")
    args = parser.parse_args()
    rows = []
    for n in args.batches:
        row = run_one(n, args)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"{'batches':>8} {'ready s':>8} {'CPU µs/poll':>12} {'json.loads µs':>14} {'ratio':>6} {'RSS MiB':>8}"
          f" {'B/batch':>8} {'p50 s':>6} {'p99 s':>6} {'seen':>6}")  # fmt: skip
    for r in rows:
        print(
            f"{r['batches']:>8} {r['ready_s']:>8.1f} {r['cpu_us_per_batch_poll']:>12.1f}"
            f" {r['json_loads_us_per_item']:>14.1f} {r['cpu_vs_json_loads']:>6.1f} {r['rss_mib']:>8.0f}"
            f" {r['rss_bytes_per_batch']:>8.0f} {r['delay_p50_s'] or 0:>6.1f} {r['delay_p99_s'] or 0:>6.1f}"
            f" {r['events_seen']:>3}/{r['changes']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
