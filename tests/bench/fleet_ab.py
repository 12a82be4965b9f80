"""Two (or more) versions of the watcher side by side in list mode, on one simulator, at the same time.

Run by hand: ``python tests/bench/fleet_ab.py --roots /tmp/old-checkout . --batches 20000``
(``git worktree add /tmp/old-checkout <commit>`` or ``git archive <commit> | tar -x -C /tmp/old-checkout``
makes the other tree; ``pip install '.[test,bench]'`` first). One bench simulator (``server.py``,
its own process) serves N running batches with ``--lines`` stdout lines each; one ``dli-watcher run``
per source tree (``PYTHONPATH`` set to it) watches them all in list mode, page size 100, with the
config ``fleet.py`` writes. All run at once, so a shared machine's load falls on every version alike.
After each is ready and one more interval has passed, over ``--cycles`` intervals: the CPU of each
process (psutil) divided by the polls it counted (``dli_watcher_polls_total`` on its own /metrics),
next to ``json.loads`` of the same pages in this process (the parse floor), and each version's ratio
to the first's. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from first_cycle import config_text
from fleet import Events, cpu, parse_floor
from run import Server, say

PORT = 19960


def polls(port: int) -> float:
    """The polls a watcher has counted so far, from its /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=300).text
    found = re.search(r"^dli_watcher_polls_total (\S+)", text, re.MULTILINE)
    if found is None:
        raise RuntimeError("no dli_watcher_polls_total on /metrics")
    return float(found.group(1))


def main() -> int:
    """Start the simulator and one watcher per tree, measure the steady cycles, print one line per tree."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roots", nargs="+", required=True, help="source trees (each holds the watcher package)")
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=1, help="stdout lines per batch (the issue's workload: 1)")
    parser.add_argument("--interval", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for watcher.ready")
    args = parser.parse_args()
    server = Server(args.batches, extra=("--lines", str(args.lines)))
    server.http.close()
    server.http = httpx.Client(base_url=server.url, timeout=600)
    pages = math.ceil(args.batches / 100)
    procs, configs = [], []
    try:
        for n, root in enumerate(Path(r).resolve() for r in args.roots):
            with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
                listen = f"127.0.0.1:{PORT + n}"
                cfg.write(config_text(server, "list", max_pages=pages + 10, interval=args.interval, listen=listen))
            configs.append(cfg.name)
            watcher = subprocess.Popen(
                [sys.executable, "-m", "watcher", "run", "--config", cfg.name],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=root,
                env={**os.environ, "PYTHONPATH": str(root)},
            )
            assert watcher.stdout is not None
            procs.append((root, PORT + n, watcher, Events(watcher.stdout), psutil.Process(watcher.pid)))
        for root, _, _, events, _ in procs:
            if not events.ready.wait(timeout=args.timeout):
                raise TimeoutError(f"{root}: the watcher did not become ready")
        time.sleep(args.interval)  # the cycle that follows the first one
        before = [(cpu(proc), polls(port)) for _, port, _, _, proc in procs]
        time.sleep(args.cycles * args.interval)
        after = [(cpu(proc), polls(port)) for _, port, _, _, proc in procs]
        floor = parse_floor(server, 100)
        first = None
        for (root, _, _, _, proc), (c0, p0), (c1, p1) in zip(procs, before, after, strict=True):
            per = (c1 - c0) / (p1 - p0)
            first = first or per
            rss = proc.memory_info().rss / 2**20
            say(f"{root}: {per * 1e6:.1f} µs per batch-poll over {p1 - p0:,.0f} polls ({per / first:.2f}x the first);"
                f" json.loads {floor * 1e6:.2f} µs, {per / floor:.1f}x; RSS {rss:.0f} MiB")  # fmt: skip
        say(f"load average {os.getloadavg()}")
    finally:
        for _, _, watcher, _, _ in procs:
            watcher.terminate()
        for _, _, watcher, _, _ in procs:
            try:
                watcher.wait(timeout=120)
            except subprocess.TimeoutExpired:
                watcher.kill()
        server.close()
        for name in configs:
            os.unlink(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
