"""``dli-watcher simulate``: serve the simulator alone, playing a scenario, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import anyio

from watcher.api.recordfile import read_recording
from watcher.core.recordformat import RecordingError
from watcher.simulator.auth import SimAuth
from watcher.simulator.replayserver import ReplayApp
from watcher.simulator.scenario import ScenarioPlayer, Step, demo_scenario, load_scenario
from watcher.simulator.server import SimServer
from watcher.simulator.world import DEFAULT_PROJECT_ID, World

if TYPE_CHECKING:
    from collections.abc import Coroutine, Mapping

EXAMPLE_AK = "AKEXAMPLE0000000000"
EXAMPLE_SK = "SKEXAMPLEsecret0000000000000000000000000"
EXAMPLE_TOKEN = "sim-token-0000000000000000"  # noqa: S105
EXAMPLE_USER, EXAMPLE_PASSWORD, EXAMPLE_DOMAIN = "sim-user", "sim-password", "sim-domain"
DEFAULT_PORT = 8998
LOOP_PAUSE_SECONDS = 10.0  # between two rounds of --loop, so a dashboard shows the story's end


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
        "--seed", type=int, metavar="N", help="generate the batch IDs from seed N: the same IDs on every start"
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print a watcher config for the simulator as these options start it, and exit",
    )
    parser.add_argument(
        "--loop", action="store_true", help="replay the story for ever (same IDs each round), for dashboards"
    )
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


async def _serve(
    server: SimServer, player: ScenarioPlayer, steps: list[Step], creds: list[str], replay: bool = False
) -> None:
    """Serve and play the scenario until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve)
        _banner(server, player, steps, creds)
        tg.start_soon(_play, player, replay)
        await stop.wait()
        tg.cancel_scope.cancel()


async def _play(player: ScenarioPlayer, loop: bool = False) -> None:
    """Play the scenario (for ever with ``loop``, the batches taken out between rounds), then say so."""
    await player.run()
    while loop:
        _say("scenario finished; replaying it with the same batch IDs.")
        await anyio.sleep(LOOP_PAUSE_SECONDS / player.speed)
        player.reset()
        await player.run()
    _say("scenario finished; still serving.")


def run(args: argparse.Namespace) -> int:
    """Run the simulator until SIGINT/SIGTERM: 0 on a clean stop, 2 for a bad scenario, 1 otherwise."""
    if getattr(args, "replay", None):
        return _replay(args)
    try:
        steps = load_scenario(args.scenario) if args.scenario else demo_scenario()
        world = World(args.flavor, project_id=args.project_id, seed=getattr(args, "seed", None))
        player = ScenarioPlayer(world, steps, speed=args.speed)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"simulate: {exc}\n")
        return 2
    if getattr(args, "print_config", False):
        sys.stdout.write(watcher_config(args, player))
        return 0
    auth, creds = build_auth(args.auth, os.environ)
    server = SimServer(world, auth, host=args.host, port=args.port)
    return _listening(_serve(server, player, steps, creds, getattr(args, "loop", False)), args)


def _listening(serving: Coroutine[Any, Any, None], args: argparse.Namespace) -> int:
    """Serve until stopped: 0, or 1 with one line when the port cannot be bound."""
    failure: BaseException | None = None
    try:
        asyncio.run(serving)
    except* OSError as group:
        failure = group.exceptions[0]
    if failure is not None:
        sys.stderr.write(f"simulate: cannot listen on {args.host}:{args.port}: {failure}\n")
        return 1
    return 0


AUTH_SECTIONS = {
    "none": ('method = "none"', ""),
    "token": ('method = "token"\ntoken_env = "DLI_TOKEN"', f"export DLI_TOKEN={EXAMPLE_TOKEN}"),
    "aksk": (
        'method = "aksk"  # access_key_env / secret_key_env: HUAWEICLOUD_SDK_AK / _SK',
        f"export HUAWEICLOUD_SDK_AK={EXAMPLE_AK} HUAWEICLOUD_SDK_SK=<the SK the simulator printed>",
    ),
}


def watcher_config(args: argparse.Namespace, player: ScenarioPlayer) -> str:
    """A config for ``dli-watcher run`` against this simulator: endpoint, flavor, matching auth, and what to watch.

    With ``--seed`` the story's IDs are known before the simulator starts, so they are listed; without,
    discovery finds them.
    """
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104 - where a client connects
    where = f"[{host}]" if ":" in host else host
    auth, export = AUTH_SECTIONS[args.auth]
    lines = [
        f"# dli-watcher config for `dli-watcher simulate {' '.join(_given(args))}`".rstrip(),
        *([f"# before `dli-watcher run`: {export}"] if export else []),
        "[api]",
        f'flavor = "{args.flavor}"',
        f'endpoint = "http://{where}:{args.port}"',
        *([f'project_id = "{args.project_id}"'] if args.flavor == "dli" else []),
        "[auth]",
        auth,
        "[watch]",
        "interval_seconds = 2",
    ]
    if getattr(args, "seed", None) is not None:
        lines.append("batch_ids = [" + ", ".join(f'"{bid}"' for bid in player.ids.values()) + "]")
        lines.append("[discovery]\nenabled = false")
    else:
        lines.append("[discovery]\nenabled = true  # the story's IDs are new on every start without --seed")
        lines.append("interval_seconds = 5")
    lines += ["[metrics]", 'listen = "127.0.0.1:19847"', "[events]", 'format = "auto"']
    return "\n".join(lines) + "\n"


def _given(args: argparse.Namespace) -> list[str]:
    """The options that shape the config, as they were given (for the header comment)."""
    shown = [f"--flavor {args.flavor}", f"--port {args.port}", f"--auth {args.auth}"]
    if getattr(args, "seed", None) is not None:
        shown.append(f"--seed {args.seed}")
    if args.scenario:
        shown.append(f"--scenario {args.scenario}")
    return shown


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
    return _listening(_serve_replay(server, lines), args)


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
