"""Counted nouns as a person reads them: "1 batch", "2 batches"."""

from __future__ import annotations

# the nouns whose plural is not the singular with an "s"
_IRREGULAR = {"batch": "batches", "match": "matches"}


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is one."""
    return f"{count} {noun if count == 1 else _IRREGULAR.get(noun, noun + 's')}"
