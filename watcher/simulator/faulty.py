"""What an injected fault does to a response: replace it, or corrupt its 200 body."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from watcher.simulator import replies
from watcher.simulator.render import dumps
from watcher.simulator.wire import Response

if TYPE_CHECKING:
    from watcher.simulator.faults import Fault

MALFORMED_BODY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def replace(fault: Fault, flavor: str, batch_id: str | None) -> Response:
    """Build the response a replacing fault sends instead of the real one."""
    params = fault.params
    if fault.kind == "drop":
        return Response(drop=True)
    if fault.kind == "throttle":
        return replies.throttled(float(params.get("retry_after", 1)))
    if fault.kind == "apig0308":
        return replies.throttled(params.get("retry_after"), int(params.get("status", 429)))
    if fault.kind == "log_endpoint_down":
        return replies.log_unavailable(flavor, batch_id or "")
    status = int(params.get("status", 503))
    return replies.server_error(flavor, status, params.get("error_code"), params.get("error_msg"))


def _mutate(obj: dict[str, Any], route: str, field: str, value: object, *, delete: bool) -> dict[str, Any]:
    """Set or delete a field of the object, or of each list session."""
    targets = obj.get("sessions", []) if route == "list" else [obj]
    for target in targets:
        if delete:
            target.pop(field, None)
        else:
            target[field] = value
    return obj


def corrupt(fault: Fault, resp: Response, route: str) -> Response:
    """Break a 200's body the way the fault says."""
    kind = fault.kind
    if kind == "malformed":
        body = MALFORMED_BODY
    elif kind == "truncated":
        body = resp.body[: max(1, len(resp.body) // 2)]
    elif kind == "not_object":
        body = b"[1,2]"
    else:
        field = str(fault.params.get("field", "log" if route == "log" else "state"))
        value = fault.params.get("value", 5)
        obj = _mutate(json.loads(resp.body), route, field, value, delete=kind == "missing_field")
        body = dumps(obj)
    return Response(200, body, resp.headers, resp.content_type)
