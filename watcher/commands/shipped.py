"""``dli-watcher config example|schema``: the documented example config and the event schemas the package carries."""

from __future__ import annotations

import sys
from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

# in the package as watcher/data/*; in the source tree those are links to the repository's config.example.toml
# and schema/*.schema.json, the one copy each that people edit (the build stores the files themselves)
EXAMPLE = "config.example.toml"
SCHEMAS = {"json": "events.schema.json", "ecs": "events-ecs.schema.json"}


def shipped(name: str) -> str:
    """The text of one file under watcher/data, as the installed package holds it."""
    return files("watcher").joinpath("data", name).read_text(encoding="utf-8")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`config example` and `config schema [--ecs]`."""
    config = sub.add_parser("config", help="print the example config or the event schemas this version ships")
    what = config.add_subparsers(dest="config_command", required=True)
    what.add_parser("example", help="the documented example config (TOML), every key with its default")
    schema = what.add_parser("schema", help="the JSON Schema (2020-12) of the event lines (events.format json)")
    schema.add_argument(
        "--ecs",
        action="store_true",
        help="the schema of events.format ecs instead; it refers to the plain schema as events.schema.json",
    )


def run(args: argparse.Namespace) -> int:
    """Print the file asked for on stdout, exactly as shipped."""
    name = EXAMPLE if args.config_command == "example" else SCHEMAS["ecs" if args.ecs else "json"]
    sys.stdout.write(shipped(name))
    return 0
