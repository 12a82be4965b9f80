"""When the first cycle is complete, what ``watcher.ready`` reports of it, and the one readiness rule.

``/readyz`` is 503 only while the first cycle is not done, while throttled, while the state file cannot
be written, or when every watched batch's last answer is the same rejection (401/403 after a token
refresh, or not found with one API error); one failing or not-found batch among others never holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from watcher.core.vocabulary import ENDPOINTS

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping


@dataclass(frozen=True, slots=True)
class Rejection:
    """An answer that says the watcher may not or cannot read a batch: ``auth`` (401/403) or ``not_found``."""

    kind: str
    status_code: int | None = None
    error_code: str | None = None
    # what the server said; not part of what makes two rejections the same
    message: str = field(default="", compare=False)

    def describe(self) -> str:
        """How /readyz names it: the kind with its status and API error code, never a batch ID."""
        what = "not found" if self.kind == "not_found" else "rejected"
        codes = " ".join(str(c) for c in (self.status_code, self.error_code) if c is not None)
        return f"{what} ({codes})" if codes else what


def first_cycle_done(owed: Collection[str], awaited: Collection[str]) -> bool:
    """Done once no batch owes its first poll and nothing awaited (discovery's first run) is outstanding."""
    return not owed and not awaited


def common_rejection(batch_ids: Collection[str], answers: Mapping[str, Rejection | None]) -> Rejection | None:
    """The rejection every one of the batches last answered with, when they all answered the same one."""
    if not batch_ids:
        return None
    first = answers.get(next(iter(batch_ids)))
    if first is None:
        return None
    return first if all(answers.get(bid) == first for bid in batch_ids) else None


def credentials_rejected(batch_ids: Collection[str], answers: Mapping[str, Rejection | None]) -> Rejection | None:
    """The 401 every batch of the first cycle was answered with (the credentials are wrong: exit 2), or None.

    A 403 is not this: the credentials work but may not read these batches, which a grant can mend.
    """
    common = common_rejection(batch_ids, answers)
    return common if common is not None and common.kind == "auth" and common.status_code == 401 else None


def ready_fields(batches: int, seconds: float, requests: Mapping[str, int]) -> dict[str, object]:
    """The fields of ``watcher.ready``: batches watched, seconds since start, API requests so far by endpoint."""
    fields: dict[str, object] = {"batches": batches, "seconds": round(seconds, 3)}
    fields.update({f"{endpoint}_requests": requests.get(endpoint, 0) for endpoint in ENDPOINTS})
    return fields
