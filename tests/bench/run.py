"""The by-hand benchmark suite: the watcher vs bare HTTP clients and the official SDK, on one simulator.

    python tests/bench/run.py [--batches 1000,10000] [--quick] [--json out.json] [--profile]

For each N it starts a simulator process with N running batches (server.py), runs the watcher in
its own process (watcher_proc.py) once per transport (aiohttp, httpx) and, when the watcher has
``[watch] mode``, in list mode at N=10000, and measures in steady state: CPU per batch-poll, RSS per
watched batch, requests per batch-poll, /metrics scrape time, event-loop stall with and without
concurrent scrapes, poll spread over 1-second buckets, and change-to-event delay. Baselines
(baseline_proc.py: bare aiohttp, bare httpx, the official SDK) run against the first server at
the same concurrency and request rate. Ratios are against the aiohttp floor of the same run.
A watcher run whose CPU per poll exceeds 3x the floor (or every run, with --profile) is also
profiled with cProfile and its top functions printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from benchstats import summary_ms

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
API_ROUTES = ("details", "state", "log", "list")
PROFILE_OVER_FLOOR = 3.0
W = 24  # the table's first column


@dataclass(frozen=True)
class Plan:
    """How long each phase runs; --quick shrinks it."""

    rate: float = 400.0  # batch-polls per second the watcher is configured for: interval = N / rate
    concurrency: int = 50
    window_intervals: float = 2.0  # the steady-state CPU window, in poll intervals
    min_window: float = 10.0
    probe_seconds: float = 8.0
    min_scrapes: int = 5
    delay_batches: int = 50
    baseline_warmup: float = 2.0
    baseline_seconds: float = 10.0
    saturated_baselines: bool = True
    profile_seconds: float = 10.0


QUICK = Plan(
    window_intervals=2.0,
    min_window=6.0,
    probe_seconds=4.0,
    min_scrapes=3,
    delay_batches=20,
    baseline_warmup=1.0,
    baseline_seconds=5.0,
    saturated_baselines=False,
    profile_seconds=5.0,
)


def say(text: str) -> None:
    """Progress on stderr, so stdout stays the table."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class Server:
    """The simulator process (server.py) for one N; stopped by closing its stdin."""

    def __init__(self, batches: int, script: str = "server.py", extra: tuple[str, ...] = ()) -> None:
        """Start server.py (or h2_server.py, with ``extra`` options) and read where it listens and what it has."""
        self.batches = batches
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / script), "--batches", str(batches), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=ENV,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{script} exited with {self.proc.wait()}")
        info = json.loads(line)
        self.url: str = info["url"]
        self.ids_file: str = info["ids_file"]
        self.project_id: str = info["project_id"]
        with open(self.ids_file, encoding="utf-8") as f:
            self.ids = [x.strip() for x in f if x.strip()]
        self.http = httpx.Client(base_url=self.url, timeout=10)
        self.states = dict.fromkeys(self.ids, "running")

    def args(self) -> list[str]:
        """The command-line options that point a client process at this server."""
        return ["--url", self.url, "--project-id", self.project_id, "--ids-file", self.ids_file]

    def stats(self) -> dict[str, Any]:
        """The server's request counters and CPU seconds so far."""
        return self.http.get("/_bench/stats").raise_for_status().json()  # type: ignore[no-any-return]

    def change_states(self, batch_ids: list[str]) -> dict[str, float]:
        """Flip each batch between running and recovering; returns when each change was sent."""
        sent: dict[str, float] = {}
        for bid in batch_ids:
            new = "recovering" if self.states[bid] == "running" else "running"
            sent[bid] = time.time()
            self.http.post(f"/_sim/batches/{bid}/state", json={"state": new}).raise_for_status()
            self.states[bid] = new
        return sent

    def close(self) -> None:
        """Stop the server process."""
        self.http.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def api_requests(before: dict[str, Any], after: dict[str, Any]) -> int:
    """API requests (details, state, log, list) served between two stats snapshots."""
    return sum(after["requests"].get(r, 0) - before["requests"].get(r, 0) for r in API_ROUTES)


class WatcherProc:
    """watcher_proc.py as a child: send it JSON commands, read its JSON replies (from a reader thread)."""

    def __init__(self, server: Server, interval: float, transport: str, mode: str, concurrency: int) -> None:
        """Start watcher_proc.py against ``server``."""
        client, _, loop = transport.partition("+")  # "aiohttp+uvloop": the aiohttp transport on uvloop
        cmd = [
            sys.executable,
            str(HERE / "watcher_proc.py"),
            *server.args(),
            "--interval",
            repr(interval),
            "--concurrency",
            str(concurrency),
            "--transport",
            client,
            "--loop",
            loop or "asyncio",
        ]
        if mode:
            cmd += ["--mode", mode]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        """Queue each reply line; None when the process closes stdout."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.replies.put(json.loads(line))
        self.replies.put(None)

    def send(self, cmd: str, **args: Any) -> None:
        """Send one command without waiting for its reply."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()

    def recv(self, timeout: float) -> dict[str, Any]:
        """The next reply; fails if the process died or took longer than ``timeout``."""
        try:
            msg = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"watcher_proc gave no reply within {timeout:.0f} s") from None
        if msg is None:
            raise RuntimeError(f"watcher_proc exited with {self.proc.wait()}")
        return msg

    def call(self, cmd: str, timeout: float, **args: Any) -> dict[str, Any]:
        """Send a command and wait for its reply."""
        self.send(cmd, **args)
        return self.recv(timeout)

    def close(self) -> None:
        """Stop the watcher (politely, then not)."""
        try:
            if self.proc.poll() is None:
                self.call("stop", timeout=15)
                self.proc.wait(timeout=15)
        except (TimeoutError, RuntimeError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def scrape_while(url: str, done: threading.Event, minimum: int) -> list[float]:
    """GET /metrics back to back until ``done`` is set (and at least ``minimum`` times); the durations."""
    times: list[float] = []
    with httpx.Client(timeout=60) as client:
        while not done.is_set() or len(times) < minimum:
            t0 = time.perf_counter()
            client.get(url).raise_for_status()
            times.append(time.perf_counter() - t0)
    return times


def spread(buckets: list[int], interval: float) -> dict[str, Any]:
    """Poll starts per whole second over the first interval (at least 5 buckets): max/mean and min/mean."""
    full = buckets[: max(5, int(interval))]
    if not full or not sum(full):
        return {"buckets": full, "max_over_mean": None, "min_over_mean": None}
    mean = sum(full) / len(full)
    return {"buckets": full, "mean": mean, "max_over_mean": max(full) / mean, "min_over_mean": min(full) / mean}


def delays(sent: dict[str, float], emitted: dict[str, list[float]]) -> dict[str, Any]:
    """Change-to-event delay per changed batch; the ones never reported are counted as missed."""
    found = []
    for bid, t in sent.items():
        after = [e for e in emitted.get(bid, []) if e >= t]
        if after:
            found.append(min(after) - t)
    out: dict[str, Any] = {"changed": len(sent), "missed": len(sent) - len(found)}
    out.update({k: None if v is None else v / 1000 for k, v in summary_ms(found).items() if k != "n"})
    return out


def run_watcher(
    server: Server,
    transport: str,
    mode: str,
    plan: Plan,
    floor_us: float | None,
    profile: bool,
    pyspy: bool,
    tag: str = "",
) -> dict[str, Any]:
    """One watcher process against ``server``: every watcher measurement for this N and transport."""
    n = server.batches
    interval = n / plan.rate
    # whole intervals, so a list-mode run (one aligned burst per interval) sees a whole number of cycles
    window = interval * math.ceil(max(plan.window_intervals * interval, interval + 3.0, plan.min_window) / interval)
    label = f"watcher({mode or transport}{tag})"
    say(f"  {label} N={n}: interval {interval:g} s, window {window:g} s")
    w = WatcherProc(server, interval, transport, mode, plan.concurrency)
    try:
        hello = w.recv(timeout=60)
        first = w.call("watch", timeout=interval * 3 + 60)
        say(f"    first cycle {first['first_cycle_s']:.1f} s ({first['up']}/{n} up)")
        srv0 = server.stats()
        w.send("window", seconds=window)
        changed = random.sample(server.ids, min(plan.delay_batches, n))
        sent = server.change_states(changed)
        win = w.recv(timeout=window + 60)
        srv1 = server.stats()
        emitted = w.call("events", timeout=30)["state_changed"]
        # list mode works in one burst per interval: a probe shorter than that could miss it
        probe = max(plan.probe_seconds, interval + 1.0) if mode == "list" else plan.probe_seconds
        quiet = w.call("probe", timeout=probe + 60, seconds=probe)
        done = threading.Event()
        w.send("probe", seconds=probe)
        scrapes_box: list[list[float]] = []
        scraper = threading.Thread(
            target=lambda: scrapes_box.append(scrape_while(hello["metrics_url"], done, plan.min_scrapes))
        )
        scraper.start()
        loud = w.recv(timeout=probe + 120)
        done.set()
        scraper.join(timeout=300)
        scrapes = scrapes_box[0] if scrapes_box else []
        size = len(httpx.get(hello["metrics_url"], timeout=60).content)
        polls = win["polls"]
        requests = api_requests(srv0, srv1)
        cpu_us = win["cpu"] / polls * 1e6 if polls else None
        result: dict[str, Any] = {
            "label": label,
            "batches": n,
            "transport": transport,
            "mode": mode or "details",
            "interval_s": interval,
            "first_cycle": first,
            "window": {k: v for k, v in win.items() if k != "buckets"},
            "polls_per_s": polls / win["wall"],
            "cpu_us_per_poll": cpu_us,
            "cpu_share": win["cpu"] / win["wall"],
            "requests_per_poll": requests / polls if polls else None,
            "server_cpu_us_per_request": (srv1["cpu"] - srv0["cpu"]) / requests * 1e6 if requests else None,
            "server_cpu_share": (srv1["cpu"] - srv0["cpu"]) / win["wall"],
            "rss0": hello["rss0"],
            "rss": win["rss"],
            "rss_per_batch": (win["rss"] - hello["rss0"]) / n,
            "metrics_scrape_ms": summary_ms(scrapes),
            "metrics_bytes": size,
            "stall_quiet_ms": quiet["oversleep_ms"],
            "stall_scraping_ms": loud["oversleep_ms"],
            "scraping_cpu_share": loud["cpu"] / loud["wall"],
            "polls_per_s_quiet": quiet["polls"] / quiet["wall"],
            "polls_per_s_scraping": loud["polls"] / loud["wall"],
            # how many 5 ms sleeps the probe completed: the loop's pace with and without scrapes
            "probe_wakeups_quiet": quiet["oversleep_ms"]["n"],
            "probe_wakeups_scraping": loud["oversleep_ms"]["n"],
            "probe_seconds": probe,
            "spread": spread(win["buckets"], interval),
            "delay_s": delays(sent, emitted),
            "delay_bound_s": interval + 2.0,
        }
        if profile or (floor_us and cpu_us and cpu_us > PROFILE_OVER_FLOOR * floor_us):
            say(f"    profiling ({cpu_us or 0:.0f} us/poll)")
            result["profile"] = w.call("profile", timeout=plan.profile_seconds + 120, seconds=plan.profile_seconds)
            if pyspy:
                result["py_spy"] = py_spy(hello["pid"], plan.profile_seconds)
        return result
    finally:
        w.close()


LAYERS = (
    "watcher/",
    "httpx_aiohttp/",
    "httpx/",
    "httpcore/",
    "aiohttp/",
    "yarl/",
    "multidict/",
    "anyio/",
    "asyncio/",
    "json/",
    "http/cookiejar",
    "urllib/",
    "prometheus_client/",
    "structlog/",
)


def run_dead(n: int, share: float, plan: Plan, floor: float | None, args: argparse.Namespace) -> dict[str, Any]:
    """The same watcher against a world where ``share`` of the batches are dead (windows all diagnostics)."""
    say(f"N={n}: a simulator with {share:.0%} of the batches dead")
    server = Server(n, extra=("--dead", str(share)))
    try:
        return run_watcher(server, "aiohttp", "", plan, floor, args.profile, args.py_spy, tag=f", {share:.0%} dead")
    finally:
        server.close()


def layer(frame: str) -> str:
    """The package a py-spy frame ``func (path:line)`` belongs to, or its file."""
    path = frame.rpartition("(")[2].rstrip(")").rsplit(":", 1)[0]
    return next((name.rstrip("/") for name in LAYERS if name in path), path or "?")


def py_spy(pid: int, seconds: float) -> dict[str, Any]:
    """Sample the watcher with ``py-spy record --gil`` (GIL holders only, so roughly CPU); self time by package."""
    out = Path(tempfile.gettempdir()) / f"bench-py-spy-{pid}.txt"
    cmd = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    cmd += ["--gil", "--nonblocking", "--format", "raw", "-o", str(out)]
    try:
        subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": f"py-spy failed: {exc}"}
    by_layer: Counter[str] = Counter()
    by_func: Counter[str] = Counter()
    for line in out.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1]
        by_layer[layer(leaf)] += int(count)
        by_func[leaf] += int(count)
    out.unlink()
    total = sum(by_layer.values()) or 1
    return {
        "samples": total,
        "self_by_package": {k: v / total for k, v in by_layer.most_common()},
        "self_by_function": {k: v / total for k, v in by_func.most_common(30)},
    }


def run_baseline(
    server: Server, kind: str, plan: Plan, rate: float, tick: float = 0.0, *, http2: bool = False
) -> dict[str, Any]:
    """One baseline process against ``server`` at ``rate`` requests/s (0: flat out), optionally in ticks."""
    cmd = [
        sys.executable,
        str(HERE / "baseline_proc.py"),
        "--kind",
        kind,
        *server.args(),
        "--concurrency",
        str(plan.concurrency),
        "--rate",
        repr(rate),
        "--warmup",
        repr(plan.baseline_warmup),
        "--seconds",
        repr(plan.baseline_seconds),
        "--tick",
        repr(tick),
        *(["--http2"] if http2 else []),
    ]
    srv0 = server.stats()
    timeout = plan.baseline_warmup + plan.baseline_seconds + 120
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=timeout, check=True)
    srv1 = server.stats()
    out: dict[str, Any] = json.loads(done.stdout)
    out["cpu_us_per_request"] = out["cpu"] / out["requests"] * 1e6 if out["requests"] else None
    out["requests_per_s"] = out["requests"] / out["wall"]
    out["server_cpu_share"] = (srv1["cpu"] - srv0["cpu"]) / (out["wall"] + plan.baseline_warmup)
    return out


# (key, client, label, ticked): the last is the floor paced like the watcher's scheduler, in ticks, to
# show how much of the watcher's lead over the per-request floor comes from starting polls together
BASELINES = (
    ("aiohttp", "aiohttp", "aiohttp floor", False),
    ("httpx", "httpx", "httpx bare", False),
    ("sdk", "sdk", "SDK", False),
    ("aiohttp_ticked", "aiohttp", "floor in ticks", True),
)


def run_baselines(server: Server, plan: Plan) -> dict[str, Any]:
    """Every baseline at the watcher's rate, and flat out unless quick (the ticked one: paced only)."""
    out: dict[str, Any] = {"batches": server.batches, "rate": plan.rate, "tick": watcher_tick()}
    for key, kind, label, ticked in BASELINES:
        tick = out["tick"] if ticked else 0.0
        if ticked and not tick:
            continue
        say(f"  {label}: {plan.rate:g} req/s")
        paced = run_baseline(server, kind, plan, plan.rate, tick)
        paced["label"] = label
        if plan.saturated_baselines and not tick:
            say(f"  {label}: flat out")
            paced["saturated"] = run_baseline(server, kind, plan, 0.0)
        out[key] = paced
    return out


# (key, client, HTTP/2, label): bare clients against one Hypercorn server speaking both protocols
PROTOCOLS = (
    ("aiohttp_h1", "aiohttp", False, "aiohttp HTTP/1.1"),
    ("httpx_h1", "httpx", False, "httpx HTTP/1.1"),
    ("httpx_h2", "httpx", True, "httpx HTTP/2"),
)


def run_protocols(batches: int, plan: Plan) -> dict[str, Any]:
    """HTTP/1.1 against HTTP/2 (cleartext, prior knowledge): each bare client paced like the others."""
    out: dict[str, Any] = {"batches": batches, "rate": plan.rate, "server": "hypercorn"}
    say("protocols: starting h2_server.py (Hypercorn)")
    server = Server(batches, "h2_server.py")
    try:
        for key, kind, http2, label in PROTOCOLS:
            say(f"  {label}: {plan.rate:g} req/s")
            out[key] = {**run_baseline(server, kind, plan, plan.rate, http2=http2), "label": label}
    finally:
        server.close()
    return out


def installed(*modules: str) -> bool:
    """Whether these modules (of the ``bench`` extra) can be imported where the watcher runs."""
    return ask_watcher(f"import importlib.util as u; print(all(u.find_spec(m) for m in {modules!r}))") == "True"


def ask_watcher(code: str) -> str:
    """What ``code`` prints about the watcher being benchmarked (run in a child, where it would run)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=ENV, check=True)
    return done.stdout.strip()


def first_module(*names: str) -> str:
    """Code binding ``m`` to the first of ``names`` that imports: the layered layout, then the flat one."""
    attempt = "    try:\n        return importlib.import_module({!r})\n    except ImportError:\n        pass\n"
    return "import importlib\ndef find():\n" + "".join(attempt.format(n) for n in names) + "m = find()\n"


def has_list_mode() -> bool:
    """Whether the watcher being benchmarked has ``[watch] mode``."""
    fields = "{f.name for f in dataclasses.fields(m.WatchConfig)}"
    code = first_module("watcher.config.settings", "watcher.config") + f"import dataclasses\nprint('mode' in {fields})"
    return ask_watcher(code) == "True"


def watcher_tick() -> float:
    """The scheduler tick of the watcher being benchmarked (0 when it has none)."""
    find = first_module("watcher.core.schedule", "watcher.schedule")
    return float(ask_watcher(f"{find}print(getattr(m, 'TICK', 0.0))"))


def fmt(value: float | None, spec: str = ".0f") -> str:
    """A number or a dash."""
    return "-" if value is None else format(value, spec)


def pair(a: float | None, b: float | None, spec: str = ".1f") -> str:
    """Two numbers as ``a/b``."""
    return f"{fmt(a, spec)}/{fmt(b, spec)}"


def short(n: int) -> str:
    """1000 -> 1k."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def table(report: dict[str, Any]) -> str:
    """The printed table: watcher rows per N, then the baselines; ratios against the aiohttp floor."""
    floor = report["baselines"]["aiohttp"]["cpu_us_per_request"]
    head = (
        f"{'row':<{W}}{'N':>4}{'polls/s':>8}{'CPU µs':>8}{'x floor':>8}{'req/poll':>9}{'B/batch':>8}"
        f"{'/metrics ms p50/p99':>20}{'stall ms p99/max':>17}{'+scrape p99/max':>17}"
        f"{'spread max/min':>15}{'delay s p50/p99':>16}"
    )
    lines = [head, "-" * len(head)]
    for r in report["watchers"]:
        cpu = r["cpu_us_per_poll"]
        sq, sl, sc, sp, dl = (
            r["stall_quiet_ms"],
            r["stall_scraping_ms"],
            r["metrics_scrape_ms"],
            r["spread"],
            r["delay_s"],
        )
        missed = f" ({dl['missed']} missed)" if dl["missed"] else ""
        lines.append(
            f"{r['label']:<{W}}{short(r['batches']):>4}{r['polls_per_s']:>8.0f}{fmt(cpu):>8}"
            f"{fmt(cpu / floor if cpu and floor else None, '.2f'):>8}{fmt(r['requests_per_poll'], '.2f'):>9}"
            f"{r['rss_per_batch']:>8.0f}{pair(sc['p50'], sc['p99']):>20}{pair(sq['p99'], sq['max']):>17}"
            f"{pair(sl['p99'], sl['max']):>17}{pair(sp['max_over_mean'], sp['min_over_mean'], '.2f'):>15}"
            f"{pair(dl['p50'], dl['p99'], '.2f'):>16}{missed}"
        )
    if not report["list_mode"]:
        lines.append(f"{'watcher(list)':<{W}}  list mode: not available")
    for key, _, label, _ in BASELINES:
        b = report["baselines"].get(key)
        if b is None:
            continue
        cpu = b["cpu_us_per_request"]
        sat = b.get("saturated")
        extra = ""
        if sat:
            extra = f"   flat out: {sat['requests_per_s']:.0f} req/s at {fmt(sat['cpu_us_per_request'])} µs/req"
        ratio = fmt(cpu / floor if cpu and floor else None, ".2f")
        lines.append(f"{label:<{W}}{'':>4}{b['requests_per_s']:>8.0f}{fmt(cpu):>8}{ratio:>8}{'1.00':>9}{extra}")
    lines.extend(notes(report))
    lines.extend(protocol_table(report.get("protocols")))
    return "\n".join(lines)


def protocol_table(protocols: dict[str, Any] | None) -> list[str]:
    """The HTTP/1.1 vs HTTP/2 rows, against the bare aiohttp client on the same server."""
    if not protocols:
        return []
    base = protocols["aiohttp_h1"]["cpu_us_per_request"]
    title = f"protocols: bare clients vs one {protocols['server']} server, {protocols['rate']:g} req/s"
    out = [
        "",
        f"{title}, {short(protocols['batches'])} batches",
        f"{'client':<{W}}{'req/s':>8}{'CPU µs':>8}{'x aiohttp':>10}",
    ]
    for key, _, _, label in PROTOCOLS:
        r = protocols[key]
        cpu = r["cpu_us_per_request"]
        ratio = fmt(cpu / base if cpu and base else None, ".2f")
        errors = f"   {r['errors']} errors" if r["errors"] else ""
        out.append(f"{label:<{W}}{r['requests_per_s']:>8.0f}{fmt(cpu):>8}{ratio:>10}{errors}")
    return out


def notes(report: dict[str, Any]) -> list[str]:
    """Derived lines under the table: RSS slope between sizes, delay bound, server load."""
    out = [""]
    by: dict[str, dict[int, dict[str, Any]]] = {}
    for r in report["watchers"]:
        by.setdefault(r["label"], {})[r["batches"]] = r
    for label, runs in by.items():
        sizes = sorted(runs)
        if len(sizes) >= 2:
            lo, hi = runs[sizes[0]], runs[sizes[-1]]
            slope = (hi["rss"] - lo["rss"]) / (sizes[-1] - sizes[0])
            out.append(f"{label}: RSS slope {short(sizes[0])}->{short(sizes[-1])}: {slope:.0f} B/batch")
    for r in report["watchers"]:
        d = r["delay_s"]
        late = d["p99"] is not None and d["p99"] > r["delay_bound_s"]
        if late or d["missed"]:
            out.append(
                f"{r['label']} N={r['batches']}: delay p99 {fmt(d['p99'], '.2f')} s vs bound "
                f"{r['delay_bound_s']:.1f} s, {d['missed']} missed"
            )
        if r["polls_per_s"] < 0.9 * report["plan"]["rate"]:
            out.append(
                f"{r['label']} N={r['batches']}: fell behind: {r['polls_per_s']:.0f} of "
                f"{report['plan']['rate']:g} polls/s (watcher CPU {r['cpu_share']:.0%} of a core, "
                f"server {r['server_cpu_share']:.0%})"
            )
        if r["mode"] == "list":
            out.append(f"{r['label']} N={r['batches']}: spread is one burst per interval by design (aligned slots)")
    for key, _, label, _ in BASELINES:
        b = report["baselines"].get(key)
        if b is None:
            continue
        if b["tick"]:
            out.append(f"{label}: requests due within {b['tick'] * 1000:g} ms start together, like the watcher's polls")
        if b["requests_per_s"] < 0.9 * b["rate"]:
            out.append(
                f"{label}: fell behind: {b['requests_per_s']:.0f} of {b['rate']:g} req/s "
                f"(CPU {b['cpu'] / b['wall']:.0%} of a core), so its µs/req is at saturation"
            )
    return out


def profiles(report: dict[str, Any], top: int = 15) -> str:
    """The top functions (own time) of each profiled watcher run."""
    out = []
    for r in report["watchers"]:
        prof = r.get("profile")
        if not prof:
            continue
        per = prof["polls"] or 1
        out.append(f"\n{r['label']} N={r['batches']}: cProfile, {prof['seconds']:g} s, {prof['polls']:.0f} polls")
        out.append(f"  {'tottime µs/poll':>15} {'cumtime µs/poll':>15} {'calls/poll':>10}  function")
        rows = sorted(prof["rows"], key=lambda x: x["tottime"], reverse=True)
        out.extend(
            f"  {row['tottime'] / per * 1e6:>15.1f} {row['cumtime'] / per * 1e6:>15.1f} "
            f"{row['ncalls'] / per:>10.2f}  {row['func'].replace(str(ROOT) + '/', '')}"
            for row in [x for x in rows if "select.epoll" not in x["func"]][:top]
        )
        spy = r.get("py_spy")
        if spy and "error" not in spy:
            shares = ", ".join(f"{k} {v:.0%}" for k, v in list(spy["self_by_package"].items())[:10])
            out.append(f"  py-spy --gil, self time by package ({spy['samples']} samples): {shares}")
        elif spy:
            out.append(f"  {spy['error']}")
    return "\n".join(out)


def main() -> int:
    """Parse the options, run everything, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="", help="comma-separated N values (default 1000,10000; quick: 1000)")
    parser.add_argument("--quick", action="store_true", help="short phases, N=1000 unless --batches says otherwise")
    parser.add_argument("--json", default="bench.json", help="where to write every measurement (default bench.json)")
    parser.add_argument("--rate", type=float, default=0.0, help="watcher polls/s and baseline req/s (default 400)")
    parser.add_argument("--profile", action="store_true", help="profile every watcher run, not only slow ones")
    parser.add_argument("--py-spy", action="store_true", help="also sample profiled runs with py-spy (CPU by package)")
    parser.add_argument(
        "--transports", default="aiohttp,httpx,aiohttp+uvloop", help="watcher transports (+uvloop: on uvloop) to run"
    )
    parser.add_argument("--no-protocols", action="store_true", help="skip the HTTP/1.1 vs HTTP/2 comparison")
    parser.add_argument("--dead", type=float, default=0.0, help="also a run with this share of batches dead")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    if args.rate:
        plan = Plan(**{**asdict(plan), "rate": args.rate})
    sizes = [int(x) for x in (args.batches or ("1000" if args.quick else "1000,10000")).split(",") if x]
    list_mode = has_list_mode()
    transports = [t for t in args.transports.split(",") if "+uvloop" not in t or installed("uvloop")]
    if len(transports) < len(args.transports.split(",")):
        say("uvloop runs: skipped, uvloop is not installed (pip install '.[bench]')")
    list_n = 10000 if 10000 in sizes else max(sizes)
    report: dict[str, Any] = {"plan": asdict(plan), "list_mode": list_mode, "watchers": [], "started": time.time()}
    t0 = time.monotonic()
    for i, n in enumerate(sizes):
        say(f"N={n}: starting the simulator")
        server = Server(n)
        try:
            if i == 0:
                report["baselines"] = run_baselines(server, plan)
            floor = report["baselines"]["aiohttp"]["cpu_us_per_request"]
            runs = [(transport, "") for transport in transports]
            if list_mode and n == list_n:
                runs.append(("aiohttp", "list"))
            for transport, mode in runs:
                report["watchers"].append(run_watcher(server, transport, mode, plan, floor, args.profile, args.py_spy))
        finally:
            server.close()
        if args.dead:
            report["watchers"].append(run_dead(n, args.dead, plan, floor, args))
    if not list_mode:
        say("list mode: not available")
    if not args.no_protocols and installed("hypercorn", "h2"):
        report["protocols"] = run_protocols(sizes[0], plan)
    elif not args.no_protocols:
        say("protocols: skipped, Hypercorn and h2 are not installed (pip install '.[bench]')")
    report["seconds"] = time.monotonic() - t0
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))
    prof = profiles(report)
    if prof:
        print(prof)
    print(f"\n{report['seconds']:.0f} s; all measurements in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
