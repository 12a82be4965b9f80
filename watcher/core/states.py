"""Batch states of DLI and Livy: normalisation, active/terminal sets and outcomes."""

from __future__ import annotations

from typing import Final

DLI_ACTIVE: Final = ("starting", "running", "recovering")
DLI_TERMINAL: Final = ("success", "dead")
LIVY_ACTIVE: Final = ("not_started", "starting", "running", "recovering", "idle", "busy", "shutting_down")
LIVY_TERMINAL: Final = ("success", "dead", "killed", "error")

ACTIVE: Final = frozenset(DLI_ACTIVE + LIVY_ACTIVE)
TERMINAL: Final = frozenset(DLI_TERMINAL + LIVY_TERMINAL)
# Every label value dli_batch_state can carry, in a stable order for the exposition.
KNOWN: Final = tuple(dict.fromkeys(LIVY_ACTIVE + LIVY_TERMINAL))
UNKNOWN: Final = "unknown"
METRIC_STATES: Final = (*KNOWN, UNKNOWN)

OUTCOMES: Final = ("succeeded", "failed", "killed")
# waiting for resources, before the first "running": a batch seen in one of these has a known queue wait
WAITING: Final = frozenset({"not_started", "starting"})
# dli_batch_state's label values per flavor: a DLI batch never gets Livy-only series
FLAVOR_STATES: Final = {"dli": (*DLI_ACTIVE, *DLI_TERMINAL, UNKNOWN), "livy": METRIC_STATES}


def normalise(raw: str) -> str:
    """Lower-case and trim a state as the API returned it (``"Success"`` is ``success``)."""
    return raw.strip().lower()


def is_known(state: str) -> bool:
    """Whether the state is one DLI or Livy documents."""
    return state in ACTIVE or state in TERMINAL


def is_terminal(state: str) -> bool:
    """Whether the batch has finished; unknown states count as still active."""
    return state in TERMINAL


def metric_state(state: str) -> str:
    """The ``state`` label value: the state itself when known, else ``unknown``."""
    return state if is_known(state) else UNKNOWN


def outcome(state: str) -> str:
    """The outcome of a terminal state: succeeded, killed or failed (dead, error)."""
    if state == "success":
        return "succeeded"
    if state == "killed":
        return "killed"
    return "failed"
