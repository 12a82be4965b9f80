"""The JSON Schemas of the event stream (schema/*.schema.json), and checks of rendered lines against them."""

from __future__ import annotations

import json
from functools import cache
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
# where each format names the event: what every allOf entry's `if` tests
NAME_PATHS = {"json": ("event",), "ecs": ("event", "action")}


def _tested_name(fmt: str, clause: Any) -> str | None:
    """The event name an allOf entry applies to (``if`` that name, ``then`` ...), None when it is anything else."""
    if not isinstance(clause, dict) or set(clause) != {"if", "then"}:
        return None
    condition = clause["if"]
    for key in NAME_PATHS[fmt]:
        if not (
            isinstance(condition, dict) and set(condition) == {"properties"} and list(condition["properties"]) == [key]
        ):
            return None
        condition = condition["properties"][key]
    if isinstance(condition, dict) and set(condition) == {"const"} and isinstance(condition["const"], str):
        return condition["const"]
    return None


def _named(fmt: str, document: Any) -> str | None:
    """The event name of a document, when it has one where the format keeps it."""
    for key in NAME_PATHS[fmt]:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document if isinstance(document, str) else None


@cache
def validator(fmt: str, name: str | None) -> Draft202012Validator:
    """The schema of ``fmt`` without the allOf entries for other event names: the same verdict, found faster.

    An entry whose ``if`` names another event fails that ``if`` on this document, so its ``then`` never
    applies and it evaluates no property; leaving it out changes nothing but the time (tests/output/test_schema.py
    checks the verdicts agree). A document without a name gets the whole schema.
    """
    whole = VALIDATORS[fmt]
    if name is None:
        return whole
    schema = dict(whole.schema)
    schema["allOf"] = [c for c in schema["allOf"] if _tested_name(fmt, c) in (None, name)]
    return Draft202012Validator(schema, registry=REGISTRY)


def problems(fmt: str, line: str, *, whole: bool = False) -> list[str]:
    """What is wrong with one rendered line in format ``fmt`` (nothing when it validates)."""
    document = json.loads(line)
    checker = VALIDATORS[fmt] if whole else validator(fmt, _named(fmt, document))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in checker.iter_errors(document)]


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
