"""`logs` and `wait` stream a log of any length: each page printed before the next is asked for, RSS bounded."""

from __future__ import annotations

import io
import sys
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
