"""Fault injection: which requests fail, how, and for how many requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

# Kinds that replace the whole response, and kinds that corrupt an otherwise good 200 body.
REPLACING = frozenset({"status", "throttle", "apig0308", "drop", "log_endpoint_down"})
CORRUPTING = frozenset({"malformed", "truncated", "not_object", "missing_field", "wrong_type"})
KINDS = frozenset({"latency"}) | REPLACING | CORRUPTING
PATHS = frozenset({"details", "state", "log", "list", "any"})


@dataclass(slots=True)
class Fault:
    """One injected fault; ``remaining`` None means until cleared."""

    kind: str
    batch_id: str | None = None
    remaining: int | None = 1
    path: str = "details"
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, batch_id: str | None, route: str) -> bool:
        """Whether this fault applies to a request for ``batch_id`` on ``route``."""
        if self.batch_id is not None and self.batch_id != batch_id:
            return False
        return self.path in {"any", route}


def make_fault(kind: str, batch_id: str | int | None, count: int | None, params: dict[str, Any]) -> Fault:
    """Validate and build a fault; ``path`` is taken out of ``params``."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(KINDS)}")
    if count is not None and count < 1:
        raise ValueError("count must be a positive integer or None (until cleared)")
    default_path = "log" if kind == "log_endpoint_down" else "details"
    path = str(params.pop("path", default_path))
    if path not in PATHS:
        raise ValueError(f"unknown fault path {path!r}; expected one of {sorted(PATHS)}")
    key = None if batch_id is None else str(batch_id)
    return Fault(kind, key, count, path, params)


@dataclass(frozen=True, slots=True)
class Hit:
    """The faults one request ran into: an optional delay and at most one other fault."""

    delay: float = 0.0
    fault: Fault | None = None


NO_HIT = Hit()


class FaultBook:
    """The active faults, consumed request by request (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Activate a fault."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        """Return a copy of the faults still active."""
        with self._lock:
            return list(self._faults)

    def take(self, batch_id: str | None, route: str) -> Hit:
        """Consume the first matching latency fault and the first matching other fault."""
        if not self._faults:
            return NO_HIT
        with self._lock:
            latency = self._consume(batch_id, route, latency=True)
            other = self._consume(batch_id, route, latency=False)
        delay = float(latency.params.get("seconds", 1.0)) if latency else 0.0
        return Hit(delay, other)

    def _consume(self, batch_id: str | None, route: str, *, latency: bool) -> Fault | None:
        """Take one use of the first matching fault of the kind asked for."""
        for fault in self._faults:
            if (fault.kind == "latency") == latency and fault.matches(batch_id, route):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None
