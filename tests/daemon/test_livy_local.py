"""Livy on local or standalone Spark: stdout and stderr only, no diagnostics; /log paced while the output is hidden."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from tests.helpers import make_config, simulator, start_watch
from watcher.api.client import LogPage
from watcher.api.policy import RequestPolicy
from watcher.config.settings import ApiConfig
from watcher.core.log.diff import LogTrack, diff_log
from watcher.core.log.layout import WINDOW_SIZE, layout_of
from watcher.core.model import Snapshot
from watcher.core.tracker import Track, observe
from watcher.daemon.backfill import LogReader
from watcher.errors import NotFoundError
from watcher.simulator.layouts import render_log

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tests.helpers import WatchRun
    from watcher.core.events import Event
    from watcher.simulator.server import SimServer

    PolledTrack = tuple[Track, list[Event]]

OUT = [f"24/05/02 10:00:{i:02d} INFO SparkContext: step {i}" for i in range(5)]
ERR = [f"24/05/02 10:01:{i:02d} WARN TaskSetManager: Lost task {i}.0 in stage 3.0" for i in range(40)]


def local(stdout: Sequence[str], stderr: Sequence[str]) -> list[str]:
    return render_log("local", stdout, stderr, ())


class TestLayout:
    def test_a_stderr_marker_without_a_header_after_it_is_local(self):
        """YARN and Kubernetes always follow stderr with a header: a window showing stderr without one is local."""
        assert layout_of("plain", local(OUT, ERR[:2])) == "local"
        assert layout_of("local", ["stdout: ", "o", "\nstderr: ", "e", "\nYARN Diagnostics: "]) == "sectioned"
        assert layout_of("local", ERR[:10]) == "local"  # no marker in view: as before

    def test_a_full_window_without_markers_is_stderr_not_diagnostics(self):
        """Once a window showed the local layout, a window of ten stderr lines continues stderr."""
        first = diff_log(LogTrack(), local(OUT, ERR[:3]))
        later = diff_log(first.track, local(OUT, ERR[:11])[-WINDOW_SIZE:])  # two lines overlap: no doubt
        assert later.lines == tuple(("stderr", line) for line in ERR[3:11])
        assert later.uncertain == ()
        assert first.track.layout == later.track.layout == "local"

    def test_a_burst_of_stderr_is_a_stderr_gap(self):
        """Stderr scrolled past the window without overlap: a stderr gap, never a diagnostics one."""
        first = diff_log(LogTrack(), local(OUT, ERR[:3]))
        later = diff_log(first.track, local(OUT, ERR)[-WINDOW_SIZE:])
        assert later.uncertain == ("stderr",)
        assert {stream for stream, _ in later.lines} == {"stderr"}


class CountingLog:
    """A log endpoint answering the whole local log, or not found, counting its reads."""

    def __init__(self, lines: list[str] | None) -> None:
        self.lines, self.reads = lines, 0

    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage:  # noqa: ARG002
        self.reads += 1
        if self.lines is None:
            raise NotFoundError("Logs of session '3' are not available.")
        return LogPage(0, len(self.lines), tuple(self.lines[-size:]))


def reader(endpoint: CountingLog, every: float = 60.0) -> LogReader:
    return LogReader(endpoint, RequestPolicy(ApiConfig(endpoint="http://local.invalid"), 1), enabled=True, every=every)


async def poll(log: LogReader, track: Track, window: list[str], now: float, state: str = "running") -> PolledTrack:
    """One poll of a window through the reader and the tracker: the next track and the poll's events."""
    snap = Snapshot("3", state, state, log=tuple(window))
    return observe(track, snap, now, await log.diff(track, snap, now))


class TestPacing:
    async def test_hidden_output_is_read_at_most_once_a_minute(self):
        """Every 15 s a poll of an unchanged all-stderr window: /log at 0 s and 60 s, not at every poll."""
        window = local(OUT, ERR[:12])[-WINDOW_SIZE:]
        endpoint = CountingLog(local(OUT, ERR[:12]))
        log, track = reader(endpoint), Track("3")
        reads = []
        for n in range(6):
            track, _ = await poll(log, track, window, 1_700_000_000.0 + 15 * n)
            reads.append(endpoint.reads)
        assert reads == [1, 1, 1, 1, 2, 2]

    async def test_three_useless_answers_stop_the_reads_until_the_finish_said_once(self):
        """Three not-found answers in a row: one batch.log_unavailable, no read while it runs, one at the finish."""
        endpoint = CountingLog(None)
        log, track, events = reader(endpoint, every=0.0), Track("3"), []
        for n in range(6):
            # each poll a burst past the window: uncertain, which would read the endpoint every time
            window = local(OUT, ERR[: 12 + 11 * n])[-WINDOW_SIZE:]
            track, new = await poll(log, track, window, 1_700_000_000.0 + 15 * n)
            events += new
        assert endpoint.reads == 3
        said = [e for e in events if e.name == "batch.log_unavailable"]
        assert [(e.level, e.fields["failed_reads"]) for e in said] == [("warning", 3)]
        track, _ = await poll(log, track, local(OUT, ERR)[-WINDOW_SIZE:], 1_700_000_100.0, "success")
        assert endpoint.reads == 4
        await poll(log, track, local(OUT, ERR)[-WINDOW_SIZE:], 1_700_000_115.0, "success")
        assert endpoint.reads == 4

    async def test_a_useful_answer_resets_the_count(self):
        """Not found twice, then an answer that fits: the count starts again, nothing is said."""
        endpoint = CountingLog(None)
        log, track = reader(endpoint, every=0.0), Track("3")
        for n in range(2):
            track, _ = await poll(log, track, local(OUT, ERR[: 12 + 11 * n])[-WINDOW_SIZE:], 1_700_000_000.0 + n)
        assert track.log.misses == 2
        endpoint.lines = local(OUT, ERR[:40])
        track, events = await poll(log, track, local(OUT, ERR[:40])[-WINDOW_SIZE:], 1_700_000_010.0)
        assert track.log.misses == 0
        assert not [e for e in events if e.name == "batch.log_unavailable"]


pytestmark = pytest.mark.anyio


async def two_more_polls(run: WatchRun, server: SimServer) -> None:
    """Wait until the watcher polled twice more: the change made before is seen, whatever the CPU's pace."""
    target = server.requests["details"] + 2
    await run.wait_for(lambda: server.requests["details"] >= target)


@pytest.mark.parametrize("endpoint", [True, False], ids=["log-endpoint", "no-log-endpoint"])
async def test_a_local_livy_batch_reports_stderr_and_never_diagnostics(endpoint):
    """Simulated Livy on local Spark: every stdout and stderr line once, in its stream; no diagnostics, no gap."""
    with simulator("livy", log_endpoint=endpoint) as server:
        world = server.world
        bid = world.add_batch(name="local-pi", state="running", layout="local")
        world.append_stdout(bid, OUT)
        cfg = make_config(server, [bid], watch={"interval_seconds": 0.1, "terminal_grace_seconds": 0.3})
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            await run.wait_for(lambda: run.lines(bid, "stdout") == OUT)
            for n in range(0, len(ERR), 5):  # five lines a poll: the window soon shows stderr only
                world.append_stderr(bid, ERR[n : n + 5])
                await two_more_polls(run, server)
            world.set_state(bid, "success")
            await run.wait_for(lambda: run.of(bid, "batch.finished"))
            run.stopped.set()
    assert run.lines(bid, "stdout") == OUT
    assert run.lines(bid, "stderr") == ERR
    assert not run.of(bid, "batch.log_gap")
    # stdout hidden for many 0.1 s polls: one read when it hid (paced to a minute after), one at the finish
    assert server.requests["log"] == 2
    assert {e.fields["stream"] for e in run.of(bid, "batch.log")} == {"stdout", "stderr"}


async def test_a_missing_log_endpoint_is_given_up_and_said_once():
    """Livy answers /log 404: three reads on bursts, one batch.log_unavailable, then only the finish's read."""
    with simulator("livy", log_endpoint=False) as server:
        world = server.world
        bid = world.add_batch(name="local-pi", state="running", layout="local")
        world.append_stdout(bid, OUT)
        cfg = make_config(server, [bid], watch={"interval_seconds": 0.1, "terminal_grace_seconds": 0.3})
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            await run.wait_for(lambda: run.lines(bid, "stdout") == OUT)
            for n in range(6):  # bursts past the window: each poll's stderr is uncertain
                world.append_stderr(bid, [f"burst {n} line {i}" for i in range(15)])
                await two_more_polls(run, server)
            assert server.requests["log"] == 3
            world.set_state(bid, "success")
            await run.wait_for(lambda: run.of(bid, "batch.finished"))
            await run.wait_for(lambda: server.requests["log"] == 4)
            run.stopped.set()
    said = run.of(bid, "batch.log_unavailable")
    assert [e.level for e in said] == ["warning"]
    assert run.of(bid, "batch.log_gap")
    assert all(e.fields["stream"] == "stderr" for e in run.of(bid, "batch.log_gap"))
