"""Record and replay (issue 31): a run's API answers recorded, replayed offline byte for byte, and served again."""

from __future__ import annotations

import io
import json
import stat
import time
from argparse import Namespace
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkdli.v1 import DliClient, ShowSparkJobRequest

from tests.helpers import make_config, simulator
from watcher.api.recordfile import parse_recording, read_recording
from watcher.commands import replay as replay_cmd
from watcher.commands.record import open_recorder, target_document
from watcher.commands.wait import WaitOptions, wait
from watcher.daemon.app import Daemon
from watcher.daemon.recorder import Recorder, header
from watcher.daemon.replay import replay
from watcher.output.writer import EventWriter
from watcher.simulator import SimServer, World
from watcher.simulator.replayserver import ReplayApp

if TYPE_CHECKING:
    from pathlib import Path

    from watcher.config.settings import Config
    from watcher.core.events import Event

pytestmark = pytest.mark.anyio


def document(cfg: Config) -> dict[str, Any]:
    """The config file a run of ``cfg`` would have read (what the header keeps)."""
    api, watch = cfg.api, cfg.watch
    return {
        "api": {
            "flavor": api.flavor,
            "endpoint": api.endpoint,
            "project_id": api.project_id,
            "max_attempts": api.max_attempts,
            "backoff_base_seconds": api.backoff_base_seconds,
            "backoff_max_seconds": api.backoff_max_seconds,
        },
        "watch": {
            "batch_ids": list(watch.batch_ids),
            "interval_seconds": watch.interval_seconds,
            "terminal_grace_seconds": watch.terminal_grace_seconds,
        },
        "events": {"format": "json"},
    }


async def run_daemon(
    cfg: Config, until: Any, recorder: Recorder | None = None, events: list[Event] | None = None
) -> list[str]:
    """A daemon run in this loop until ``until`` returns; its stdout lines."""
    out = io.StringIO()
    writer = EventWriter.for_format("json", "info", out)
    seen = events.append if events is not None else None
    daemon = Daemon(cfg, lambda: cfg, {}, on_event=seen, writer=writer, recorder=recorder)
    await daemon.run(until=until)
    return out.getvalue().splitlines()


async def recorded_story(path: Path) -> tuple[list[str], list[str]]:
    """Two batches through running, log lines and their ends, recorded; the run's lines and the batch IDs."""
    with simulator("dli") as sim:
        world = sim.world
        a, b = world.add_batch(name="a"), world.add_batch(name="b")
        cfg = make_config(sim, [a, b])
        recorder = Recorder(str(path), header(cfg, document(cfg), {}), max_bytes=1 << 24, files=1)
        events: list[Event] = []

        async def seen(name: str, count: int) -> None:
            await until_true(lambda: sum(1 for e in events if e.name == name) >= count)

        async def story() -> None:
            await seen("batch.discovered", 2)
            world.set_state(a, "running")
            world.append_stdout(a, ["one", "two"])
            await seen("batch.log", 2)
            world.append_stdout(a, ["three"])
            world.set_state(b, "running")
            await seen("batch.log", 3)
            await seen("batch.state_changed", 2)
            world.set_state(a, "success")
            world.set_state(b, "dead")
            await seen("batch.finished", 2)
            # b's outcome waits out DLI's dead grace: recorded in every run, so no replay's timing can add it
            await seen("batch.outcome", 2)

        lines = await run_daemon(cfg, story, recorder, events)
    return lines, [a, b]


async def until_true(predicate: Any, timeout: float = 20.0) -> None:
    """Wait until ``predicate()`` holds (progress, not time); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "no progress"
        await anyio.sleep(0.02)


def batch_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if '"batch_id"' in line]


async def replayed_lines(path: Path) -> tuple[list[str], list[str]]:
    head, items = read_recording(str(path))
    outcome = await replay(head, items)
    out = io.StringIO()
    EventWriter.for_format("json", "info", out).write(outcome.events)
    return out.getvalue().splitlines(), outcome.divergences


async def test_a_recorded_run_replays_offline_byte_for_byte(tmp_path):
    """Every batch event line the run wrote comes back from the offline replay identical, in order; file 0600."""
    path = tmp_path / "rec.jsonl"
    lines, _ = await recorded_story(path)
    replayed, divergences = await replayed_lines(path)
    assert len(batch_lines(lines)) >= 8
    assert replayed == batch_lines(lines)
    assert divergences == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    names = [json.loads(line)["event"] for line in replayed]
    assert "batch.log" in names and "batch.finished" in names


def test_a_request_the_recording_lacks_is_a_divergence(tmp_path):
    """A recording missing an answer the replay asks for: reported as a divergence and exit 1, not guessed."""
    path = tmp_path / "rec.jsonl"
    anyio.run(recorded_story, path)
    kept = path.read_text().splitlines()
    log_read = next(i for i, line in enumerate(kept) if '/log","query"' in line)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(kept[:log_read] + kept[log_read + 1 :]) + "\n")
    out, err = io.StringIO(), io.StringIO()
    code = replay_cmd.run(Namespace(file=str(cut), check=False, format="json", no_color=True), out, err)
    assert code == 1
    assert "replay divergence: GET /v2.0/" in err.getvalue()


async def test_a_recording_served_live_gives_the_same_events(tmp_path):
    """Recorded, then served by a replay server -> a live run: the same events apart from timestamps."""
    path = tmp_path / "rec.jsonl"
    lines, ids = await recorded_story(path)
    _, items = read_recording(str(path))
    server = SimServer(World("dli"), handler=ReplayApp(items))
    server.start_in_thread()
    try:
        cfg = make_config(server, ids)
        wanted = len(batch_lines(lines))
        out: list[str] = []

        events: list[Event] = []

        async def until() -> None:
            # the recording ends with both batches' batch.outcome: final, neither is polled again, so
            # nothing can follow the wanted count (and an extra event before it fails the equality below)
            await until_true(lambda: sum(1 for e in events if e.batch_id) >= wanted)

        out = await run_daemon(cfg, until, events=events)
    finally:
        server.stop()

    def timeless(text: str) -> dict[str, Any]:
        # the watcher's own clock: when it wrote, and how long it saw a state last (in the message too)
        event = json.loads(text)
        return {k: v for k, v in event.items() if k not in {"timestamp", "message"} and not k.endswith("_seconds")}

    def per_batch(texts: list[str]) -> dict[str, list[dict[str, Any]]]:
        # each batch's stream in order; how two batches' polls interleave is the live run's timing
        events = [timeless(line) for line in batch_lines(texts)]
        return {bid: [e for e in events if e["batch_id"] == bid] for bid in ids}

    assert sum(len(v) for v in per_batch(out).values()) == wanted
    assert per_batch(out) == per_batch(lines)


def test_the_official_sdk_reads_a_replayed_recording(tmp_path):
    """The official SDK (huaweicloudsdkdli) pointed at a replay server decodes the recorded batch."""
    path = tmp_path / "rec.jsonl"
    anyio.run(recorded_story, path)
    head, items = read_recording(str(path))
    first = next(x for x in items if hasattr(x, "method") and x.path.count("/") == 4)  # type: ignore[union-attr]
    bid = first.path.rsplit("/", 1)[1]  # type: ignore[union-attr]
    with SimServer(World("dli"), handler=ReplayApp(items)) as url:
        creds = BasicCredentials(
            "AKEXAMPLE0000000000", "SKEXAMPLEsecret0000000000000000000000000", head.config["api"]["project_id"]
        )
        sdk = DliClient.new_builder().with_credentials(creds).with_endpoints([url]).build()
        job = sdk.show_spark_job(ShowSparkJobRequest(batch_id=bid))
    recorded = json.loads(first.body)  # type: ignore[union-attr]
    assert (job.id, job.name, job.state) == (bid, recorded["name"], recorded["state"])
    assert job.name in {"a", "b"} and job.state == "starting"


async def test_wait_records_what_it_polled(tmp_path):
    """`wait --record`: the recording replays offline to the batch's discovery, change and finish."""
    path = tmp_path / "wait.jsonl"
    with simulator("dli") as sim:
        bid = sim.world.add_batch(name="job", state="running")
        cfg = make_config(sim, [bid])
        recorder = open_recorder(cfg, target_document(cfg, [bid]), str(path))
        opts = WaitOptions(grace=0.0, json=True, recorder=recorder)
        out = io.StringIO()

        async def finish() -> None:
            await until_true(lambda: '"batch.discovered"' in out.getvalue())
            sim.world.set_state(bid, "success")

        async with anyio.create_task_group() as tg:
            tg.start_soon(finish)
            code = await wait(cfg, [bid], opts, out, io.StringIO())
    assert code == 0
    replayed, divergences = await replayed_lines(path)
    names = [json.loads(line)["event"] for line in replayed]
    assert names[0] == "batch.discovered" and "batch.finished" in names
    assert divergences == []


def test_the_replay_server_repeats_the_last_answer_and_404s_the_unknown():
    """Per method and path in recorded order; past the end the last again; a path never recorded: 404."""
    lines = [
        json.dumps(
            {
                "t": "header",
                "format": "dli-watcher-recording",
                "format_version": 1,
                "flavor": "livy",
                "config": {"api": {"flavor": "livy", "endpoint": "http://x"}},
            }
        ),
        *(
            json.dumps(
                {
                    "t": "exchange",
                    "method": "GET",
                    "path": "/batches/7",
                    "query": [],
                    "status": 200,
                    "headers": {"X-Request-Id": f"r{n}"},
                    "body": json.dumps({"id": 7, "n": n}),
                    "wall": 1.0,
                }
            )
            for n in range(2)
        ),
    ]
    _, items = parse_recording(lines)
    with SimServer(World("livy"), handler=ReplayApp(items)) as url, httpx.Client(base_url=url) as client:
        got = [client.get("/batches/7") for _ in range(3)]
        missing = client.get("/batches/8")
    assert [r.json()["n"] for r in got] == [0, 1, 1]
    assert [r.headers["X-Request-Id"] for r in got] == ["r0", "r1", "r1"]
    assert missing.status_code == 404
