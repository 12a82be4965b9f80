"""``dli-watcher simulate``: serve the simulator alone, playing a scenario, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import TYPE_CHECKING

import anyio

from watcher.api.recordfile import read_recording
from watcher.core.recordformat import RecordingError
from watcher.simulator.auth import SimAuth
from watcher.simulator.replayserver import ReplayApp
from watcher.simulator.scenario import ScenarioPlayer, Step, demo_scenario, load_scenario
from watcher.simulator.server import SimServer
from watcher.simulator.world import DEFAULT_PROJECT_ID, World

if TYPE_CHECKING:
    from collections.abc import Mapping

EXAMPLE_AK = "AKEXAMPLE0000000000"
EXAMPLE_SK = "SKEXAMPLEsecret0000000000000000000000000"
EXAMPLE_TOKEN = "sim-token-0000000000000000"  # noqa: S105
EXAMPLE_USER, EXAMPLE_PASSWORD, EXAMPLE_DOMAIN = "sim-user", "sim-password", "sim-domain"
DEFAULT_PORT = 8998


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` options to a (sub)parser."""
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--flavor", choices=["dli", "livy"], default="dli", help="API to simulate")
    parser.add_argument("--scenario", metavar="FILE", help="TOML or JSON scenario (default: the demo story)")
    parser.add_argument("--auth", choices=["none", "token", "aksk"], default="none", help="credentials")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario speed factor (default 1.0)")
    parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID, help="DLI project ID to serve")
    parser.add_argument(
        "--replay", metavar="FILE", help="serve a recording (dli-watcher run --record) by path, in recorded order"
    )


def build_auth(mode: str, env: Mapping[str, str]) -> tuple[SimAuth, list[str]]:
    """Build the auth settings for a mode and the lines that tell people what it accepts."""
    sk = env.get("DLI_SIM_SK") or EXAMPLE_SK
    password = env.get("DLI_SIM_PASSWORD") or EXAMPLE_PASSWORD
    auth = SimAuth(
        mode=mode,  # type: ignore[arg-type]
        tokens=(EXAMPLE_TOKEN,),
        keys={EXAMPLE_AK: sk},
        users={EXAMPLE_USER: password},
        domain=EXAMPLE_DOMAIN,
    )
    shown_sk = "(from $DLI_SIM_SK)" if "DLI_SIM_SK" in env else sk
    shown_pw = "(from $DLI_SIM_PASSWORD)" if "DLI_SIM_PASSWORD" in env else password
    iam = f"IAM: POST /v3/auth/tokens with user={EXAMPLE_USER} password={shown_pw} domain={EXAMPLE_DOMAIN}"
    lines = {
        "none": ["auth: none (no credentials needed)"],
        "token": [f"auth: token  X-Auth-Token: {EXAMPLE_TOKEN}  (or an IAM-issued token)", iam],
        "aksk": [f"auth: aksk  AK={EXAMPLE_AK}  SK={shown_sk}"],
    }[mode]
    return auth, lines


def _say(line: str = "") -> None:
    """Print one line for people and flush it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _banner(server: SimServer, player: ScenarioPlayer, steps: list[Step], creds: list[str]) -> None:
    """Print the URL, project, credentials and batch IDs."""
    names = {s.batch: str(s.args.get("name", s.batch)) for s in steps if s.action == "add" and s.batch}
    _say(f"dli-watcher simulator ({server.world.flavor}) listening on {server.url}")
    if server.world.flavor == "dli":
        _say(f"project_id: {server.world.project_id}")
    for line in creds:
        _say(line)
    _say(f"scenario: {len(steps)} steps over {player.duration:.0f} s; batches:")
    for key, batch_id in player.ids.items():
        _say(f"  {names.get(key, key):<28} {batch_id}")
    _say("Ctrl-C to stop.")


async def _serve(server: SimServer, player: ScenarioPlayer, steps: list[Step], creds: list[str]) -> None:
    """Serve and play the scenario until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve)
        _banner(server, player, steps, creds)
        tg.start_soon(_play, player)
        await stop.wait()
        tg.cancel_scope.cancel()


async def _play(player: ScenarioPlayer) -> None:
    """Play the scenario, then say so."""
    await player.run()
    _say("scenario finished; still serving.")


def run(args: argparse.Namespace) -> int:
    """Run the simulator until SIGINT/SIGTERM: 0 on a clean stop, 2 for a bad scenario, 1 otherwise."""
    if getattr(args, "replay", None):
        return _replay(args)
    try:
        steps = load_scenario(args.scenario) if args.scenario else demo_scenario()
        world = World(args.flavor, project_id=args.project_id)
        player = ScenarioPlayer(world, steps, speed=args.speed)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"simulate: {exc}\n")
        return 2
    auth, creds = build_auth(args.auth, os.environ)
    server = SimServer(world, auth, host=args.host, port=args.port)
    failure: BaseException | None = None
    try:
        asyncio.run(_serve(server, player, steps, creds))
    except* OSError as group:
        failure = group.exceptions[0]
    if failure is not None:
        sys.stderr.write(f"simulate: cannot listen on {args.host}:{args.port}: {failure}\n")
        return 1
    return 0


def _replay(args: argparse.Namespace) -> int:
    """Serve a recording until SIGINT/SIGTERM; a recording that cannot be read is refused (exit 2, one line)."""
    try:
        header, items = read_recording(args.replay)
    except RecordingError as exc:
        shown = json.dumps(f"{args.replay}: {exc}")[1:-1]  # the file's text, escaped for any terminal
        sys.stderr.write(f"simulate: cannot replay {shown}\n")
        return 2
    server = SimServer(
        World("dli" if header.flavor == "dli" else "livy"), host=args.host, port=args.port, handler=ReplayApp(items)
    )
    exchanges = sum(1 for item in items if hasattr(item, "method"))
    lines = [f"replaying {exchanges} recorded exchanges ({header.flavor}); past the end the last answer repeats"]
    failure: BaseException | None = None
    try:
        asyncio.run(_serve_replay(server, lines))
    except* OSError as group:
        failure = group.exceptions[0]
    if failure is not None:
        sys.stderr.write(f"simulate: cannot listen on {args.host}:{args.port}: {failure}\n")
        return 1
    return 0


async def _serve_replay(server: SimServer, lines: list[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve)
        _say(f"dli-watcher simulator (replay) listening on {server.url}")
        for line in lines:
            _say(line)
        await stop.wait()
        tg.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m watcher.simulator.cli``)."""
    parser = argparse.ArgumentParser(prog="dli-watcher simulate", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
