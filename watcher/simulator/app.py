"""Request dispatch: IAM, admin and API routes, auth, and per-route request counters."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from watcher.simulator import admin, api, iam, replies
from watcher.simulator.auth import SimAuth, check_request

if TYPE_CHECKING:
    from watcher.simulator.wire import Request, Response
    from watcher.simulator.world import World


class SimApp:
    """Turns a parsed request into a response; counts requests per route in ``requests``."""

    def __init__(self, world: World, auth: SimAuth | None = None, *, admin_routes: bool = True) -> None:
        self.world = world
        self.auth = auth or SimAuth()
        self.admin_routes = admin_routes
        self.requests: Counter[str] = Counter()

    def __call__(self, req: Request) -> Response:
        """Answer one request."""
        path = req.path
        if path == iam.TOKENS_PATH:
            self.requests["iam"] += 1
            return iam.issue_token(self.auth, self.world, req)
        if self.admin_routes and path.startswith(admin.PREFIX):
            self.requests["admin"] += 1
            return admin.handle(self.world, req)
        return self._api(req)

    def _api(self, req: Request) -> Response:
        """Serve a DLI/Livy API path: resolve, authenticate, answer."""
        flavor = self.world.flavor
        target = api.resolve(self.world, req.path)
        if target is None:
            self.requests["unknown"] += 1
            return replies.no_route(flavor, req.method, req.path)
        denied = check_request(self.auth, self.world, req)
        if denied is not None:
            self.requests["unauthorized"] += 1
            return denied
        if not isinstance(target, api.Target):
            self.requests["wrong_project"] += 1
            return target
        self.requests[target.route] += 1
        if req.method != "GET":
            return replies.not_allowed(flavor, req.method)
        return api.handle(self.world, req, target)
