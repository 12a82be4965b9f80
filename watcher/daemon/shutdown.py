"""The shutdown drain: commit, write what the reader takes within the grace, say how the run ended, close."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from watcher import __version__
from watcher.daemon.ending import crash_reason, crash_traceback, refusal
from watcher.errors import SetupError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from watcher.core.board import Board
    from watcher.daemon.journal import Journal
    from watcher.daemon.notify import Notifier
    from watcher.daemon.outlet import Outlet
    from watcher.daemon.recorder import Recorder
    from watcher.daemon.store import Store

STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Ending:
    """What a run's end drains and closes, and whether the watcher got as far as starting (then a crash is said)."""

    board: Board
    outlet: Outlet
    journal: Journal
    store: Store | None
    notifier: Notifier
    recorder: Recorder | None
    started: anyio.Event


@asynccontextmanager
async def drained_at_exit(ending: Ending) -> AsyncIterator[None]:
    """Whatever ends the run, the drain; a crash is said (``watcher.crashed``) and a refusal unwrapped for exit 2."""
    crash: Exception | None = None
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - reported as watcher.crashed, then re-raised
        crash = exc
        raise refusal(exc) from None
    finally:
        await shut_down(ending, crash)


async def shut_down(ending: Ending, crash: Exception | None) -> None:
    """Commit and drain within ``STOP_GRACE_SECONDS``, close the state file, say how the run ended."""
    journal, pump, say = ending.journal, ending.outlet.pump, ending.outlet.say
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    with anyio.move_on_after(STOP_GRACE_SECONDS, shield=True):
        await journal.commit()
        # a reader that stopped reading gets until the deadline; what it missed stays in the outbox
        if await pump.drain(deadline - time.monotonic()) and journal.acknowledgeable:
            await journal.commit()
    if ending.store is not None:
        with anyio.move_on_after(1.0, shield=True):
            await anyio.to_thread.run_sync(ending.store.close)
    end = {"version": __version__, "batches": len(ending.board.tracks)}
    if crash is None:
        say("watcher.stopped", end)
    elif ending.started.is_set() and not isinstance(refusal(crash), SetupError):
        fields = {**end, "reason": crash_reason(crash), "traceback": crash_traceback(crash)}
        say("watcher.crashed", fields, "error")
    # the last lines get what is left of the grace (none when stdout itself is what failed)
    await pump.drain(max(0.0, deadline - time.monotonic()))
    ending.notifier.send("STOPPING=1")
    ending.notifier.close()
    if ending.recorder is not None:
        ending.recorder.close()
