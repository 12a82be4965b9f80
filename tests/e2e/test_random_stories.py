"""Seeded random stories driven while the real daemon polls; the event stream must match the simulator's truth.

Batches are laid out as their servers do: DLI; Livy >= 0.4, Livy <= 0.3 (no stdout/stderr markers, the
output reported as ``log``), Livy on Kubernetes and Livy on local Spark (no diagnostics); and some log endpoints
answer without markers.
"""

from __future__ import annotations

import io
import random
from typing import Any

import anyio
import pytest

from tests.helpers import assert_seq_gapless, make_config, simulator, start_watch
from tests.schemas import assert_valid
from watcher.core.log.layout import marker
from watcher.output.writer import EventWriter

pytestmark = pytest.mark.anyio
NEXT = {
    "starting": ["running"],
    "running": ["success", "dead", "running"],
    "dead": ["recovering"],
    "recovering": ["running"],
    "success": [],
}
LAYOUTS = {"dli": ["dli"], "livy": ["livy", "livy-0.3", "kubernetes", "local"]}
FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 503}),
    ("throttle", {"retry_after": 0.05}),
    ("malformed", {}),
    ("drop", {}),
    ("truncated", {}),
]


def is_subsequence(part, whole):
    it = iter(whole)
    return all(any(x == y for y in it) for x in part)


def holes_without_a_gap(events, stream, truth):
    """Lines of ``stream`` that follow missed lines with no gap of that stream since the line before them."""
    position = {line: n for n, line in enumerate(truth)}
    expected, gap, holes = 0, False, []
    for e in events:
        if e.fields.get("stream") != stream:
            continue
        if e.name == "batch.log_gap":
            gap = True
        elif e.fields["line"] in position:
            n = position[e.fields["line"]]
            if n != expected and not gap:
                holes.append(e.fields["line"])
            expected, gap = n + 1, False
    return holes


class Story:
    """Drives a World at random, remembering what it did."""

    def __init__(self, world, rng: random.Random, batches: int) -> None:
        self.world, self.rng = world, rng
        self.layout: dict[str, str] = {}
        self.ids = []
        for n in range(batches):
            layout = rng.choice(LAYOUTS[world.flavor])
            # some log endpoints answer the output alone, without markers (like DLI's published example)
            bid = world.add_batch(name=f"job-{n}", queue=f"q{n % 3}", layout=layout, log_markers=rng.random() < 0.6)
            self.layout[bid] = layout
            self.ids.append(bid)
        self.state = dict.fromkeys(self.ids, "starting")
        self.counter = 0
        self.removed: set[str] = set()

    def lines(self, bid: str, n: int) -> list[str]:
        self.counter += n
        return [f"{bid[:8]} line {self.counter - n + i}" for i in range(n)]

    def step(self) -> None:
        rng, world = self.rng, self.world
        live = [b for b in self.ids if b not in self.removed]
        bid = rng.choice(live)
        roll = rng.random()
        if roll < 0.55 and self.state[bid] in ("success", "dead"):
            # a finished batch's process has exited, so its output no longer grows (an unchanged window
            # of a finished batch is therefore not worth a log read: issue 12, item 4)
            return
        if roll < 0.45:
            # mostly small writes, sometimes bursts several times the 10-line window
            world.append_stdout(bid, self.lines(bid, rng.choice([1, 1, 2, 3, 5, 25, 60])))
        elif roll < 0.55:
            world.append_stderr(bid, self.lines(bid, rng.randint(1, 3)))
        elif roll < 0.62:
            world.set_diagnostics(bid, self.lines(bid, rng.randint(0, 3)))
        elif roll < 0.85 and NEXT[self.state[bid]]:
            self.state[bid] = rng.choice(NEXT[self.state[bid]])
            world.set_state(bid, self.state[bid])
        elif roll < 0.98:
            kind, params = rng.choice(FAULTS)
            world.inject(kind, bid, rng.randint(1, 3), **params)
        elif len(self.removed) < 2 and self.state[bid] in ("success", "dead"):
            world.remove(bid)
            self.removed.add(bid)

    def streams(self, bid: str) -> dict[str, str]:
        """Each true stream and the stream its lines are reported in (Livy <= 0.3 has no stdout marker)."""
        return {"stdout": "log" if self.layout[bid] == "livy-0.3" else "stdout", "stderr": "stderr"}

    def finish(self) -> None:
        for bid in self.ids:
            if bid not in self.removed and self.state[bid] not in ("success", "dead"):
                self.state[bid] = "success"
                self.world.set_state(bid, "success")


@pytest.mark.parametrize(("seed", "flavor"), [(1, "dli"), (2, "livy"), (3, "dli"), (4, "livy")])
async def test_random_story_stream_matches_the_truth(seed, flavor):
    """Lines and transitions arrive once, in order; gaps sit at real holes; seq gapless; all events fit the schemas."""
    rng = random.Random(seed)
    with simulator(flavor) as server:
        story = Story(server.world, rng, batches=15)
        cfg = make_config(
            server, story.ids, watch={"interval_seconds": 0.3, "concurrency": 6, "terminal_grace_seconds": 60.0}
        )
        async with anyio.create_task_group() as tg:
            run = await start_watch(tg, cfg)
            for _ in range(250):
                story.step()
                await anyio.sleep(rng.uniform(0, 0.04))
            story.finish()
            server.world.clear_faults()

            def unsettled() -> list[str]:
                """Batches whose final state or lines the watcher has not caught up with yet."""
                behind = []
                for bid in story.ids:
                    if bid in story.removed:
                        if not run.of(bid, "batch.gone"):
                            behind.append(f"{bid}: not gone")
                        continue
                    track = run.daemon.board.tracks[bid]
                    if track.state != story.state[bid] or not track.up:
                        behind.append(f"{bid}: state {track.state} up={track.up}")
                    gaps = {e.fields["stream"] for e in run.of(bid, "batch.log_gap")}
                    for stream, shown in story.streams(bid).items():
                        emitted, truth = run.lines(bid, shown), server.world.truth_lines(bid, stream)
                        if shown not in gaps and emitted != truth:
                            behind.append(f"{bid}: {stream} {len(emitted)}/{len(truth)}")
                return behind

            try:
                await run.wait_for(lambda: not unsettled(), timeout=30)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; behind: {unsettled()}") from None
            run.stopped.set()
    world = server.world
    assert_seq_gapless(run.events)
    total_lines = 0
    for bid in story.ids:
        gaps = {e.fields["stream"] for e in run.of(bid, "batch.log_gap")}
        for stream, shown in story.streams(bid).items():
            emitted, truth = run.lines(bid, shown), world.truth_lines(bid, stream)
            total_lines += len(emitted)
            assert len(set(emitted)) == len(emitted), f"{bid} {stream}: a line was emitted twice"
            assert is_subsequence(emitted, truth), f"{bid} {stream}: out of order or invented"
            # a batch removed between two polls takes its last lines with it, unobservably
            if shown not in gaps and bid not in story.removed:
                assert emitted == truth, f"{bid} {stream}: lines lost without a gap"
            assert not holes_without_a_gap(run.of(bid), shown, truth), f"{bid} {stream}: a gap is not at its hole"
        lines = [str(e.fields["line"]) for e in run.of(bid, "batch.log")]
        assert not [line for line in lines if marker(line)], f"{bid}: a section header was reported as a line"
        seen = [e.fields["to_state"] for e in run.of(bid, "batch.state_changed")]
        history = list(world.state_history(bid))
        assert is_subsequence(seen, history[1:]), (bid, seen, history)
        failed = run.of(bid, "batch.poll_failed")
        if failed and bid not in story.removed:
            assert run.of(bid, "batch.poll_recovered"), f"{bid}: failing never recovered"
    assert total_lines > 300
    assert assert_valid("json", run.out.getvalue().splitlines()) == len(run.events)
    assert_valid("ecs", EventWriter.for_format("ecs", "debug", io.StringIO()).lines(run.events))
