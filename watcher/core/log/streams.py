"""One batch's stream tracks as a small immutable mapping: the names are one tuple shared by every batch.

A dict of a window's three streams (stdout, stderr, diagnostics) is ~220 bytes a batch; kept as a
tuple of tracks beside a shared tuple of names it is about half that (issue 30). Stream names are
the layout's few (``layout.ORDER``), so the shared name tuples are a handful.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from watcher.core.log.diff import StreamTrack

MAX_SHAPES = 256  # name tuples shared at most (a state file could name others: those are kept unshared)


class Streams(Mapping[str, "StreamTrack"]):
    """The streams of a log track by name, in the order given; immutable, compared as a mapping."""

    __slots__ = ("_names", "_tracks")
    _names: tuple[str, ...]
    _tracks: tuple[StreamTrack, ...]
    _shapes: ClassVar[dict[tuple[str, ...], tuple[str, ...]]] = {}

    def __init__(self, pairs: Mapping[str, StreamTrack] | Iterable[tuple[str, StreamTrack]] = ()) -> None:
        items = tuple(pairs.items() if isinstance(pairs, Mapping) else pairs)
        names = tuple(name for name, _ in items)
        shapes = self._shapes
        if len(shapes) < MAX_SHAPES:
            names = shapes.setdefault(names, names)
        self._names = shapes.get(names, names)
        self._tracks = tuple(track for _, track in items)

    def __getitem__(self, name: str) -> StreamTrack:
        """The track of stream ``name``."""
        try:
            return self._tracks[self._names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        """The stream names, in order."""
        return iter(self._names)

    def __len__(self) -> int:
        """How many streams."""
        return len(self._names)

    def __repr__(self) -> str:
        return f"Streams({dict(self)!r})"
