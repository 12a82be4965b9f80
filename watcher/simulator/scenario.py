"""Scripted batch lifecycles: steps at times, loaded from TOML/JSON or built in, played into a world."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from watcher.simulator.world import World

BATCH_ACTIONS = frozenset({"add", "state", "stdout", "stderr", "diagnostics", "field", "remove"})
ACTIONS = BATCH_ACTIONS | {"fault", "clear_faults"}
_REQUIRED = {"state": ("state",), "stdout": ("lines",), "stderr": ("lines",), "diagnostics": ("lines",),
             "field": ("name", "value"), "fault": ("kind",)}  # fmt: skip
FOREVER = "forever"


@dataclass(frozen=True)
class Step:
    """One scripted change: at ``at`` seconds, do ``action`` to batch ``batch`` with ``args``."""

    at: float
    action: str
    batch: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)


def _expand_lines(action: str, args: dict[str, Any]) -> None:
    """``template`` + ``repeat`` is shorthand for many numbered lines (``{i}`` counts from 1)."""
    if "template" in args:
        template, repeat = str(args.pop("template")), int(args.pop("repeat", 1))
        args["lines"] = [template.format(i=i, n=repeat) for i in range(1, repeat + 1)]
    if action in {"stdout", "stderr", "diagnostics"} and not (
        isinstance(args.get("lines"), list) and all(isinstance(x, str) for x in args["lines"])
    ):
        raise ValueError(f"{action} step needs 'lines' as a list of strings")


def make_step(raw: Mapping[str, Any]) -> Step:
    """Validate one step as written in a scenario file."""
    args = dict(raw)
    at, action, batch = args.pop("at", None), args.pop("action", None), args.pop("batch", None)
    if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
        raise ValueError(f"step {dict(raw)!r}: 'at' must be a number of seconds >= 0")
    if action not in ACTIONS:
        raise ValueError(f"step {dict(raw)!r}: action must be one of {sorted(ACTIONS)}")
    if action in BATCH_ACTIONS and not isinstance(batch, str):
        raise ValueError(f"step {dict(raw)!r}: {action} needs a 'batch' key")
    _expand_lines(action, args)
    missing = [k for k in _REQUIRED.get(action, ()) if k not in args]
    if missing:
        raise ValueError(f"step {dict(raw)!r}: {action} needs {', '.join(missing)}")
    return Step(float(at), action, batch, args)


def parse_steps(raw: Iterable[Mapping[str, Any]]) -> list[Step]:
    """Validate steps, sort them by time (stably) and check every batch key is added first."""
    steps = sorted((make_step(r) for r in raw), key=lambda s: s.at)
    added: set[str] = set()
    for step in steps:
        if step.action == "add" and step.batch is not None:
            added.add(step.batch)
        elif step.batch is not None and step.batch not in added:
            raise ValueError(f"batch {step.batch!r} is used at {step.at:g} s before it is added")
    return steps


def load_scenario(path: str | Path) -> list[Step]:
    """Load steps from TOML (``[[steps]]`` tables) or JSON (a list, or ``{"steps": [...]}``)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    if isinstance(data, dict):
        data = data.get("steps")
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        raise ValueError(f"{path}: expected a list of steps (TOML [[steps]] tables or a JSON list)")
    return parse_steps(data)


def demo_scenario() -> list[Step]:
    """Load the built-in demo story (about 50 s): success, failure, log bursts and a recovery."""
    text = resources.files("watcher.simulator").joinpath("demo.toml").read_text(encoding="utf-8")
    return parse_steps(tomllib.loads(text)["steps"])


def due_steps(steps: Sequence[Step], elapsed: float) -> list[Step]:
    """Select the steps whose time has come after ``elapsed`` scenario seconds."""
    return [s for s in steps if s.at <= elapsed]


class ScenarioPlayer:
    """Applies steps to a world at their times; ``ids`` maps batch keys to generated IDs up front."""

    def __init__(self, world: World, steps: Sequence[Step], speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.world = world
        self.steps = sorted(steps, key=lambda s: s.at)
        self.speed = speed
        self.ids: dict[str, str] = {}
        for step in self.steps:
            if step.action == "add" and step.batch is not None and step.batch not in self.ids:
                given = step.args.get("id")
                self.ids[step.batch] = str(given) if given is not None else world.allocate_id()

    @property
    def duration(self) -> float:
        """Wall-clock seconds until the last step, at this speed."""
        return max((s.at for s in self.steps), default=0.0) / self.speed

    def apply(self, step: Step) -> None:
        """Apply one step to the world now."""
        args = dict(step.args)
        bid = self.ids.get(step.batch or "", "")
        world = self.world
        match step.action:
            case "add":
                args.pop("id", None)
                world.add_batch(bid, **args)
            case "state":
                world.set_state(bid, str(args["state"]))
            case "stdout":
                world.append_stdout(bid, args["lines"])
            case "stderr":
                world.append_stderr(bid, args["lines"])
            case "diagnostics":
                world.set_diagnostics(bid, args["lines"])
            case "field":
                world.set_field(bid, str(args["name"]), args["value"])
            case "remove":
                world.remove(bid)
            case "fault":
                self._fault(args, bid or None)
            case _:
                world.clear_faults()

    def _fault(self, args: dict[str, Any], batch_id: str | None) -> None:
        """Inject the fault a ``fault`` step describes."""
        kind = str(args.pop("kind"))
        count = args.pop("count", 1)
        world_count = None if count in (None, FOREVER) else int(count)
        self.world.inject(kind, batch_id, world_count, **args)

    def reset(self) -> None:
        """Take the story's batches and faults out of the world, so that the story can play again with the same IDs."""
        present = set(self.world.batch_ids())
        for batch_id in self.ids.values():
            if batch_id in present:
                self.world.remove(batch_id)
        self.world.clear_faults()

    async def run(self) -> None:
        """Apply every step at its time (divided by ``speed``), then return."""
        start = anyio.current_time()
        pending = list(self.steps)
        while pending:
            elapsed = (anyio.current_time() - start) * self.speed
            due = due_steps(pending, elapsed)
            for step in due:
                self.apply(step)
            pending = pending[len(due) :]
            if pending:
                await anyio.sleep(max(0.0, (pending[0].at - elapsed) / self.speed))
