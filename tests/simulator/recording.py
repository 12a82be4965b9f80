"""What only the tests want to know of a simulator: every diagnostics version set, and how many steps a player ran."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watcher.simulator import World
from watcher.simulator.scenario import ScenarioPlayer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from watcher.simulator.scenario import Step


class RecordingWorld(World):
    """A World that remembers every diagnostics list set on each batch, removed batches' too."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.diagnostics_set: dict[str, list[list[str]]] = {}

    def set_diagnostics(self, batch_id: str | int, lines: Iterable[str]) -> None:
        """Set them, and record the version."""
        kept = list(lines)
        super().set_diagnostics(batch_id, kept)
        self.diagnostics_set.setdefault(str(batch_id), []).append(kept)

    def diagnostics_history(self, batch_id: str | int) -> list[list[str]]:
        """Every diagnostics list ever set on the batch, in order."""
        return [list(d) for d in self.diagnostics_set.get(str(batch_id), [])]


class CountingPlayer(ScenarioPlayer):
    """A ScenarioPlayer that counts the steps it applied."""

    applied = 0

    def apply(self, step: Step) -> None:
        """Apply the step, and count it."""
        super().apply(step)
        self.applied += 1
