"""`logs` and `wait` stream a log of any length: each page printed before the next is asked for, RSS bounded."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.logserver import BATCH, PROJECT, LogServer
from watcher.commands.follow import LOG_PAGE
from watcher.commands.wait import TailRing, WaitOptions, logs, wait
from watcher.config.settings import parse
from watcher.core.log.diff import LogTrack, diff_log
from watcher.core.log.history import Labeller

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


class Seen:
    """What was written before each log page was asked for."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.before: dict[int, int] = {}

    def page(self, start: int) -> None:
        """A page request arrived: note how many lines were out by then."""
        self.before[start] = self.out.getvalue().count("\n")


@pytest.mark.parametrize("command", ["logs", "wait --json"])
def test_page_1_is_written_before_page_2_is_asked_for(command: str):
    """Three pages: when page 2 is requested every line of page 1 is already out, and so on."""
    seen = Seen()
    with LogServer("honest", total=3 * LOG_PAGE, on_page=seen.page, state="running") as server:
        cfg = config(server)
        err = io.StringIO()
        if command == "logs":
            opts = WaitOptions(logs_only=True, streams=frozenset({"stdout"}))
            code = anyio.run(logs, cfg, BATCH, None, opts, seen.out, err)
        else:  # a running batch: its history is the point, the follow ends at the deadline (exit 6)
            code = anyio.run(wait, cfg, [BATCH], WaitOptions(json=True, timeout=3), seen.out, err) - 6
    assert code == 0, err.getvalue()
    # page 1 holds the stdout marker and 999 lines
    assert seen.before[LOG_PAGE] >= LOG_PAGE - 1
    assert seen.before[2 * LOG_PAGE] >= 2 * LOG_PAGE - 1


def test_a_tail_keeps_n_lines_and_at_most_its_byte_bound():
    """The ring: the last N lines; lines too long to fit are skipped, and counted."""
    size = sys.getsizeof("aaaa")
    ring = TailRing(3, max_bytes=2 * size + 1)
    ring.add([("stdout", "aaaa"), ("stdout", "bbbb"), ("stdout", "cccc"), ("stdout", "dddd")])
    assert ring.lines() == [("stdout", "cccc"), ("stdout", "dddd")]
    assert ring.seen == 4 and ring.cut == 1  # bbbb: among the last 3, but it did not fit
    ring = TailRing(2)
    ring.add([("stdout", str(n)) for n in range(10)])
    assert ring.lines() == [("stdout", "8"), ("stdout", "9")] and ring.cut == 0


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


@pytest.mark.slow
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


@pytest.mark.slow
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


LOGS = {
    "dli": ["stdout: ", "a", "b", "stderr: ", "e1", "YARN Diagnostics: ", "d1"],
    "livy": ["stdout: ", "a", "\nstderr: ", "e1", "e2", "\nKubernetes Diagnostics: ", "d1", "d2"],
    "livy-0.3": ["out 1", "out 2", "YARN Diagnostics:", "d1"],
    "livy-local": ["stdout: ", "a", "\nstderr: ", "e1", "e2"],
    "plain": ["just", "lines", "here"],
}


@pytest.mark.parametrize("name", sorted(LOGS))
@pytest.mark.parametrize("page", [1, 2, 3, 100])
def test_labelling_a_page_at_a_time_is_labelling_the_whole_log(name: str, page: int):
    """The streamed labels and the track they leave are the whole-log diff's, whatever the page size."""
    lines = LOGS[name]
    whole = diff_log(LogTrack(), (), backfill=lines, from_start=True)
    labeller = Labeller()
    streamed = [item for at in range(0, len(lines), page) for item in labeller.feed(lines[at : at + page])]
    assert streamed == list(whole.lines)
    track = labeller.track()
    assert track.streams == whole.track.streams
    assert track.layout == whole.track.layout


def test_a_lying_log_endpoint_is_read_once_and_said_to_be_incomplete():
    """A server that answers every page with the first and claims an endless log: one page out, and a note."""
    with LogServer("lying") as server:
        out, err = io.StringIO(), io.StringIO()
        opts = WaitOptions(logs_only=True, streams=frozenset({"stdout"}))
        code = anyio.run(logs, config(server), BATCH, None, opts, out, err)
        pages = server.pages
    assert code == 0
    assert pages == 2  # the first page, and the one that gave itself away
    assert len(out.getvalue().splitlines()) == LOG_PAGE - 1  # the stdout marker is not a line
    assert "answered line 0 when asked for line 1000" in err.getvalue()
