"""Duration text such as ``"15s"``, ``"2m"``, ``"1h30m"`` or ``"500ms"``, as Prometheus and Vector write them."""

from __future__ import annotations

import math
import re

UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# one number and unit per part, largest unit first; "ms" before "m" so "500ms" is not 500 minutes
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
EXAMPLES = "'15s', '2m', '1h30m'"


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises ValueError saying what is wrong (fit for a config error)."""
    body = text.strip()
    if not body:
        raise ValueError(f"must be a duration such as {EXAMPLES}, got an empty string")
    if _NUMBER.fullmatch(body):
        # a quoted bare number is ambiguous (seconds? minutes?): say which spellings work
        raise ValueError(f"needs a unit, e.g. '{body}s', or a plain number of seconds without quotes; got {text!r}")
    total, end, order = 0.0, 0, list(UNITS)
    last = -1
    for match in _PART.finditer(body):
        rank = order.index(match.group(2))
        if match.start() != end or rank <= last:
            break
        total += float(match.group(1)) * UNITS[match.group(2)]
        end, last = match.end(), rank
    if end != len(body) or not math.isfinite(total):
        raise ValueError(f"must be a duration such as {EXAMPLES} (units d, h, m, s, ms, largest first), got {text!r}")
    return total
