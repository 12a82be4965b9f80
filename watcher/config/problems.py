"""Config problems: raised at the first one (run, reload) or collected to report them all at once (check)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from watcher.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

T = TypeVar("T")


class Problems:
    """Where parsing puts each ConfigError: raised at once, or kept in ``found`` when ``collect`` is set."""

    def __init__(self, *, collect: bool = False) -> None:
        self.collect = collect
        self.found: list[ConfigError] = []

    def add(self, err: ConfigError) -> None:
        """Raise ``err``, or keep it and carry on."""
        if not self.collect:
            raise err
        self.found.append(err)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """A ConfigError inside ends the block and goes to ``add``."""
        try:
            yield
        except ConfigError as err:
            self.add(err)

    def values(self, **steps: Callable[[], object]) -> dict[str, Any]:
        """Each step's value by name; a failed step is left out, so its field keeps the dataclass default."""
        out: dict[str, Any] = {}
        for name, step in steps.items():
            with self.guard():
                out[name] = step()
        return out

    def section(self, build: Callable[[], T], fallback: Callable[[], T]) -> T:
        """``build()``, or ``fallback()`` when a problem stopped it (only when collecting)."""
        with self.guard():
            return build()
        return fallback()
