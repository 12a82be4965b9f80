"""Scenario playback and serving inside an event loop."""

from __future__ import annotations

import argparse
import socket

import anyio
import httpx

from tests.simulator.recording import CountingPlayer, RecordingWorld
from watcher.simulator import ScenarioPlayer, SimServer, World, demo_scenario
from watcher.simulator.cli import EXAMPLE_AK, EXAMPLE_SK, add_arguments, build_auth, run
from watcher.simulator.scenario import parse_steps

STEPS = [
    {"at": 0, "action": "add", "batch": "etl", "name": "daily-etl"},
    {"at": 0, "action": "add", "batch": "ml", "name": "ml-train", "queue": "gpu"},
    {"at": 1, "action": "state", "batch": "etl", "state": "running"},
    {"at": 2, "action": "stdout", "batch": "etl", "template": "row {i}", "repeat": 3},
    {"at": 2, "action": "fault", "batch": "ml", "kind": "status", "count": "forever"},
    {"at": 3, "action": "diagnostics", "batch": "ml", "lines": ["boom"]},
    {"at": 3, "action": "field", "batch": "ml", "name": "queue", "value": "cpu"},
    {"at": 4, "action": "state", "batch": "etl", "state": "success"},
    {"at": 4, "action": "clear_faults"},
    {"at": 5, "action": "remove", "batch": "ml"},
]


def test_player_applies_steps_in_time():
    """A sped-up player applies every step and maps keys to the IDs it announced."""
    world = RecordingWorld("livy")
    player = CountingPlayer(world, parse_steps(STEPS), speed=50)
    assert player.ids == {"etl": "1", "ml": "2"}
    assert player.duration == 0.1
    anyio.run(player.run, backend="asyncio")
    etl = player.ids["etl"]
    assert world.state_history(etl) == ["starting", "running", "success"]
    assert world.truth_lines(etl, "stdout") == ["row 1", "row 2", "row 3"]
    assert world.diagnostics_history(player.ids["ml"]) == [["boom"]]
    assert not world.exists(player.ids["ml"])
    assert world.faults.active() == []
    assert player.applied == len(STEPS)


def test_serve_in_loop_while_playing():
    """serve() runs in an existing asyncio loop next to a player, and stops on cancel."""
    world = World("dli")
    player = ScenarioPlayer(world, demo_scenario(), speed=1000)
    server = SimServer(world)

    async def main() -> list[str]:
        """Serve, play the demo, list the batches, stop."""
        async with anyio.create_task_group() as tg:
            url = await tg.start(server.serve)
            await player.run()
            async with httpx.AsyncClient(base_url=url) as client:
                resp = await client.get(f"/v2.0/{world.project_id}/batches", params={"size": -1})
            tg.cancel_scope.cancel()
        return sorted(s["state"] for s in resp.json()["sessions"])

    assert anyio.run(main, backend="asyncio") == ["dead", "success", "success", "success"]


def test_demo_story_plays_to_the_end():
    """The demo story ends with its recovery batch succeeded after dead and recovering."""
    world = World("dli")
    player = ScenarioPlayer(world, demo_scenario(), speed=1000)
    anyio.run(player.run, backend="asyncio")
    histories = [world.state_history(i) for i in player.ids.values()]
    assert ["starting", "running", "dead", "recovering", "running", "success"] in histories
    assert max(len(world.truth_lines(i, "stdout")) for i in player.ids.values()) > 80


def test_build_auth_modes():
    """build_auth accepts the example credentials and never echoes an SK from the environment."""
    auth, lines = build_auth("aksk", {})
    assert auth.keys == {EXAMPLE_AK: EXAMPLE_SK}
    assert EXAMPLE_SK in lines[0]
    auth, lines = build_auth("aksk", {"DLI_SIM_SK": "mine"})
    assert auth.keys == {EXAMPLE_AK: "mine"}
    assert "mine" not in " ".join(lines)
    auth, lines = build_auth("token", {})
    assert auth.mode == "token"
    assert any("/v3/auth/tokens" in line for line in lines)


def test_run_rejects_bad_scenario(tmp_path, capsys):
    """A broken scenario file makes ``simulate`` exit 2 with one line on stderr."""
    bad = tmp_path / "bad.json"
    bad.write_text('[{"at": 0, "action": "explode"}]', encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["--scenario", str(bad), "--port", "0"])) == 2
    assert "action must be one of" in capsys.readouterr().err


def test_run_reports_busy_port(capsys):
    """A port already in use makes ``simulate`` exit 1 with one line on stderr."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        assert run(parser.parse_args(["--port", str(busy.getsockname()[1])])) == 1
    assert "cannot listen" in capsys.readouterr().err
