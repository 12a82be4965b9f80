"""A stepped wall clock (an NTP step, a VM restore) neither stops nor floods polling, end to end under libfaketime.

The watcher runs as a subprocess with libfaketime preloaded, its offset read from a file on every call,
and the monotonic clock left alone (``FAKETIME_DONT_FAKE_MONOTONIC=1``), as a real clock step behaves.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.procs import WatcherProcess, write_config
from tests.tools import require_file

if TYPE_CHECKING:
    from watcher.simulator import SimServer


INTERVAL_SECONDS = 0.2  # tests.procs.write_config's watch.interval_seconds
RATE_POLLS = 10
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def faketime_env(offset_file: Path) -> dict[str, str]:
    """Environment for a process whose wall clock follows ``offset_file`` (e.g. ``-3600``) and monotonic does not."""
    return {
        "LD_PRELOAD": str(require_file(LIBFAKETIME, "faketime")),
        "FAKETIME_TIMESTAMP_FILE": str(offset_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def step_clock(offset: Path, step: str) -> None:
    """Set the watcher's clock offset in one atomic rename: libfaketime must never read a half-written file."""
    fresh = offset.with_suffix(".new")
    fresh.write_text(step + "\n")
    fresh.replace(offset)


def has_line(proc: WatcherProcess, bid: str, line: str) -> bool:
    """Whether the watcher has emitted ``line`` for ``bid``."""
    return line in [e.get("line") for e in proc.of(bid, "batch.log")]


def polls_of(server: SimServer) -> int:
    """How many details requests the simulator has answered."""
    return server.requests["details"]


def test_wall_clock_steps_back_and_forward_an_hour_and_polling_goes_on(tmp_path: Path, sim: SimServer):
    """After a one-hour backward step new lines still arrive within seconds and /healthz tells the truth."""
    offset = tmp_path / "offset"
    offset.write_text("+0\n")
    bid = sim.world.add_batch(name="job", state="running")
    config = write_config(tmp_path / "config.toml", sim, [bid])
    proc = WatcherProcess(config, env=faketime_env(offset))
    try:
        proc.wait_for(lambda: proc.of(bid, "batch.discovered"))
        health = proc.metrics_url + "/healthz"
        for step, line in (("-3600", "after the step back"), ("+3600", "after the step forward")):
            step_clock(offset, step)
            stepped = polls_of(sim)
            # two polls since the step: the second one's slot was computed on the moved clock
            proc.wait_for(lambda n=stepped: polls_of(sim) >= n + 2, timeout=10)  # type: ignore[misc]
            sim.world.append_stdout(bid, [line])
            proc.wait_for(partial(has_line, proc, bid, line), timeout=10)
            assert httpx.get(health, timeout=5).status_code == 200
        before, began = polls_of(sim), time.monotonic()
        proc.wait_for(lambda: polls_of(sim) >= before + RATE_POLLS, timeout=10)
        took = time.monotonic() - began
    finally:
        assert proc.stop() == 0
    # 0.2 s interval: ten polls take about two seconds, not the milliseconds of a backlog of an hour's slots
    assert took >= RATE_POLLS * INTERVAL_SECONDS / 4, f"{RATE_POLLS} polls in {took:.2f} s"
