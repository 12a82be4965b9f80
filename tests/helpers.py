"""What the test modules share: a simulator on loopback, a fast config, an in-process watcher run."""

from __future__ import annotations

import atexit
import io
import json
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import certifi

from watcher.config.settings import ApiConfig, Config, EventsConfig, MetricsConfig, WatchConfig
from watcher.daemon.app import Daemon
from watcher.output.writer import EventWriter
from watcher.simulator import SimAuth, SimServer, World

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from watcher.core.events import Event


@contextmanager
def simulator(flavor: str = "dli", auth: SimAuth | None = None, **world_kw: Any) -> Iterator[SimServer]:
    """A World served on 127.0.0.1 from its own thread."""
    server = SimServer(World(flavor, **world_kw), auth)  # type: ignore[arg-type]
    server.start_in_thread()
    try:
        yield server
    finally:
        server.stop()


def make_config(server: SimServer, batch_ids: list[str], **sections: Any) -> Config:
    """A fast-polling config against a simulator; keyword args replace fields per section."""
    world = server.world
    cfg = Config(
        api=ApiConfig(
            flavor=world.flavor,
            endpoint=server.url,
            project_id=world.project_id,
            timeout_seconds=2.0,
            max_attempts=3,
            backoff_base_seconds=0.05,
            backoff_max_seconds=0.2,
        ),
        watch=WatchConfig(
            batch_ids=tuple(batch_ids),
            interval_seconds=0.2,
            terminal_grace_seconds=0.6,
            retention_seconds=60.0,
            not_found_interval_seconds=0.5,
        ),
        metrics=MetricsConfig(port=0),
        events=EventsConfig(format="json"),
    )
    return replace(cfg, **{name: replace(getattr(cfg, name), **kw) for name, kw in sections.items()})


class DetailsReads:
    """How often the watcher has read one batch's details, counted by the simulator.

    A no-op latency fault on the batch, taken once a read, lowers its ``remaining`` from a number no
    test reaches: a negative ("no more polls") is then checked over a count of other polls, not a sleep.
    """

    START = 1_000_000

    def __init__(self, world: World, batch_id: str) -> None:
        self._fault = world.inject("latency", batch_id, self.START, seconds=0.0)

    @property
    def count(self) -> int:
        left = self._fault.remaining
        return self.START - (left if left is not None else 0)


def _one_ca_bundle() -> str:
    """A CA file holding the first of certifi's certificates, removed when the process ends."""
    text = Path(certifi.where()).read_text(encoding="ascii")
    end = "-----END CERTIFICATE-----"
    first = text[text.index("-----BEGIN CERTIFICATE-----") : text.index(end) + len(end)]
    fd, path = tempfile.mkstemp(prefix="one-ca-", suffix=".pem")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(first + "\n")
    atexit.register(os.unlink, path)
    return path


# The environment an in-process watcher runs with. Its API and IAM clients each load the default CAs
# ($SSL_CERT_FILE, else certifi's 118 certificates: 30 ms of CPU a client, tens of seconds over the fast
# lane); a simulator on plain HTTP never asks for them, so one real CA stands in for the bundle. Tests
# of TLS name their CA in api.ca_file, which comes first, or pass their own environment.
WATCH_ENV = {"SSL_CERT_FILE": _one_ca_bundle()}


# the WatchRuns of the running test: when it ends, conftest checks everything they wrote against schema/
RUNS: list[WatchRun] = []


class WatchRun:
    """A Daemon running in the test's event loop; collects events and the JSON lines it printed."""

    def __init__(self, cfg: Config, reload: Callable[[], Config] | None = None) -> None:
        RUNS.append(self)
        self.out = io.StringIO()
        self.events: list[Event] = []
        writer = EventWriter.for_format("json", cfg.events.level, self.out)
        self.daemon = Daemon(cfg, reload or (lambda: cfg), WATCH_ENV, on_event=self.events.append, writer=writer)
        self.stopped = anyio.Event()
        self.address: tuple[str, int] | None = None

    def listen(self, host: str, port: int) -> None:
        self.address = (host, port)

    @property
    def metrics_url(self) -> str:
        assert self.address is not None
        return f"http://{self.address[0]}:{self.address[1]}"

    def of(self, batch_id: str, name: str | None = None) -> list[Event]:
        return [e for e in self.events if e.batch_id == batch_id and (name is None or e.name == name)]

    def lines(self, batch_id: str, stream: str | None = None) -> list[str]:
        return [
            str(e.fields["line"])
            for e in self.of(batch_id, "batch.log")
            if stream is None or e.fields["stream"] == stream
        ]

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]

    async def wait_polls(self, count: int, timeout: float = 10.0) -> None:
        """Wait until the watcher has finished ``count`` more polls: progress, so a slow machine just takes longer."""
        target = self.daemon.stats.polls + count
        await self.wait_for(lambda: self.daemon.stats.polls >= target, timeout)

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                names = [(e.batch_id, e.name, e.fields.get("to_state")) for e in self.events[-15:]]
                raise AssertionError(f"condition not met within {timeout}s; last events: {names}")
            await anyio.sleep(0.05)


async def start_watch(tg: Any, cfg: Config, reload: Callable[[], Config] | None = None) -> WatchRun:
    """Start a WatchRun in ``tg``; it stops when ``run.stopped`` is set."""
    run = WatchRun(cfg, reload)
    tg.start_soon(lambda: run.daemon.run(until=run.stopped.wait, on_listen=run.listen))
    await run.wait_for(lambda: run.address is not None)
    return run


def assert_seq_gapless(events: list[Event]) -> None:
    """Every batch's seq runs 1, 2, 3, ... with no gap or repeat."""
    by_batch: dict[str, list[int]] = {}
    for e in events:
        if e.batch_id is not None and e.seq is not None:
            by_batch.setdefault(e.batch_id, []).append(e.seq)
    for bid, seqs in by_batch.items():
        assert seqs == list(range(1, len(seqs) + 1)), f"{bid}: {seqs}"
