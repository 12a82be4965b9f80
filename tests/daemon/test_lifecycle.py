"""How the daemon ends: a crash says `watcher.crashed` once (never `stopped`), its reason flattened to one line."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.helpers import make_config
from watcher.daemon.app import Daemon
from watcher.daemon.ending import crash_reason
from watcher.output.writer import EventWriter

if TYPE_CHECKING:
    from watcher.core.events import Event
    from watcher.simulator import SimServer


def test_crash_reason_is_one_line_naming_every_cause():
    """Nested groups flatten to `Type: message` parts; newlines in messages never reach the event."""
    group = ExceptionGroup("outer", [ValueError("bad\nvalue"), ExceptionGroup("inner", [OSError(28, "full")])])
    assert crash_reason(group) == "ValueError: bad value; OSError: [Errno 28] full"


@pytest.mark.anyio
async def test_a_crash_is_reported_once_as_crashed_not_stopped(sim: SimServer):
    """An unexpected error ends the daemon with one `watcher.crashed` (error, the reason) and no `stopped`."""
    bid = sim.world.add_batch(name="job", state="running")
    cfg = make_config(sim, [bid])
    out = io.StringIO()

    def explode(event: Event) -> None:
        if event.name == "batch.discovered":
            raise RuntimeError("the embedding hook failed")

    daemon = Daemon(cfg, lambda: cfg, {}, on_event=explode, writer=EventWriter.for_format("json", "info", out))
    with pytest.raises(BaseException, match=r"unhandled errors|the embedding hook failed"):
        with anyio.fail_after(20):
            await daemon.run()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    ends = [e for e in lines if e["event"] in ("watcher.stopped", "watcher.crashed")]
    assert [e["event"] for e in ends] == ["watcher.crashed"]
    assert ends[0]["level"] == "error"
    assert ends[0]["reason"] == "RuntimeError: the embedding hook failed"
    # the traceback goes into the event for the bug report, innermost frame included
    assert "in explode" in ends[0]["traceback"] and "RuntimeError: the embedding hook failed" in ends[0]["traceback"]
