"""A batch as one poll saw it, decoded strictly from the API's JSON."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

from watcher.errors import DecodeError
from watcher.states import normalise

# Fields whose change is reported as batch.changed: wire name -> Snapshot attribute.
TRACKED_FIELDS = {
    "appId": "app_id",
    "name": "name",
    "queue": "queue",
    "owner": "owner",
    "kind": "kind",
    "sc_type": "sc_type",
    "spark_version": "spark_version",
    "image": "image",
    "proxyUser": "proxy_user",
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The details of one batch at one poll; times are epoch milliseconds as DLI sends them."""

    batch_id: str
    state: str
    raw_state: str
    app_id: str | None = None
    name: str | None = None
    owner: str | None = None
    queue: str | None = None
    kind: str | None = None
    sc_type: str | None = None
    spark_version: str | None = None
    image: str | None = None
    proxy_user: str | None = None
    create_time: int | None = None
    update_time: int | None = None
    req_body: str | None = None
    log: tuple[str, ...] = ()

    def tracked(self) -> dict[str, str | None]:
        """The fields batch.changed compares, by wire name."""
        return {wire: getattr(self, attr) for wire, attr in TRACKED_FIELDS.items()}


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        # appId is typed "Array of strings" in one copy of the docs
        return ",".join(value) or None
    raise DecodeError(f"field {key!r} has type {type(value).__name__}")


def _shared(obj: dict[str, Any], key: str) -> str | None:
    """A field that thousands of batches repeat (queue, owner, kind...): one string object for all."""
    value = _opt_str(obj, key)
    return None if value is None else sys.intern(value)


def _opt_millis(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"field {key!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):  # NaN / Infinity / 1e999 parse as floats
        raise DecodeError(f"field {key!r} is not a finite number")
    return int(value)


def _log(obj: dict[str, Any]) -> tuple[str, ...]:
    value = obj.get("log")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DecodeError("field 'log' is not a list of strings")
    return tuple(value)


def _required_id(obj: dict[str, Any]) -> str:
    value = obj.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise DecodeError("field 'id' is missing or not a string/integer")
    return str(value)


def decode_snapshot(obj: object) -> Snapshot:
    """Decode a details (or list item) object; raises DecodeError on anything we cannot trust."""
    if not isinstance(obj, dict):
        raise DecodeError(f"expected a JSON object, got {type(obj).__name__}")
    raw_state = obj.get("state")
    if not isinstance(raw_state, str) or not raw_state.strip():
        raise DecodeError("field 'state' is missing or not a string")
    return Snapshot(
        batch_id=_required_id(obj),
        state=sys.intern(normalise(raw_state)),
        raw_state=sys.intern(raw_state),
        app_id=_opt_str(obj, "appId"),
        name=_shared(obj, "name"),
        owner=_shared(obj, "owner"),
        queue=_shared(obj, "queue") or _shared(obj, "cluster_name"),
        kind=_shared(obj, "kind"),
        sc_type=_shared(obj, "sc_type"),
        spark_version=_shared(obj, "spark_version"),
        image=_shared(obj, "image"),
        proxy_user=_shared(obj, "proxyUser"),
        create_time=_opt_millis(obj, "create_time"),
        update_time=_opt_millis(obj, "update_time"),
        req_body=_opt_str(obj, "req_body"),
        log=_log(obj),
    )
