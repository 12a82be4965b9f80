"""Small admin API under ``/_sim/`` so people can drive the simulator with curl."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from watcher.simulator.wire import Response, json_response

if TYPE_CHECKING:
    from watcher.simulator.wire import Request
    from watcher.simulator.world import World

PREFIX = "/_sim/"
_LINE_ACTIONS = {"stdout": "append_stdout", "stderr": "append_stderr", "diagnostics": "set_diagnostics"}


def _body(req: Request) -> dict[str, Any]:
    """Parse the JSON object body of an admin request."""
    data = json.loads(req.body or b"{}")
    if not isinstance(data, dict):
        raise TypeError("the body must be a JSON object")
    return data


def _need(body: dict[str, Any], key: str) -> object:
    """Return a required body key, or raise ValueError naming it."""
    if key not in body:
        raise ValueError(f"the body needs {key!r}")
    return body[key]


def _batch_action(world: World, batch_id: str, action: str, body: dict[str, Any]) -> None:
    """Apply ``POST /_sim/batches/{id}/{action}`` to the world."""
    if action == "state":
        world.set_state(batch_id, str(_need(body, "state")))
    elif action in _LINE_ACTIONS:
        lines = _need(body, "lines")
        if not isinstance(lines, list):
            raise TypeError("'lines' must be a list")
        getattr(world, _LINE_ACTIONS[action])(batch_id, [str(x) for x in lines])
    elif action == "field":
        world.set_field(batch_id, str(_need(body, "name")), body.get("value"))
    else:
        raise LookupError(f"unknown action {action!r}")


def _dispatch(world: World, req: Request, parts: list[str]) -> Response:
    """Route an admin request by method and path segments."""
    method = req.method
    if parts == ["batches"] and method == "GET":
        return json_response(200, {"batches": world.batch_ids()})
    if parts == ["batches"] and method == "POST":
        body = _body(req)
        return json_response(201, {"id": world.add_batch(body.pop("batch_id", None), **body)})
    if parts == ["faults"] and method == "POST":
        body = _body(req)
        kind = str(_need(body, "kind"))
        del body["kind"]
        fault = world.inject(kind, body.pop("batch_id", None), body.pop("count", 1), **body)
        return json_response(201, {"kind": fault.kind, "path": fault.path})
    if parts == ["faults"] and method == "DELETE":
        world.clear_faults()
        return json_response(200, {"ok": True})
    if len(parts) == 2 and parts[0] == "batches" and method == "DELETE":
        world.remove(parts[1])
        return json_response(200, {"ok": True})
    if len(parts) == 3 and parts[0] == "batches" and method == "POST":
        _batch_action(world, parts[1], parts[2], _body(req))
        return json_response(200, {"ok": True})
    raise LookupError(f"no admin route {method} {req.path}")


def handle(world: World, req: Request) -> Response:
    """Serve one admin request; 404 for unknown batches or routes, 400 for bad bodies."""
    parts = req.path[len(PREFIX) :].strip("/").split("/")
    try:
        return _dispatch(world, req, parts)
    except LookupError as exc:
        return json_response(404, {"error": str(exc)})
    except (ValueError, TypeError) as exc:
        return json_response(400, {"error": str(exc)})
