"""The simulator as a first-five-minutes tool: stable IDs with --seed, --print-config that works, --loop."""

from __future__ import annotations

import argparse
import tomllib

import pytest

from tests.simulator.recording import CountingPlayer
from watcher.config.settings import parse
from watcher.core.flavor import DLI
from watcher.simulator import ScenarioPlayer, World, demo_scenario
from watcher.simulator.cli import add_arguments, watcher_config
from watcher.simulator.scenario import parse_steps


def options(*argv: str) -> argparse.Namespace:
    """``simulate``'s options as parsed from ``argv``."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def story_ids(seed: int | None) -> list[str]:
    """The batch IDs the demo story gets in a fresh world with ``seed``."""
    return list(ScenarioPlayer(World("dli", seed=seed), demo_scenario()).ids.values())


def test_a_seed_gives_the_same_valid_ids_on_every_start():
    """--seed N: the same DLI batch IDs each time (valid UUIDs); another seed or none, other IDs."""
    first, again = story_ids(7), story_ids(7)
    assert first == again and len(set(first)) == len(first)
    assert all(DLI.valid_id(bid) for bid in first)
    assert story_ids(8) != first and story_ids(None) != first


def test_print_config_lists_the_seeded_ids_or_turns_discovery_on():
    """--print-config: endpoint, flavor, project and auth that match; the IDs with --seed, discovery without."""
    seeded = options("--seed", "7", "--auth", "token", "--port", "9911")
    cfg = parse(tomllib.loads(watcher_config(seeded, ScenarioPlayer(World("dli", seed=7), []))), {"DLI_TOKEN": "t"})
    assert (cfg.api.flavor, cfg.api.endpoint, cfg.auth.method) == ("dli", "http://127.0.0.1:9911", "token")
    assert list(cfg.watch.batch_ids) == [] and not cfg.discovery.enabled  # an empty story: no IDs
    story = ScenarioPlayer(World("dli", seed=7), demo_scenario())
    listed = parse(tomllib.loads(watcher_config(seeded, story)), {"DLI_TOKEN": "t"})
    assert list(listed.watch.batch_ids) == story_ids(7)
    livy = options("--flavor", "livy", "--host", "0.0.0.0")
    found = parse(tomllib.loads(watcher_config(livy, ScenarioPlayer(World("livy"), demo_scenario()))), {})
    assert (found.api.flavor, found.api.endpoint, found.discovery.enabled) == ("livy", "http://127.0.0.1:8998", True)


@pytest.mark.anyio
async def test_the_story_replays_with_the_same_ids():
    """--loop: reset takes the story's batches out, and the next round brings the same IDs back."""
    add = {"at": 0, "action": "add", "batch": "a", "name": "one"}
    steps = parse_steps([add, {"at": 0, "batch": "a", "action": "state", "state": "dead"}])
    world = World("dli", seed=1)
    player = CountingPlayer(world, steps, speed=1000)
    await player.run()
    first = world.batch_ids()
    player.reset()
    between = world.batch_ids()
    await player.run()
    assert first == list(player.ids.values()) and between == [] and world.batch_ids() == first
    assert player.applied == 4  # two steps a round
