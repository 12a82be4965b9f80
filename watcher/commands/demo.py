"""``dli-watcher demo``: the built-in simulator plays a scripted story while a real watcher follows it."""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio

from watcher.config.credentials import AuthConfig
from watcher.config.settings import (
    ApiConfig,
    Config,
    MetricsConfig,
    WatchConfig,
    parse_listen,
)
from watcher.core.plural import plural
from watcher.daemon.app import Daemon
from watcher.errors import ConfigError
from watcher.output.writer import EventWriter
from watcher.simulator import ScenarioPlayer, SimAuth, SimServer, Step, World, demo_scenario
from watcher.simulator.cli import EXAMPLE_AK, EXAMPLE_SK

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from watcher.core.events import Event

INTERVAL = 2.0
# after the story's last step: enough polls for the watcher to see it and capture the final logs
SETTLE_SECONDS = 3 * INTERVAL + 1
# Undocumented, for tests: multiplies every time of the demo (the story's steps, the watcher's interval,
# grace and backoff, the settling wait); 0.1 plays the ~50 s story in ~5 s. Unset means 1 (real time).
TIME_SCALE_ENV = "DLI_WATCHER_DEMO_TIME_SCALE"
# the watcher's start-up does not shrink with the scale: a scaled story waits this long (real seconds)
# after adding its batches, so the first poll still finds them all starting, as in real time
SCALED_LEAD_SECONDS = 1.0


def time_scale(env: Mapping[str, str]) -> float:
    """The demo's time scale from ``env``: 1.0 when unset, else a number in (0, 1]."""
    raw = env.get(TIME_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        scale = math.nan
    if not 0 < scale <= 1:
        raise ConfigError(TIME_SCALE_ENV, f"must be a number > 0 and <= 1, got {raw!r}")
    return scale


def scaled_story(scale: float) -> list[Step]:
    """The demo story; when scaled, every step after the first moment comes ``SCALED_LEAD_SECONDS`` later."""
    steps = demo_scenario()
    if scale == 1:
        return steps
    lead = SCALED_LEAD_SECONDS / scale
    return [replace(step, at=step.at + lead) if step.at > 0 else step for step in steps]


def demo_config(endpoint: str, project_id: str, batch_ids: list[str], listen: str, scale: float = 1.0) -> Config:
    """A watcher config pointed at the simulator, polling fast enough to follow the story (times x ``scale``)."""
    host, port = parse_listen(listen, "--listen")
    return Config(
        api=ApiConfig(
            endpoint=endpoint,
            project_id=project_id,
            timeout_seconds=5.0,
            no_proxy=("*",),  # the simulator is local: a proxy from the environment could not reach it
            backoff_base_seconds=0.2 * scale,
            backoff_max_seconds=2.0 * scale,
        ),
        auth=AuthConfig(method="aksk", access_key=EXAMPLE_AK, secret_key=EXAMPLE_SK),
        watch=WatchConfig(
            batch_ids=tuple(batch_ids), interval_seconds=INTERVAL * scale, terminal_grace_seconds=8.0 * scale
        ),
        metrics=MetricsConfig(host=host, port=port),
    )


class Summary:
    """Counts what the story produced, for the closing lines."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, event: Event) -> None:
        """Count one event."""
        self.counts[event.name] += 1

    def render(self, batches: int) -> str:
        """The one-line summary."""
        c = self.counts
        return (
            f"demo finished: {plural(batches, 'batch')}, {c['batch.state_changed']} state changes, "
            f"{c['batch.finished']} finished, {c['batch.log']} log lines, {c['batch.log_gap']} log gaps, "
            f"{c['batch.poll_failed']} poll failures reported"
        )


def _announce(sim_url: str) -> Callable[[str, int], None]:
    def show(host: str, port: int) -> None:
        base = f"http://{host}:{port}"
        print(f"simulator:  {sim_url}", file=sys.stderr)
        print(f"metrics:    {base}/metrics", file=sys.stderr)
        print(f"health:     {base}/healthz  {base}/readyz", file=sys.stderr)
        print(f"status:     {base}/", file=sys.stderr)

    return show


def run_demo(*, forever: bool, listen: str, json_events: bool, no_color: bool = False) -> int:
    """Start the simulator, play the demo story, watch it, print a summary; exit 0."""
    scale = time_scale(os.environ)
    world = World("dli")
    player = ScenarioPlayer(world, scaled_story(scale), speed=1 / scale)
    server = SimServer(world, SimAuth(mode="aksk", keys={EXAMPLE_AK: EXAMPLE_SK}))
    sim_url = server.start_in_thread()
    try:
        cfg = demo_config(sim_url, world.project_id, list(player.ids.values()), listen, scale)
        writer = EventWriter.for_format("json" if json_events else "readable", "info", no_color=no_color)
        summary = Summary()
        daemon = Daemon(cfg, lambda: cfg, os.environ, on_event=summary, writer=writer)

        async def story() -> None:
            await player.run()
            await anyio.sleep(SETTLE_SECONDS * scale)

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                if forever:
                    tg.start_soon(player.run)
                await daemon.run(until=None if forever else story, on_listen=_announce(sim_url))
                tg.cancel_scope.cancel()

        anyio.run(main)
        print(summary.render(len(player.ids)), file=sys.stderr)
    finally:
        server.stop()
    return 0
