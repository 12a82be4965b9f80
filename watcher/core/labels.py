"""A bound on the label values the API supplies: the first N distinct values per label, the rest folded into one."""

from __future__ import annotations

from typing import Final

OVERFLOW: Final = "__overflow__"
# a job name or queue is a label value, not a document: longer ones are cut here
MAX_VALUE_CHARS: Final = 128
DEFAULT_LIMIT: Final = 1000


def clip(value: str | None) -> str:
    """A value as a label shows it: absent is empty, and at most MAX_VALUE_CHARS characters."""
    return (value or "")[:MAX_VALUE_CHARS]


class LabelCap:
    """The values admitted per label name, up to ``limit`` each; admitted values stay admitted.

    ``admit`` is called by the poll loop only; ``shown`` never changes anything, so a scrape in
    another thread reads while the loop admits (a dict read racing an insert is safe under the GIL).
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._admitted: dict[str, dict[str, None]] = {}

    def admit(self, label: str, value: str | None) -> str:
        """The value to show, admitting it while the label has room."""
        text = clip(value)
        known = self._admitted.setdefault(label, {})
        if text == "" or text in known:
            return text
        if len(known) >= self.limit:
            return OVERFLOW
        known[text] = None
        return text

    def shown(self, label: str, value: str | None) -> str:
        """The value to show without admitting: an empty or admitted one as is, any other the overflow value."""
        text = clip(value)
        return text if text == "" or text in self._admitted.get(label, {}) else OVERFLOW
