"""The recording's cost: CPU per batch-poll of the watcher with and without ``--record`` (issue 31: <= 20 % more).

    python tests/bench/record.py [--batches 200] [--seconds 10] [--lines 10]

Starts the bench simulator (server.py) in its own process, then runs the daemon in this process
twice against it, polling every batch once a second: without a recording, then recording to a
temporary file. After the first poll cycle it measures this process's CPU seconds over
``--seconds`` and divides by the details requests the server answered meanwhile.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from watcher.config.settings import parse  # noqa: E402
from watcher.daemon.app import Daemon  # noqa: E402
from watcher.daemon.recorder import Recorder, header  # noqa: E402
from watcher.output.writer import EventWriter  # noqa: E402


def stats(url: str) -> dict[str, Any]:
    return httpx.get(url + "/_bench/stats").json()  # type: ignore[no-any-return]


async def measure(doc: dict[str, Any], url: str, seconds: float, record: str | None) -> tuple[float, int, int]:
    """CPU seconds, details requests and recording bytes over ``seconds`` of steady polling."""
    cfg = parse(doc, {})
    recorder = Recorder(record, header(cfg, doc, {}), max_bytes=1 << 30, files=1) if record else None
    ready = anyio.Event()
    result: list[float | int] = []

    async def until() -> None:
        await ready.wait()
        await anyio.sleep(2.0)  # the first cycle's spread settles
        before, cpu = stats(url)["requests"].get("details", 0), time.process_time()
        await anyio.sleep(seconds)
        result.extend([time.process_time() - cpu, stats(url)["requests"].get("details", 0) - before])

    daemon = Daemon(
        cfg, lambda: cfg, {}, on_event=lambda e: ready.set() if e.name == "watcher.ready" else None,
        writer=EventWriter.for_format("json", "info", io.StringIO()), recorder=recorder,
    )  # fmt: skip
    await daemon.run(until=until)
    size = (await anyio.Path(record).stat()).st_size if record else 0
    return float(result[0]), int(result[1]), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), "--batches", str(args.batches), "--lines", str(args.lines)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    info = json.loads(server.stdout.readline())
    doc = {
        "api": {"flavor": "dli", "endpoint": info["url"], "project_id": info["project_id"]},
        "auth": {"method": "none"},
        "watch": {"batch_ids_file": info["ids_file"], "interval_seconds": 1, "concurrency": 16},
        "metrics": {"listen": "127.0.0.1:0"},
        "events": {"format": "json"},
    }
    try:
        plain = anyio.run(measure, doc, info["url"], args.seconds, None)
        with tempfile.TemporaryDirectory() as tmp:
            recorded = anyio.run(measure, doc, info["url"], args.seconds, str(Path(tmp) / "rec.jsonl"))
    finally:
        server.communicate("")
    per_plain, per_rec = plain[0] / plain[1] * 1e6, recorded[0] / recorded[1] * 1e6
    print(f"without --record: {per_plain:.0f} us CPU per batch-poll ({plain[1]} polls)")
    per_line = recorded[2] / recorded[1]
    print(f"with --record:    {per_rec:.0f} us CPU per batch-poll ({recorded[1]} polls, {per_line:.0f} B/poll)")
    print(f"overhead: {100 * (per_rec / per_plain - 1):+.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
