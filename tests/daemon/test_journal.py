"""The journal without a state file: small lots go straight out, large ones in chunks, and order is kept."""

from __future__ import annotations

import anyio
import pytest

from watcher.core.board import Board
from watcher.core.events import Event
from watcher.core.tracker import Track
from watcher.daemon.journal import WRITE_CHUNK, Journal

pytestmark = pytest.mark.anyio


def lot(batch: str, first: int, count: int) -> list[Event]:
    """``count`` log events of one batch, numbered from ``first``."""
    return [Event("batch.log", batch_id=batch, seq=n, fields={"line": str(n)}) for n in range(first, first + count)]


async def test_large_lots_are_written_in_chunks_and_nothing_overtakes_them():
    """A 1,000-line lot is written a chunk at a time; a lot submitted between its chunks comes after it."""
    writes: list[list[Event]] = []

    def write(chunk: list[Event]) -> None:
        writes.append(chunk)
        if len(writes) == 1:  # another poll finishes while the loop yields between chunks
            journal.submit(Track("a"), lot("a", 1001, 3), changed=True)

    journal = Journal(None, Board(), write)
    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run)
        journal.submit(Track("a"), lot("a", 1, 1000), changed=True)
        await anyio.wait_all_tasks_blocked()
        journal.submit(Track("b"), lot("b", 1, 2), changed=True)
        await journal.commit()
        tg.cancel_scope.cancel()
    written = [(e.batch_id, e.seq) for chunk in writes for e in chunk]
    assert written == [("a", n) for n in range(1, 1004)] + [("b", 1), ("b", 2)]
    assert max(len(chunk) for chunk in writes) <= WRITE_CHUNK
    assert len(writes) > 1000 // WRITE_CHUNK


async def test_small_lots_go_straight_out():
    """With nothing queued, a poll's few events are written at once, as one write."""
    writes: list[list[Event]] = []
    journal = Journal(None, Board(), writes.append)
    journal.submit(Track("a"), lot("a", 1, 3), changed=True)
    assert [len(chunk) for chunk in writes] == [3]
