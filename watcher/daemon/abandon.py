"""Blocking calls that may never return (a FIFO, a hung NFS mount), run where the event loop can walk away.

``anyio.to_thread.run_sync(..., abandon_on_cancel=True)`` stops waiting but keeps the call in one of
anyio's worker threads, which the interpreter joins at exit: a read that never returns would then
keep a stopped process alive. A daemon thread does not hold the exit up.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


async def run_abandonable(func: Callable[[], T], name: str) -> T:
    """``func()`` in a daemon thread; a cancelled caller stops waiting at once and the thread is left behind."""
    done = anyio.Event()
    token = anyio.lowlevel.current_token()
    outcome: list[T] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            outcome.append(func())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting task as is
            failure.append(exc)
        # a RuntimeError means the event loop is gone: nobody waits for this any more
        with contextlib.suppress(RuntimeError):
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=work, name=name, daemon=True).start()
    await done.wait()
    if failure:
        raise failure[0]
    return outcome[0]
