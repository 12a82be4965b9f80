"""The DLI and Livy batch API routes: details, state, log and list, with faults applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.simulator import faulty, listing, replies
from watcher.simulator.faults import CORRUPTING
from watcher.simulator.params import lenient_int, log_slice
from watcher.simulator.wire import Response, json_response

if TYPE_CHECKING:
    from watcher.simulator.wire import Request
    from watcher.simulator.world import World


# Livy's GET /version (apache/incubator-livy LivyServer.scala, livyVersionServlet): the build's
# version, user, revision, branch, date and repository URL, as the 0.9.0 release reports them
LIVY_VERSION = {
    "version": "0.9.0-incubating",
    "user": "sim",
    "revision": "0000000000000000000000000000000000000000",
    "branch": "HEAD",
    "date": "2024-01-01T00:00:00Z",
    "url": "https://github.com/apache/incubator-livy",
}


@dataclass(frozen=True, slots=True)
class Target:
    """What an API path addresses: a route name and, except for ``list``, a batch ID."""

    route: str
    batch_id: str | None = None


def _target(parts: list[str]) -> Target | None:
    """Map the path segments after the collection name to a route."""
    if not parts:
        return Target("list")
    if len(parts) == 1 and parts[0]:
        return Target("details", parts[0])
    if len(parts) == 2 and parts[0] and parts[1] in {"state", "log"}:
        return Target(parts[1], parts[0])
    return None


def resolve(world: World, path: str) -> Target | Response | None:
    """Resolve a path to its route, a wrong-project error, or None when it is no API path."""
    parts = path.rstrip("/").split("/")
    if world.flavor == "livy":
        if parts[1:] == ["version"]:
            return Target("version")
        return _target(parts[2:]) if parts[1:2] == ["batches"] else None
    if len(parts) < 4 or parts[1] != "v2.0" or parts[3] != "batches":
        return None
    if parts[2] != world.project_id:
        return replies.wrong_project(parts[2])
    return _target(parts[4:])


def handle(world: World, req: Request, target: Target) -> Response:
    """Serve one API request, letting injected faults delay, replace or corrupt it."""
    hit = world.faults.take(target.batch_id, target.route)
    fault = hit.fault
    if fault is not None and fault.kind not in CORRUPTING:
        resp = faulty.replace(fault, world.flavor, target.batch_id)
    else:
        resp = serve(world, req, target)
        if fault is not None and resp.status == 200:
            resp = faulty.corrupt(fault, resp, target.route)
    resp.delay = hit.delay
    return resp


def serve(world: World, req: Request, target: Target) -> Response:
    """Answer without faults."""
    batch_id = target.batch_id or ""
    try:
        if target.route == "details":
            body = world.details_body(batch_id)
        elif target.route == "state":
            body = world.state_body(batch_id)
        elif target.route == "log":
            return serve_log(world, req, batch_id)
        elif target.route == "version":
            return json_response(200, LIVY_VERSION)
        else:
            params = dict(req.params())
            fn = listing.dli_list if world.flavor == "dli" else listing.livy_list
            return json_response(200, fn(world, params))
    except ValueError as exc:
        return replies.bad_parameter(world.flavor, str(exc))
    return replies.not_found(world.flavor, batch_id) if body is None else Response(200, body)


def serve_log(world: World, req: Request, batch_id: str) -> Response:
    """``/log?from=&size=``: a slice of the whole log (or of the output alone, for a batch without markers there)."""
    if not world.log_endpoint:
        return replies.log_unavailable(world.flavor, batch_id)
    lines = world.endpoint_log(batch_id)
    if lines is None:
        return replies.not_found(world.flavor, batch_id)
    params = dict(req.params())
    start_at, size = lenient_int("from", params.get("from")), lenient_int("size", params.get("size"))
    start, page = log_slice(lines, start_at, size)
    wire_id: str | int = batch_id if world.flavor == "dli" else int(batch_id)
    return json_response(200, {"id": wire_id, "from": start, "total": len(lines), "log": page})
