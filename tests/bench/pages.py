"""The status pages' cost, by hand: render time at N batches, and the poll loop's lag while pages load.

    python tests/bench/pages.py [--batches 10000] [--renders 40] [--loaders 10] [--no-live]

1. Render: one process builds N batches as the poller leaves them (fields, a log tail per stream,
   a few recent events each) and renders pages of 100 rows from them: the default order, a sort by
   name, a filter, a late page, one batch's page. The baseline, in the same process, is the
   per-batch text of /metrics for the same batches (the part of a scrape that grows with N).
2. Live: the simulator (server.py) with N running batches and the watcher in its own process
   (watcher_proc.py), as run.py uses them, polling at 400 batch-polls/s. The probe measures how
   late a 5 ms sleep wakes up in the daemon's event loop: quiet, while ``--loaders`` clients load
   pages back to back (each its own pages, so no two share a render), and, as the baseline, while
   as many clients scrape /metrics back to back.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import httpx
from benchstats import summary_ms
from run import Server, WatcherProc

from watcher.core.events import Event
from watcher.core.log.diff import LogTrack, StreamTrack
from watcher.core.model import Snapshot
from watcher.core.recent import Recent
from watcher.core.tracker import Track
from watcher.metrics.exposition import BatchText
from watcher.web.status.index import About
from watcher.web.status.pages import StatusPages, StatusSource

RATE = 400.0
W = 44


def say(text: str) -> None:
    """Progress on stderr, so stdout stays the tables."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def batch(i: int, rng: random.Random, now: float) -> Track:
    """The i-th batch of the fleet: every 50th failing, every 100th never read, every 10th finished."""
    bid = f"{rng.getrandbits(128):032x}"
    state = "success" if i % 10 == 0 else "running"
    created = int((now - rng.uniform(60, 86400)) * 1000)
    snap = Snapshot(
        bid,
        state,
        state,
        app_id=f"application_{created}_{i:04d}",
        name=f"nightly-etl-{i % 500:03d}",
        owner="etl-bot",
        queue=f"queue-{i % 20}",
        kind="spark",
        sc_type="A",
        create_time=created,
        update_time=created + 30_000,
    )
    tail = tuple(f"26/01/02 03:04:{s:02d} INFO Executor: finished task {s} of stage {i}" for s in range(10))
    log = LogTrack(streams={"stdout": StreamTrack(tail, 120), "stderr": StreamTrack(tail[:3], 3)})
    since = now - rng.uniform(0, 3600)
    track = Track(bid, 3, snap, "present", now - 600, since, log=log, up=True, last_success=now)
    if i % 50 == 1:
        return replace(track, up=False, failing_since=now - 120)
    if i % 100 == 2:
        return replace(track, snapshot=None, presence="pending", up=False)
    return track


def history(track: Track) -> list[Event]:
    """What a batch of the fleet emitted: discovered, started running, and a failed poll when failing."""
    bid, fields = track.batch_id, {"state": "starting", "job_name": "nightly-etl", "queue": "queue-1"}
    events = [
        Event("batch.discovered", "info", bid, 1, fields),
        Event("batch.state_changed", "info", bid, 2, {"from_state": "starting", "to_state": "running"}),
    ]
    if not track.up:
        failed = {"reason": "timeout", "message": "read timed out"}
        events.append(Event("batch.poll_failed", "warning", bid, 3, failed))
    return events


def fleet(n: int, now: float) -> tuple[dict[str, Track], Recent]:
    """N batches like a busy fleet's, with log tails and a few recent events each."""
    rng = random.Random(20)
    tracks = {t.batch_id: t for t in (batch(i, rng, now) for i in range(n))}
    recent = Recent()
    for track in tracks.values():
        recent.record(history(track), now - 300, tracks)
        recent.polled(replace(track, up=False), now - rng.uniform(0, 25))  # the page reads a kept poll time
    return tracks, recent


def timed(work: Any, renders: int) -> dict[str, Any]:
    """Run ``work`` ``renders`` times after one warm-up; the durations in ms."""
    work()
    times = []
    for _ in range(renders):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return summary_ms(times)


def render_bench(n: int, renders: int) -> list[tuple[str, dict[str, Any], int]]:
    """(label, ms summary, bytes) of each page at N batches, then the /metrics baseline."""
    now = time.time()
    say(f"render: building {n:,} batches")
    tracks, recent = fleet(n, now)
    about = About("bench", 3600.0, "0/1", "details", None, True)
    pages = StatusPages(StatusSource(lambda: about, lambda: tracks, recent, clock=lambda: now))
    some = next(iter(tracks))
    cases = [
        ("/ (failing first, 100 rows)", ("/", "")),
        ("/?sort=name&order=desc", ("/", "sort=name&order=desc")),
        ("/?name=etl-042&queue=queue-2 (filter)", ("/", "name=etl-042&queue=queue-2")),
        ("/?sort=updated&page=50", ("/", "sort=updated&page=50")),
        ("/?per=500", ("/", "per=500")),
        ("/batches/{id}", (f"/batches/{some}", "")),
    ]
    out = []
    for label, target in cases:
        say(f"render: {label}")
        size = len(pages.answer(target).body)
        out.append((label, timed(lambda target=target: pages.answer(target), renders), size))
    text = BatchText()
    values = list(tracks.values())
    out.append(("baseline: /metrics per-batch text, warm", timed(lambda: text.render(values, now), renders), 0))
    out.append(("baseline: /metrics per-batch text, cold", timed(lambda: BatchText().render(values, now), renders), 0))
    return out


def load_while(base: str, paths: list[str], done: threading.Event, times: list[float], errors: list[str]) -> None:
    """GET ``paths`` round-robin until ``done``; each duration into ``times``."""
    with httpx.Client(base_url=base, timeout=60) as client:
        n = 0
        while not done.is_set():
            t0 = time.perf_counter()
            response = client.get(paths[n % len(paths)])
            times.append(time.perf_counter() - t0)
            if response.status_code != 200:
                errors.append(f"{paths[n % len(paths)]}: {response.status_code}")
            n += 1


def probe_under(w: WatcherProc, base: str, loads: list[list[str]], seconds: float) -> dict[str, Any]:
    """The loop's oversleep while one client per entry of ``loads`` GETs its paths back to back."""
    done = threading.Event()
    times: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=load_while, args=(base, paths, done, times, errors)) for paths in loads]
    w.send("probe", seconds=seconds)
    for thread in threads:
        thread.start()
    probe = w.recv(timeout=seconds + 120)
    done.set()
    for thread in threads:
        thread.join(timeout=120)
    return {"probe": probe, "requests": summary_ms(times), "errors": errors[:5], "n_errors": len(errors)}


def live_bench(n: int, loaders: int, seconds: float) -> dict[str, Any]:
    """Quiet, page-loading and scraping probes against a watcher polling N batches."""
    say(f"live: simulator and watcher with {n:,} batches at {RATE:g} polls/s")
    server = Server(n)
    try:
        w = WatcherProc(server, n / RATE, "aiohttp", "", 50)
        try:
            hello = w.recv(timeout=60)
            first = w.call("watch", timeout=n / RATE * 3 + 60)
            say(f"  first cycle {first['first_cycle_s']:.1f} s ({first['up']}/{n} up)")
            base = hello["metrics_url"].removesuffix("/metrics")
            ids = random.Random(1).sample(server.ids, loaders)
            # each client its own pages, so no two loads share a render: the worst case for the render thread
            pages = [
                [f"/?page={k + 1}", f"/?sort=name&page={k + 1}", f"/?queue=none&name=x{k}", f"/batches/{ids[k]}"]
                for k in range(loaders)
            ]
            say("  probe: quiet")
            quiet = w.call("probe", timeout=seconds + 60, seconds=seconds)
            say(f"  probe: {loaders} clients loading pages")
            paging = probe_under(w, base, pages, seconds)
            say(f"  probe: {loaders} clients loading / (one page, renders shared)")
            same = probe_under(w, base, [["/"]] * loaders, seconds)
            say(f"  probe: {loaders} clients scraping /metrics (baseline)")
            scraping = probe_under(w, base, [["/metrics"]] * loaders, seconds)
            return {"first": first, "quiet": quiet, "pages": paging, "same_page": same, "scrapes": scraping}
        finally:
            w.close()
    finally:
        server.close()


def fmt(value: float | None) -> str:
    """A number of milliseconds, or a dash."""
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


def print_render(n: int, rows: list[tuple[str, dict[str, Any], int]]) -> None:
    """The render table, with each page's ratio to the warm /metrics baseline."""
    base = next(s for label, s, _ in rows if "warm" in label)["p50"]
    print(f"\nrender at {n:,} batches (ms, in one process)")
    print(f"{'page':<{W}}{'p50':>8}{'p99':>8}{'max':>8}{'x /metrics':>12}{'KB':>8}")
    for label, s, size in rows:
        print(
            f"{label:<{W}}{fmt(s['p50']):>8}{fmt(s['p99']):>8}{fmt(s['max']):>8}"
            f"{s['p50'] / base:>12.2f}{size / 1024 if size else 0:>8.0f}"
        )


def print_live(n: int, loaders: int, live: dict[str, Any]) -> None:
    """The lag table: the loop's oversleep and the clients' request times, per phase."""
    print(f"\npoll-loop lag at {n:,} batches, {RATE:g} polls/s, {loaders} concurrent clients (ms)")
    print(
        f"{'phase':<{W}}"
        + "".join(f"{h:>9}" for h in ("lag p50", "lag p99", "lag max", "polls/s", "req p50", "req p99", "reqs"))
    )
    rows = [
        ("quiet", live["quiet"], None),
        (f"{loaders} clients, distinct pages", live["pages"]["probe"], live["pages"]),
        (f"{loaders} clients, the same page", live["same_page"]["probe"], live["same_page"]),
        (f"baseline: {loaders} clients scraping /metrics", live["scrapes"]["probe"], live["scrapes"]),
    ]
    for label, probe, load in rows:
        lag = probe["oversleep_ms"]
        req = load["requests"] if load else {"p50": None, "p99": None, "n": 0}
        print(
            f"{label:<{W}}{fmt(lag['p50']):>9}{fmt(lag['p99']):>9}{fmt(lag['max']):>9}"
            f"{probe['polls'] / probe['wall']:>9.0f}{fmt(req['p50']):>9}{fmt(req['p99']):>9}{req['n']:>9}"
        )
        if load and load["n_errors"]:
            print(f"  {load['n_errors']} errors, e.g. {load['errors']}")


def main() -> int:
    """Parse the options, run both parts, print their tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--renders", type=int, default=40, help="timed renders per page")
    parser.add_argument("--loaders", type=int, default=10, help="concurrent clients in the live part")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each live probe")
    parser.add_argument("--no-live", action="store_true", help="only the in-process render part")
    args = parser.parse_args()
    rows = render_bench(args.batches, args.renders)
    print_render(args.batches, rows)
    if not args.no_live:
        print_live(args.batches, args.loaders, live_bench(args.batches, args.loaders, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
