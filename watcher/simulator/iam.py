"""The IAM token endpoint (``POST /v3/auth/tokens``), password method, project scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from watcher.simulator import replies
from watcher.simulator.wire import json_response

if TYPE_CHECKING:
    from watcher.simulator.auth import SimAuth
    from watcher.simulator.wire import Request, Response
    from watcher.simulator.world import World

TOKENS_PATH = "/v3/auth/tokens"


def rfc3339(epoch: float) -> str:
    """IAM's timestamp format, e.g. ``2024-01-02T03:04:05.000000Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dig(obj: object, *keys: str) -> object:
    """Follow keys into nested dicts; None where the path breaks."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _credentials(body: object) -> tuple[str, str, str] | str:
    """Extract user name, password and domain name from a password-auth body, or say what is wrong."""
    if _dig(body, "auth", "identity", "methods") != ["password"]:
        return 'auth.identity.methods must be ["password"]'
    user = _dig(body, "auth", "identity", "password", "user")
    name, password = _dig(user, "name"), _dig(user, "password")
    domain = _dig(user, "domain", "name")
    if isinstance(name, str) and isinstance(password, str) and isinstance(domain, str) and name and domain:
        return name, password, domain
    return "auth.identity.password.user needs name, password and domain.name"


def _scope(body: object, world: World) -> dict[str, str] | str:
    """Extract the project the token is scoped to, or say what is wrong."""
    project = _dig(body, "auth", "scope", "project")
    pid, pname = _dig(project, "id"), _dig(project, "name")
    if not pid and not pname:
        return "auth.scope.project.name or auth.scope.project.id is required"
    if pid and pid != world.project_id:
        return f"project {pid} does not exist"
    return {"id": world.project_id, "name": str(pname or "cn-north-4")}


def issue_token(auth: SimAuth, world: World, req: Request) -> Response:
    """Check a password-auth request and answer 201 with ``X-Subject-Token``."""
    if req.method != "POST":
        return replies.iam_error(405, f"{req.method} is not allowed on {TOKENS_PATH}")
    try:
        body = json.loads(req.body or b"null")
    except ValueError:
        return replies.iam_error(400, "The request body is not valid JSON.")
    creds, project = _credentials(body), _scope(body, world)
    if isinstance(creds, str):
        return replies.iam_error(400, creds)
    if isinstance(project, str):
        return replies.iam_error(400, project)
    name, password, domain = creds
    if auth.users.get(name) != password or domain != auth.domain:
        return replies.iam_error(401, "The username or password is wrong.")
    token, expires = world.issue_token(auth.token_lifetime)
    info = {
        "expires_at": rfc3339(expires),
        "issued_at": rfc3339(world.clock()),
        "methods": ["password"],
        "project": {**project, "domain": {"name": domain}},
        "user": {"name": name, "domain": {"name": domain}},
    }
    return json_response(201, {"token": info}, (("X-Subject-Token", token),))
