"""The watcher under benchmark, alone in its own process: a Daemon driven by JSON commands on stdin.

Run by ``run.py``; not meant to be started by hand. It starts a Daemon watching nothing, reports
its RSS, and then answers one JSON line on stdout per command line read from stdin:

- ``watch``: SIGHUP-reload to the N batches, wait until each was polled once (the first cycle);
- ``window``: process CPU, batch-polls and per-second poll starts over ``seconds``;
- ``probe``: oversleep of a task doing ``await anyio.sleep(period)`` in the daemon's event loop;
- ``events``: when each ``batch.state_changed`` was emitted, per batch ID (then forgets them);
- ``profile``: the top functions of a cProfile run over ``seconds``;
- ``stop``: stop the daemon and exit.

Events are rendered as usual but written to /dev/null: stdout carries the replies.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import signal
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
import psutil
from benchstats import summary_ms

from watcher.cli import process_settings
from watcher.config.settings import ApiConfig, Config, MetricsConfig, WatchConfig
from watcher.daemon.app import Daemon
from watcher.daemon.poller import Poller
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from watcher.core.events import Event

DEVNULL = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - the event stream's sink, for the process's life


def make_config(args: argparse.Namespace, batch_ids: tuple[str, ...]) -> Config:
    """The watcher's config for this run: auth none, metrics on an ephemeral port."""
    watch: dict[str, Any] = {
        "batch_ids": batch_ids,
        "interval_seconds": args.interval,
        "concurrency": args.concurrency,
    }
    if args.mode:
        watch["mode"] = args.mode
    return Config(
        api=ApiConfig(endpoint=args.url, project_id=args.project_id, transport=args.transport),
        watch=WatchConfig(**watch),
        metrics=MetricsConfig(port=0),
    )


def rss_bytes() -> int:
    """The resident set size after a full garbage collection."""
    gc.collect()
    return int(psutil.Process().memory_info().rss)


class Bench:
    """The daemon under test plus what the commands record about it."""

    def __init__(self, args: argparse.Namespace) -> None:
        """Read the batch IDs; build the daemon with none of them (the reload brings them)."""
        self.args = args
        self.ids = tuple(line.strip() for line in open(args.ids_file, encoding="utf-8") if line.strip())  # noqa: SIM115
        self.full = make_config(args, self.ids)
        writer = EventWriter.for_format("json", "info", DEVNULL)
        self.daemon = Daemon(make_config(args, ()), lambda: self.full, {}, on_event=self.on_event, writer=writer)
        self.stop = anyio.Event()
        self.address: tuple[str, int] | None = None
        self.listening = anyio.Event()
        self.changed: dict[str, list[float]] = {}
        self.starts: list[float] | None = None

    def on_event(self, event: Event) -> None:
        """Timestamp each state change as it is emitted."""
        if event.name == "batch.state_changed" and event.batch_id is not None:
            self.changed.setdefault(event.batch_id, []).append(time.time())

    def polls(self) -> float:
        """Batch-polls finished so far (the dli_watcher_polls_total counter)."""
        return float(self.daemon.stats.polls)

    def record_poll_starts(self) -> None:
        """Wrap Poller._poll (class-wide) so each poll's start time lands in ``starts`` while recording."""
        original = Poller._poll
        bench = self

        async def _poll(poller: Poller, *args: Any, **kwargs: Any) -> None:
            """Note the start, then poll as usual."""
            if bench.starts is not None:
                bench.starts.append(time.time())
            await original(poller, *args, **kwargs)

        Poller._poll = _poll  # type: ignore[method-assign,assignment]

    async def cmd_watch(self) -> dict[str, Any]:
        """Reload to the N batches and wait until every one was polled once."""
        t0, polls0 = time.monotonic(), self.polls()
        os.kill(os.getpid(), signal.SIGHUP)
        while True:
            tracks = self.daemon.board.tracks
            if len(tracks) == len(self.ids) and all(t.presence != "pending" for t in tracks.values()):
                break
            await anyio.sleep(0.05)
        up = sum(1 for t in self.daemon.board.tracks.values() if t.up)
        return {"first_cycle_s": time.monotonic() - t0, "polls": self.polls() - polls0, "up": up}

    async def cmd_window(self, seconds: float) -> dict[str, Any]:
        """CPU, polls and poll starts per whole second over a steady-state window."""
        self.starts = []
        ru0, cpu0, polls0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), self.polls(), time.time()
        await anyio.sleep(seconds)
        ru1, cpu1, polls1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), self.polls(), time.time()
        starts, self.starts = self.starts, None
        buckets = Counter(int(s - t0) for s in starts)
        return {
            "wall": t1 - t0,
            "cpu": cpu1 - cpu0,
            "user": ru1.ru_utime - ru0.ru_utime,
            "sys": ru1.ru_stime - ru0.ru_stime,
            "polls": polls1 - polls0,
            "poll_starts": len(starts),
            "buckets": [buckets.get(i, 0) for i in range(int(t1 - t0))],
            "rss": rss_bytes(),
            "tracks": len(self.daemon.board.tracks),
        }

    async def cmd_probe(self, seconds: float, period: float = 0.005) -> dict[str, Any]:
        """How late ``await anyio.sleep(period)`` wakes up in the daemon's loop, over ``seconds``."""
        over: list[float] = []
        cpu0, polls0 = time.process_time(), self.polls()
        end = time.perf_counter() + seconds
        while (t := time.perf_counter()) < end:
            await anyio.sleep(period)
            over.append(time.perf_counter() - t - period)
        wall = seconds + (time.perf_counter() - end)
        return {
            "oversleep_ms": summary_ms(over),
            "cpu": time.process_time() - cpu0,
            "polls": self.polls() - polls0,
            "wall": wall,
        }

    async def cmd_events(self) -> dict[str, Any]:
        """The state-change emission times recorded since the last call."""
        changed, self.changed = self.changed, {}
        return {"state_changed": changed}

    async def cmd_profile(self, seconds: float, top: int = 30) -> dict[str, Any]:
        """Profile (cProfile) the event-loop thread for ``seconds``; the top functions by own time and by cumulative."""
        prof = cProfile.Profile()
        polls0 = self.polls()
        prof.enable()
        await anyio.sleep(seconds)
        prof.disable()
        polls = self.polls() - polls0
        out: dict[str, Any] = {"polls": polls, "seconds": seconds}
        for key in ("tottime", "cumulative"):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(top)
            out[key] = buf.getvalue()
        stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]  # filled in by the constructor
        rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
        out["rows"] = [
            {"func": f"{fn}:{line}({name})", "ncalls": nc, "tottime": tt, "cumtime": ct}
            for (fn, line, name), (_cc, nc, tt, ct, _callers) in rows
        ]
        return out

    async def cmd_stop(self) -> dict[str, Any]:
        """Stop the daemon."""
        self.stop.set()
        return {"stopping": True}


def reply(obj: dict[str, Any]) -> None:
    """Write one JSON line to the bench."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def commands(bench: Bench) -> None:
    """Answer command lines from stdin until ``stop`` or EOF."""
    handlers: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
        "watch": bench.cmd_watch,
        "window": bench.cmd_window,
        "probe": bench.cmd_probe,
        "events": bench.cmd_events,
        "profile": bench.cmd_profile,
        "stop": bench.cmd_stop,
    }
    while not bench.stop.is_set():
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        if not line:
            bench.stop.set()
            return
        cmd = json.loads(line)
        name = cmd.pop("cmd")
        reply({"cmd": name, **await handlers[name](**cmd)})


async def main(args: argparse.Namespace) -> None:
    """Start the daemon with no batches, report the base RSS, then serve commands."""
    process_settings()
    bench = Bench(args)
    bench.record_poll_starts()

    def listening(host: str, port: int) -> None:
        """Remember where /metrics is."""
        bench.address = (host, port)
        bench.listening.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: bench.daemon.run(until=bench.stop.wait, on_listen=listening))
        await bench.listening.wait()
        await anyio.sleep(1.0)  # let the metrics thread and the loop settle
        assert bench.address is not None
        host, port = bench.address
        reply({"cmd": "hello", "pid": os.getpid(), "metrics_url": f"http://{host}:{port}/metrics", "rss0": rss_bytes()})
        await commands(bench)
    reply({"cmd": "stopped"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the watcher under benchmark (see run.py)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--ids-file", required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--transport", choices=["aiohttp", "httpx"], default="aiohttp")
    parser.add_argument("--mode", default="")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help="uvloop: the bench extra")
    args = parser.parse_args()
    anyio.run(main, args, backend_options={"use_uvloop": args.loop == "uvloop"})
