"""Sharding a fleet of batches across watcher processes by a stable hash of the batch ID or of its queue."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

_SPEC = re.compile(r"^(\d+|ordinal)/(\d+)$")
_ORDINAL = re.compile(r"-(\d+)$")


@dataclass(frozen=True, slots=True)
class Shard:
    """A process's share of the fleet: batches whose hash modulo ``count`` is ``index``."""

    index: int = 0
    count: int = 1

    def owns(self, batch_id: str) -> bool:
        """Whether this shard watches ``batch_id``; every ID belongs to exactly one shard."""
        return self.count == 1 or bucket(batch_id, self.count) == self.index

    def owns_queue(self, queue: str | None) -> bool:
        """Whether this shard watches the batches of ``queue`` (shard_by "queue"); a batch without one counts as ""."""
        return self.count == 1 or bucket(queue or "", self.count) == self.index

    def select(self, batch_ids: Iterable[str]) -> list[str]:
        """The IDs this shard owns, in their order."""
        return [b for b in batch_ids if self.owns(b)]

    def select_queues(self, queues: Iterable[str]) -> tuple[str, ...]:
        """The queues this shard owns, in their order."""
        return tuple(q for q in queues if self.owns_queue(q))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def bucket(name: str, count: int) -> int:
    """The shard (0 to count - 1) a batch ID or queue name hashes to."""
    # blake2b, not hash(): the same on every host, Python version and restart
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def parse_shard(text: str, env: Mapping[str, str]) -> Shard:
    """``""`` (everything), ``"i/n"``, or ``"ordinal/n"`` taking i from a StatefulSet pod name in $HOSTNAME.

    Raises ValueError with a message fit for a config error.
    """
    if not text:
        return Shard()
    match = _SPEC.match(text)
    if match is None:
        raise ValueError(f'must be "i/n" or "ordinal/n", got {text!r}')
    count = int(match.group(2))
    if match.group(1) == "ordinal":
        host = env.get("HOSTNAME", "")
        found = _ORDINAL.search(host)
        if found is None:
            raise ValueError(f"ordinal/n needs $HOSTNAME ending in -<ordinal> (a StatefulSet pod), got {host!r}")
        index = int(found.group(1))
    else:
        index = int(match.group(1))
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"needs 0 <= i < n, got {index}/{count}")
    return Shard(index, count)
