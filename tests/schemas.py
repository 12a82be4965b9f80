"""The JSON Schemas of the event stream (schema/*.schema.json), and checks of rendered lines against them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

if TYPE_CHECKING:
    from collections.abc import Iterable

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
FILES = {"json": "events.schema.json", "ecs": "events-ecs.schema.json"}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return data


# the ECS schema refers to the JSON one by its file name, as a reader with both files resolves it
REGISTRY: Registry[Any] = Registry().with_resources(
    (name, Resource.from_contents(load(name))) for name in FILES.values()
)
VALIDATORS = {fmt: Draft202012Validator(load(name), registry=REGISTRY) for fmt, name in FILES.items()}


def problems(fmt: str, line: str) -> list[str]:
    """What is wrong with one rendered line in format ``fmt`` (nothing when it validates)."""
    document = json.loads(line)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in VALIDATORS[fmt].iter_errors(document)
    ]


def assert_valid(fmt: str, lines: Iterable[str]) -> int:
    """Every line validates against the schema of ``fmt``; returns how many were checked."""
    count, bad = 0, []
    for line in lines:
        count += 1
        found = problems(fmt, line)
        if found:
            bad.append(f"{line.strip()}\n    " + "\n    ".join(found))
    assert not bad, f"{len(bad)} of {count} {fmt} events do not validate:\n" + "\n".join(bad[:5])
    return count
