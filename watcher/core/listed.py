"""A list item that says what the last one said costs a comparison, not a decode.

List mode reads every watched batch every cycle, and most of them have not changed. An item is
*unchanged* when every field ``decode_snapshot`` reads is, value and type, what the batch's kept
snapshot was decoded from: then decoding it would give that snapshot again (and no repairs), so the
kept one is used as is. Anything else, however small (an int where a string was, a line longer than
the limit, a state the state map now reads otherwise), goes through the full decode: the comparison
only ever says "the same", never "close enough". Fields ``decode_snapshot`` does not read (DLI's
``duration``, which grows every poll) are not compared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watcher.core.model import MAX_REQ_BODY_CHARS, decode_snapshot
from watcher.core.states import normalise
from watcher.core.untrusted import valid_unicode
from watcher.core.window import same_lines

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from watcher.core.model import Snapshot
    from watcher.core.tracker import Track
    from watcher.core.window import Window

    Known = Callable[[str], Snapshot | None]

# wire name -> Snapshot attribute, for the plain text fields (a missing, null or empty one decodes to None)
_TEXT = (
    ("appId", "app_id"),
    ("name", "name"),
    ("owner", "owner"),
    ("kind", "kind"),
    ("sc_type", "sc_type"),
    ("image", "image"),
    ("proxyUser", "proxy_user"),
)
_MILLIS = (("create_time", "create_time"), ("update_time", "update_time"))
# every key decode_snapshot reads (a test holds the two to each other)
COMPARED = frozenset(
    {w for w, _ in _TEXT} | {w for w, _ in _MILLIS}
    | {"id", "state", "queue", "cluster_name", "spark_version", "req_body", "log"}
)  # fmt: skip


def reusable(track: Track | None) -> Snapshot | None:
    """The snapshot an unchanged item of this batch may stand for: a present batch's (else None).

    A batch seen missing or never read is decoded afresh: a first sight reports fields (``req_body``)
    the kept snapshot leaves out.
    """
    return track.snapshot if track is not None and track.presence == "present" else None


def decode_listed(obj: object, state_map: Mapping[str, str], known: Known | None = None) -> Snapshot:
    """A list item decoded, or its batch's kept snapshot itself (the same object) when the item is unchanged.

    Raises DecodeError as ``decode_snapshot`` does.
    """
    if known is not None and isinstance(obj, dict):
        key = _id_key(obj.get("id"))
        prev = known(key) if key is not None else None
        if prev is not None and unchanged(obj, prev, state_map):
            return prev
    return decode_snapshot(obj, state_map)


def _id_key(raw: object) -> str | None:
    """The batch ID an item's ``id`` names, when it is a string or a plain integer (Livy's)."""
    if type(raw) is str:
        return raw
    if type(raw) is int and raw.bit_length() < 64:
        return str(raw)
    return None


def unchanged(obj: dict[str, Any], prev: Snapshot, state_map: Mapping[str, str]) -> bool:
    """Whether decoding ``obj`` (then ``with_details_only(…, prev)``) would give ``prev`` again, repairs included."""
    if prev.repairs or _id_key(obj.get("id")) != prev.batch_id:
        return False
    raw = obj.get("state")
    if type(raw) is not str or raw != prev.raw_state:
        return False
    state = normalise(raw)
    if state_map.get(state, state) != prev.state:
        return False
    # written out field by field, not looped over: this runs for every batch of every page (~half the time)
    get = obj.get
    return (
        _same_text(get("appId"), prev.app_id)
        and _same_text(get("name"), prev.name)
        and _same_text(get("owner"), prev.owner)
        and _same_text(get("kind"), prev.kind)
        and _same_text(get("sc_type"), prev.sc_type)
        and _same_text(get("image"), prev.image)
        and _same_text(get("proxyUser"), prev.proxy_user)
        and _same_millis(get("create_time"), prev.create_time)
        and _same_millis(get("update_time"), prev.update_time)
        and _same_queue(obj, prev.queue)
        and _same_details_only(get("spark_version"), prev.spark_version)
        and _harmless_req_body(get("req_body"))
        and _same_log(get("log"), prev.log)
    )


def _same_text(value: object, kept: str | None) -> bool:
    """A text field: the same string, or missing, null or empty where the kept value is None."""
    if value == kept:  # the usual case first: only a str (or None) equals a kept str (or None)
        return True
    return kept is None and value == ""


def _same_millis(value: object, kept: int | None) -> bool:
    # an int, not a bool or float that equals it (decoding repairs those)
    return value == kept and (value is None or type(value) is int)


def _same_queue(obj: dict[str, Any], kept: str | None) -> bool:
    """``queue``, else ``cluster_name`` when the queue is missing or empty (how decode reads them)."""
    queue = obj.get("queue")
    if queue is None or (type(queue) is str and not queue):
        return _same_text(obj.get("cluster_name"), kept)
    return type(queue) is str and queue == kept


def _same_details_only(value: object, kept: str | None) -> bool:
    """A details-only field: a page without it keeps the kept value (``with_details_only``)."""
    return value is None or (type(value) is str and (not value or value == kept))


def _harmless_req_body(value: object) -> bool:
    """``req_body`` is reported on a first sight only and never kept: it matters here only if decode would repair it."""
    if value is None:
        return True
    return type(value) is str and len(value) <= MAX_REQ_BODY_CHARS and valid_unicode(value) == value


def _same_log(value: object, kept: Window) -> bool:
    if value is None:
        return not kept
    if type(value) is not list:
        return False
    if type(kept) is str and value and kept:  # the usual window, inline: this runs for every batch of every page
        try:
            text = "\n".join(value)
        except TypeError:  # a line that is not a string: decoding repairs it
            return False
        return text == kept and "\n" not in "".join(value)  # and no line holds a line feed of its own
    return same_lines(value, kept)
