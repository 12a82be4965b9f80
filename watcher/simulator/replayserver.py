"""``simulate --replay FILE``: a recording served over HTTP, per path in the order it was recorded.

Past the recording the last answer per path repeats; a path the recording never saw gets 404. A
request that failed without an answer (timeout, refused connection) is answered 503, which every
client retries as it would have the failure. Clock readings are the offline replay's business only.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING
from urllib.parse import unquote

from watcher.core.recordformat import Exchange
from watcher.simulator.wire import Request, Response, json_response

if TYPE_CHECKING:
    from watcher.core.recordformat import Clock

_NOT_SERVED = frozenset({"content-type", "content-length", "content-encoding"})
REPLAY_TOKEN = "replay-token"  # noqa: S105 - what an IAM login gets from a replay: no real token exists


class ReplayApp:
    """The handler: the next recorded answer for the request's method and path."""

    def __init__(self, items: list[Exchange | Clock]) -> None:
        self._answers: dict[tuple[str, str], list[Exchange]] = defaultdict(list)
        for item in items:
            if isinstance(item, Exchange):
                self._answers[item.method, unquote(item.path)].append(item)
        self._served: dict[tuple[str, str], int] = defaultdict(int)
        self.requests = 0

    def __call__(self, req: Request) -> Response:
        """The recorded answer, the last one again past the end, or 404."""
        self.requests += 1
        key = (req.method, unquote(req.path))
        answers = self._answers.get(key)
        if not answers:
            return json_response(404, {"error_code": "DLI.0002", "error_msg": "not in the recording"})
        n = self._served[key]
        self._served[key] = n + 1
        return _response(answers[min(n, len(answers) - 1)])


def _response(ex: Exchange) -> Response:
    if ex.error is not None:
        return json_response(503, {"error_code": "APIG.0201", "error_msg": f"recorded {ex.error[0]} failure"})
    headers = tuple((k, v) for k, v in ex.headers if k.lower() not in _NOT_SERVED and _latin1(v))
    if ex.iam:
        return Response(ex.status, b"{}", (("X-Subject-Token", REPLAY_TOKEN),))
    kind = next((v for k, v in ex.headers if k.lower() == "content-type" and _latin1(v)), "application/json")
    return Response(ex.status, ex.body, headers, content_type=kind)


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
