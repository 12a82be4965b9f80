"""A full disk under a running watcher: reported, polls held, commits retried, and nothing lost or repeated.

The disk is filled without privileges: SQLite's ``max_page_count`` on the watcher's own connection makes
every commit that needs a new page fail with SQLITE_FULL, exactly as a full file system does. Where a
tmpfs can be mounted (CI runs as root), a real full disk under a `dli-watcher run` subprocess too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from tests.helpers import assert_seq_gapless, make_config, start_watch

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    from watcher.simulator import SimServer

pytestmark = pytest.mark.anyio

BIG = "x" * 2000  # lines that need new pages in the outbox


def cap_pages(db: sqlite3.Connection, extra: int) -> None:
    """Let the state file grow by at most ``extra`` pages (a huge number lifts the cap)."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages + extra}")


async def test_full_disk_is_reported_holds_polls_and_loses_nothing(sim: SimServer, tmp_path: Path):
    """While commits fail: one error event, /readyz 503, no new lines; once space is back every line, once."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid], state={"path": str(tmp_path / "state.db")})
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, cfg)
        await run.wait_for(lambda: run.of(bid, "batch.discovered"))
        store = run.daemon.store
        assert store is not None
        cap_pages(store._db, 0)
        sim.world.append_stdout(bid, [f"{n} {BIG}" for n in range(8)])
        await run.wait_for(lambda: any(e.name == "watcher.state_write_failed" for e in run.events))
        async with httpx.AsyncClient(base_url=run.metrics_url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "state file not writable" in ready.text
            assert (await http.get("/healthz")).status_code == 200
            sim.world.append_stdout(bid, [f"held {n} {BIG}" for n in range(25)])  # past the 10-line window
            await run.wait_for(lambda: run.daemon.stats.held_polls >= 3)  # polls held, not committed
            metrics = (await http.get("/metrics")).text
        assert "dli_watcher_state_writable 0.0" in metrics
        assert not run.lines(bid)  # nothing was written that was not committed
        held = run.daemon.stats.held_polls
        assert held > 0
        cap_pages(store._db, 1 << 30)
        await run.wait_for(lambda: any(e.name == "watcher.state_write_recovered" for e in run.events))
        sim.world.set_state(bid, "success")
        await run.wait_for(lambda: run.of(bid, "batch.finished"))
        run.stopped.set()
    assert run.lines(bid) == sim.world.truth_lines(bid, "stdout")
    assert_seq_gapless(run.events)
    failed = [e for e in run.events if e.name == "watcher.state_write_failed"]
    assert len(failed) == 1 and failed[0].level == "error" and "full" in str(failed[0].fields["reason"])
