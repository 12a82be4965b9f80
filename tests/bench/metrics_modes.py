"""Benchmark of /metrics per per-batch mode: series per batch, bytes (plain and gzip) and render time.

Run by hand (``python tests/bench/metrics_modes.py``; ``--batches 10000 100000`` by default). For
each fleet size it starts the bench simulator with ``--finished`` of the batches already
succeeded (90%: 10% active), then for each ``[metrics] per_batch`` mode a real ``dli-watcher run``
in list mode (60 s interval), waits for its first poll cycle and the terminal grace, and scrapes
/metrics back to back. Numbers are printed, never asserted; the ratios are against the "all" mode
measured in the same run, the CPU per scrape (the
watcher's, from psutil, beyond its polling) included.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).resolve().parent
MODES = ("compact", "all", "active", "none")


def start_server(batches: int, finished: float, lines: int = 3) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The simulator process and the JSON line it printed once bound."""
    args = ["--batches", str(batches), "--finished", str(finished), "--lines", str(lines)]
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def config_text(info: dict[str, str], mode: str, port: int, page_size: int) -> str:
    """A list-mode config for the bench world, auth none, per_batch ``mode``."""
    return f"""
[api]
endpoint = "{info["url"]}"
project_id = "{info["project_id"]}"
# a batch first seen finished has its log read once; 90,000 such reads are not what this measures
log_endpoint = false
[auth]
method = "none"
[watch]
batch_ids_file = "{info["ids_file"]}"
interval_seconds = 60
terminal_grace_seconds = 1
retention_seconds = 86400
mode = "list"
list_page_size = {page_size}
concurrency = 16
[metrics]
listen = "127.0.0.1:{port}"
per_batch = "{mode}"
[events]
format = "json"
"""


def wait_ready(url: str, timeout: float) -> float:
    """Seconds until /readyz answers 200 (every batch polled once)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise TimeoutError("the watcher did not become ready")


def scrape(url: str, gz: bool) -> tuple[float, bytes]:
    """One /metrics GET: seconds and the body as sent."""
    headers = {"Accept-Encoding": "gzip" if gz else "identity"}
    start = time.perf_counter()
    with httpx.stream("GET", url + "/metrics", headers=headers, timeout=120) as resp:
        raw = b"".join(resp.iter_raw())
    return time.perf_counter() - start, raw


def curl_scrapes(url: str, scrapes: int, gz: bool) -> float | None:
    """The p50 wall seconds of ``scrapes`` GETs by curl; None without curl.

    curl is a C client: its time is the watcher's and the wire's, not a Python client's read of 42 MB.
    """
    if shutil.which("curl") is None:
        return None
    command = ["curl", "-sS", "-o", os.devnull, "-w", "%{time_total}", *(["-H", "Accept-Encoding: gzip"] * gz)]
    runs = [
        subprocess.run([*command, url + "/metrics"], capture_output=True, text=True, check=True) for _ in range(scrapes)
    ]
    return statistics.median(float(r.stdout) for r in runs)


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def timed_scrapes(pid: int, url: str, scrapes: int) -> tuple[list[float], float]:
    """Plain scrapes back to back: their wall times, and the watcher's CPU per scrape beyond its idle rate.

    The idle rate (polling, with no scrape) is measured over as long as the scrapes took, just before.
    """
    start, wall = cpu_seconds(pid), time.monotonic()
    times = [scrape(url, gz=False)[0] for _ in range(scrapes)]
    busy, span = cpu_seconds(pid) - start, time.monotonic() - wall
    start = cpu_seconds(pid)
    time.sleep(span)
    idle = cpu_seconds(pid) - start
    return times, max(0.0, busy - idle) / scrapes


def measure(
    info: dict[str, str], mode: str, batches: int, scrapes: int, page_size: int, base_port: int = 19900
) -> dict[str, float]:
    """Start a watcher in ``mode``, let it settle, scrape; the row's numbers."""
    port = base_port + MODES.index(mode)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        cfg.write(config_text(info, mode, port, page_size))
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--config", cfg.name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(url, timeout=900)
        time.sleep(5)  # the terminal grace (1 s) has passed for every finished batch
        rss = psutil.Process(proc.pid).memory_info().rss
        _, plain = scrape(url, gz=False)
        text = plain.decode()
        samples = [line for line in text.splitlines() if line and not line.startswith("#")]
        per_batch = sum(1 for line in samples if 'batch_id="' in line)
        plain_times, cpu_s = timed_scrapes(proc.pid, url, scrapes)
        gz = [scrape(url, gz=True) for _ in range(scrapes)]
        return {
            "ready_s": ready,
            "rss_mb": rss / 2**20,
            "series": len(samples),
            "series_per_batch": per_batch / batches,
            "bytes": len(plain),
            "gzip_bytes": len(gz[-1][1]),
            "plain_s_p50": statistics.median(plain_times),
            "cpu_s_per_scrape": cpu_s,
            "gzip_s_p50": statistics.median(t for t, _ in gz),
            "gzip_check": len(gzip.decompress(gz[-1][1])) > 0,
            "curl_s_p50": curl_scrapes(url, scrapes, gz=False),
            "curl_gzip_s_p50": curl_scrapes(url, scrapes, gz=True),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        os.unlink(cfg.name)


def ratio(value: float, base: float | None) -> str:
    """Value / base as "0.25x", or "-" without a baseline in this run."""
    return "-" if not base else f"{value / base:.2f}x"


def main() -> int:
    """Measure every mode at every size and print one table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--finished", type=float, default=0.9)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--lines", type=int, default=3, help="stdout lines per batch (the window keeps 10)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    # the simulator renders every batch for each list request (~0.6 s at 100,000): bigger pages keep
    # the first cycle within minutes; /metrics does not depend on it
    parser.add_argument("--page-size", type=int, default=1000)
    # another bench on the same machine may hold the default ports: its /metrics would be measured
    parser.add_argument("--port", type=int, default=19900, help="the first mode's metrics port (one more per mode)")
    args = parser.parse_args()
    rows = []
    for n in args.batches:
        server, info = start_server(n, args.finished, args.lines)
        try:
            for mode in args.modes:
                row = {"batches": n, "mode": mode, **measure(info, mode, n, args.scrapes, args.page_size, args.port)}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=60)
    print(
        f"{'batches':>8} {'mode':>7} {'series/batch':>13} {'series':>9} {'MB':>8} {'MB gz':>7} {'s':>6} {'s gz':>6}"
        f" {'CPU s':>6} {'CPU vs all':>10} {'RSS MB':>7}"
    )
    base = {r["batches"]: r["cpu_s_per_scrape"] for r in rows if r["mode"] == "all"}
    for r in rows:
        print(
            f"{r['batches']:>8} {r['mode']:>7} {r['series_per_batch']:>13.2f} {r['series']:>9} "
            f"{r['bytes'] / 1e6:>8.2f} {r['gzip_bytes'] / 1e6:>7.2f} {r['plain_s_p50']:>6.2f} {r['gzip_s_p50']:>6.2f}"
            f" {r['cpu_s_per_scrape']:>6.2f} {ratio(r['cpu_s_per_scrape'], base.get(r['batches'])):>10}"
            f" {r['rss_mb']:>7.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
