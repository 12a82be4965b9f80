"""What differs between Huawei Cloud DLI and Apache Livy, in one object per flavor instead of branches."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watcher.core.vocabulary import AuthMethod, FlavorName

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Livy takes a numeric id or any session name that is not all digits (so "2024-etl-nightly" and
# Lighter's UUIDs are names); ASCII only: \d would accept Arabic-Indic digits
_LIVY_ID = re.compile(r"\d+|(?!\d+\Z)[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Flavor:
    """One API flavor's paths, ID rule, default auth and how its list endpoint is read."""

    name: FlavorName
    id_pattern: re.Pattern[str]
    default_auth: AuthMethod
    # DLI lists per queue with server-side order and time filters; Livy lists everything, in one group
    lists_by_queue: bool
    # a Livy batch may be watched by its session name and answers with its numeric id
    watches_by_name: bool
    # DLI paths and AK/SK signatures carry the project (X-Project-Id); Livy has no projects
    project_scoped: bool
    # DLI's auto-recovery can bring a dead batch back (dead, recovering, success), so dead is final only
    # after the terminal grace; Livy's dead never revives. `wait`, the runs counted and batch.outcome all
    # decide by this
    revives_dead: bool

    def batches_path(self, project_id: str) -> str:
        """The batches collection's path: ``/v2.0/{project}/batches`` on DLI, ``/batches`` on Livy."""
        return f"/v2.0/{project_id}/batches" if self.project_scoped else "/batches"

    def valid_id(self, batch_id: str) -> bool:
        """Whether ``batch_id`` is well-formed here (the rule for configured and discovered IDs alike)."""
        return self.id_pattern.fullmatch(batch_id) is not None

    def answer_id_matches(self, watched: str, answered: str) -> bool:
        """Whether an answer's ``id`` belongs to the watched batch (a Livy name answers with a number)."""
        return answered == watched or (self.watches_by_name and not watched.isdigit())

    def list_filters(self, queue: str, created_from_ms: int | None) -> dict[str, str]:
        """List-mode filters for one queue, oldest first from ``created_from_ms`` (stable page offsets)."""
        if not self.lists_by_queue:
            return {}
        filters = {"queue_name": queue, "order": "CREATE_TIME_ASC"}
        if created_from_ms is not None:
            filters["start"] = str(created_from_ms)
        return filters

    def sweep_filters(self, queue: str, created_from_ms: int) -> dict[str, str]:
        """Filters for batches of unknown queue: one queue (every queue when empty), oldest first from a time."""
        if not self.lists_by_queue:
            return {}
        filters = {"order": "CREATE_TIME_ASC", "start": str(created_from_ms)}
        if queue:
            filters["queue_name"] = queue
        return filters

    def discovery_filters(self, queue: str, created_after_ms: int | None) -> dict[str, str]:
        """Discovery's filters for one queue (or every queue when empty), newest first."""
        if not self.lists_by_queue:
            return {}
        filters = {"order": "CREATE_TIME_DESC"}
        if queue:
            filters["queue_name"] = queue
        if created_after_ms is not None:
            filters["start"] = str(created_after_ms)
        return filters


DLI = Flavor("dli", _UUID, "aksk", lists_by_queue=True, watches_by_name=False, project_scoped=True, revives_dead=True)
LIVY = Flavor(
    "livy", _LIVY_ID, "none", lists_by_queue=False, watches_by_name=True, project_scoped=False, revives_dead=False
)
BY_NAME: dict[FlavorName, Flavor] = {"dli": DLI, "livy": LIVY}
