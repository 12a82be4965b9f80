"""`logs` and `wait` as processes keep their peak RSS under 100 MB on a 200 MB log and an endless one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from tests.logserver import BATCH, PROJECT, LogServer
from watcher.commands.follow import LOG_PAGE
from watcher.config.settings import parse

if TYPE_CHECKING:
    from watcher.config.settings import Config

MB = 1_000_000
# the bound the issue sets on a one-shot command's peak RSS, whatever the log
PEAK_RSS_LIMIT = 100 * 1024 * 1024
WIDTH = 2000  # characters per line: 200 MB is 100,000 lines, 100 pages
ENDLESS_SECONDS = 20
ENDLESS_PAGES = 20


def config(server: LogServer) -> Config:
    """No config file: the endpoint and project, as a CI job gives them."""
    return parse({"api": {"endpoint": server.url, "project_id": PROJECT}, "auth": {"method": "none"}}, {})


def start(server: LogServer, *args: str) -> subprocess.Popen[bytes]:
    """``dli-watcher ARGS`` against ``server``, its output discarded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "HTTP", "HUAWEICLOUD"))}
    env.update(
        DLI_WATCHER_ENDPOINT=server.url,
        DLI_WATCHER_PROJECT_ID=PROJECT,
        DLI_WATCHER_AUTH="none",
        DLI_WATCHER_CONFIG="/nonexistent/config.toml",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def peak_rss(proc: subprocess.Popen[bytes]) -> tuple[int, int]:
    """Wait for ``proc``; its exit code and its peak RSS in bytes since it exec'd (VmHWM, read until it exits).

    Not ``ru_maxrss``: Linux carries a forked child's pre-exec high-water mark into it, and that is the
    test process's own size (about 140 MB late in a full run), not the command's.
    """
    peak = 0
    while (hwm := vm_hwm(proc.pid)) is not None:  # None once it has exited: its memory is gone
        peak = max(peak, hwm)
        time.sleep(0.01)
    return proc.wait(), peak


def peaks(procs: list[subprocess.Popen[bytes]]) -> list[tuple[int, int]]:
    """``peak_rss`` of several processes at once, each read while it runs."""
    with ThreadPoolExecutor(len(procs)) as pool:
        return list(pool.map(peak_rss, procs))


def vm_hwm(pid: int) -> int | None:
    """A live process's peak RSS in bytes, as /proc says it; None once it has exited."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        return None
    return None  # a zombie: no memory left to measure


def test_an_honest_200_mb_log_streams_within_100_mb():
    """A 200 MB log, and a --tail over 24 MiB: peak RSS under 100 MB; the tail says what it skipped."""
    lines = 200 * MB // WIDTH
    # the tail needs a log only past its 24 MiB bound: 50 MB, all of it asked for
    tailed = 50 * MB // WIDTH
    with LogServer("honest", total=lines, width=WIDTH) as whole, LogServer("honest", total=tailed, width=WIDTH) as tail:
        procs = [start(whole, "logs", BATCH), start(tail, "logs", BATCH, "--tail", str(tailed))]
        (code, rss), (tail_code, tail_rss) = peaks(procs)
        notes = b"".join(p.stderr.read() for p in procs if p.stderr).decode()
        for proc in procs:
            if proc.stderr:
                proc.stderr.close()
        pages = whole.pages
    print(f"peak RSS: whole 200 MB log {rss / 2**20:.1f} MiB, --tail {tailed} of 50 MB {tail_rss / 2**20:.1f} MiB")
    assert code == 0 and tail_code == 0, notes
    assert pages >= lines // LOG_PAGE  # every page was read
    assert rss < PEAK_RSS_LIMIT and tail_rss < PEAK_RSS_LIMIT
    assert "were skipped to stay within 24 MiB" in notes


def test_an_endless_log_is_streamed_within_100_mb():
    """A log endpoint that never ends: `logs` and `wait` keep printing, their peak RSS stays under 100 MB."""
    with LogServer("endless", width=WIDTH) as for_logs, LogServer("endless", width=WIDTH, state="running") as for_wait:
        procs = [start(for_logs, "logs", BATCH), start(for_wait, "wait", BATCH, "--json")]
        deadline = time.monotonic() + ENDLESS_SECONDS
        # 20 pages of 2 MB: past the 32 MiB a history may hold
        while time.monotonic() < deadline and min(for_logs.pages, for_wait.pages) < ENDLESS_PAGES:
            time.sleep(0.1)
        read = (for_logs.pages, for_wait.pages)
        hwm = [vm_hwm(p.pid) or 0 for p in procs]
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        results = peaks(procs)
        for proc in procs:
            if proc.stderr:
                proc.stderr.close()
    pairs = zip(results, hwm, strict=True)
    shown = [f"{rss / 2**20:.1f} MiB (VmHWM {peak / 2**20:.1f} MiB)" for (_, rss), peak in pairs]
    print(f"peak RSS of logs, wait after {read} pages of an endless log: {shown}")
    assert max(hwm) < PEAK_RSS_LIMIT
    assert min(read) >= ENDLESS_PAGES, read
    for code, rss in results:
        assert code in (0, 130)
        assert rss < PEAK_RSS_LIMIT
