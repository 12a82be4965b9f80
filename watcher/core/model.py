"""A batch as one poll saw it, decoded from the API's JSON: rejected when untrustworthy, repaired field by field.

An answer without a usable ``id`` or ``state`` cannot be trusted as a whole and is a DecodeError.
Any other field that is mistyped, out of range, too long or not valid Unicode is repaired (to
null, a bounded value, U+FFFD) and noted in ``Snapshot.repairs``, so the rest of the answer is used.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from watcher.core.states import normalise
from watcher.core.untrusted import valid_unicode
from watcher.core.window import Window, pack
from watcher.errors import DecodeError

if TYPE_CHECKING:
    from collections.abc import Mapping

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
# Details-only fields: DLI's list items (huaweicloudsdkdli 3.1.219 SparkJob) do not carry them, so a
# list page says nothing of them (not that they became null)
DETAILS_ONLY = ("spark_version",)
# the API shows a 10-line window; a longer list is a misbehaving server, and every kept line costs memory
MAX_LOG_LINES = 1000
MAX_LINE_CHARS = 16 * 1024
MAX_FIELD_CHARS = 1024
MAX_REQ_BODY_CHARS = 64 * 1024
# epoch milliseconds a datetime can hold: 1970 up to the last millisecond of year 9999
MAX_MILLIS = 253_402_300_799_999


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
    # the window's lines, kept joined (``watcher.core.window``); lines given as a tuple are joined
    log: Window = ""
    # (wire field, problem) for each value decoding had to repair; not part of what the batch *is*
    repairs: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.log, str):
            object.__setattr__(self, "log", pack(self.log))

    def tracked(self) -> dict[str, str | None]:
        """The fields batch.changed compares, by wire name."""
        return {wire: getattr(self, attr) for wire, attr in TRACKED_FIELDS.items()}


def with_details_only(listed: Snapshot, prev: Snapshot | None) -> Snapshot:
    """A list page's snapshot with the details-only fields the batch's last snapshot had (the page lacks them)."""
    if prev is None or listed is prev:  # an unchanged list item is the kept snapshot itself
        return listed
    kept = {attr: getattr(prev, attr) for attr in DETAILS_ONLY if getattr(listed, attr) is None}
    return replace(listed, **kept) if any(v is not None for v in kept.values()) else listed


class _Decoder:
    """Reads one object's fields, collecting the repairs it makes."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self.repairs: list[tuple[str, str]] = []

    def repair(self, key: str, problem: str) -> None:
        self.repairs.append((key, problem))

    def text(self, key: str, value: str, limit: int) -> str:
        if len(value) <= limit and value.isascii():  # the common case: nothing to repair (~15 calls an answer)
            return value
        clean = valid_unicode(value)
        if clean != value:
            self.repair(key, "invalid unicode")
        if len(clean) > limit:
            self.repair(key, f"longer than {limit} characters")
            clean = clean[:limit]
        return clean

    def opt_str(self, key: str, limit: int = MAX_FIELD_CHARS) -> str | None:
        value = self.obj.get(key)
        if type(value) is str:  # what JSON gives for a text field: one check instead of five (a subclass: below)
            return (self.text(key, value, limit) or None) if value else None
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() >= 64:
            self.repair(key, "out of range")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            value = ",".join(value)  # appId is typed "Array of strings" in one copy of the docs
        if not isinstance(value, str):
            self.repair(key, f"unexpected type {type(self.obj.get(key)).__name__}")
            return None
        return self.text(key, value, limit) or None

    def shared(self, key: str) -> str | None:
        """A field thousands of batches repeat (queue, owner, kind...): one string object for all."""
        value = self.obj.get(key)
        if type(value) is str and len(value) <= MAX_FIELD_CHARS and value.isascii():  # opt_str's common case
            return sys.intern(value) if value else None
        value = self.opt_str(key)
        return None if value is None else sys.intern(value)

    def millis(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.repair(key, "not a number")
            return None
        # NaN, 1e20, year 10000, negative; comparisons, not math.isfinite, which overflows on a huge int
        if not 0 <= value <= MAX_MILLIS:
            self.repair(key, "out of range")
            return None
        return int(value)

    def log(self) -> Window:
        value = self.obj.get("log")
        if value is None:
            return ""
        if not isinstance(value, list):
            self.repair("log", "not a list")
            return ""
        if len(value) > MAX_LOG_LINES:
            self.repair("log", f"more than {MAX_LOG_LINES} lines")
            value = value[-MAX_LOG_LINES:]
        lines = [self.text("log", v, MAX_LINE_CHARS) for v in value if isinstance(v, str)]
        if len(lines) < len(value):
            self.repair("log", "lines that are not strings")
        return pack(lines)


def _required_id(obj: dict[str, Any]) -> str:
    value = obj.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise DecodeError("field 'id' is missing or not a string/integer")
    text = value if isinstance(value, str) else str(value) if value.bit_length() < 64 else ""
    if not text or len(text) > MAX_FIELD_CHARS or valid_unicode(text) != text:
        raise DecodeError("field 'id' is not a usable batch ID")
    return text


def _required_state(d: _Decoder) -> str:
    raw = d.obj.get("state")
    if not isinstance(raw, str) or not raw.strip():
        raise DecodeError("field 'state' is missing or not a string")
    return d.text("state", raw, 64)


def decode_snapshot(obj: object, state_map: Mapping[str, str] | None = None) -> Snapshot:
    """Decode a details (or list item) object; raises DecodeError when ``id`` or ``state`` is unusable.

    ``state_map`` turns a normalised state a server sends into the documented state it means.
    """
    if not isinstance(obj, dict):
        raise DecodeError(f"expected a JSON object, got {type(obj).__name__}")
    d = _Decoder(obj)
    batch_id = _required_id(obj)
    raw_state = _required_state(d)
    state = normalise(raw_state)
    snap = Snapshot(
        batch_id=batch_id,
        state=sys.intern(state_map.get(state, state) if state_map else state),
        raw_state=sys.intern(raw_state),
        app_id=d.opt_str("appId"),
        name=d.shared("name"),
        owner=d.shared("owner"),
        queue=d.shared("queue") or d.shared("cluster_name"),
        kind=d.shared("kind"),
        sc_type=d.shared("sc_type"),
        spark_version=d.shared("spark_version"),
        image=d.shared("image"),
        proxy_user=d.shared("proxyUser"),
        create_time=d.millis("create_time"),
        update_time=d.millis("update_time"),
        req_body=d.opt_str("req_body", MAX_REQ_BODY_CHARS),
        log=d.log(),
    )
    if not d.repairs:
        return snap
    # one note per field is enough: the event says which field, not every way it was wrong
    first: dict[str, str] = {}
    for key, problem in d.repairs:
        first.setdefault(key, problem)
    return replace(snap, repairs=tuple(first.items()))
