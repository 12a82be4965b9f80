"""Error responses shaped like DLI, Livy, the API gateway (APIG) and IAM send them."""

from __future__ import annotations

import uuid

from watcher.simulator.wire import Response, json_response

THROTTLE_MSG = "The throttling threshold has been reached: policy user over ratelimit, limit:10, time:1 second"
_STATUS_CODES = {500: "DLI.0999", 502: "APIG.0202", 503: "APIG.0201", 504: "APIG.0201"}


def dli_error(status: int, code: str, message: str) -> Response:
    """Build a DLI-shaped error."""
    return json_response(status, {"error_code": code, "error_msg": message})


def livy_error(status: int, message: str) -> Response:
    """Build a Livy-shaped error."""
    return json_response(status, {"msg": message})


def apig_error(status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """Build an API-gateway error: DLI shape plus ``request_id``, with ``X-Request-Id``."""
    request_id = uuid.uuid4().hex
    body = {"error_code": code, "error_msg": message, "request_id": request_id}
    return json_response(status, body, (("X-Request-Id", request_id), *headers))


def not_found(flavor: str, batch_id: str) -> Response:
    """Answer for an unknown batch: DLI 400 DLI.0002, Livy 404."""
    if flavor == "dli":
        return dli_error(400, "DLI.0002", f"The batch {batch_id} does not exist.")
    return livy_error(404, f"Session '{batch_id}' not found.")


def wrong_project(project_id: str) -> Response:
    """Answer a DLI request for a project this simulator does not serve."""
    return dli_error(404, "DLI.0023", f"No related resources were found: project {project_id} is unknown.")


def no_route(flavor: str, method: str, path: str) -> Response:
    """Answer a path that is not part of the API."""
    if flavor == "dli":
        return dli_error(404, "DLI.0023", f"No related resources were found: {method} {path}.")
    return livy_error(404, f'Requesting "{method} {path}" on a path the server does not have.')


def not_allowed(flavor: str, method: str) -> Response:
    """Answer a method the read-only simulator does not serve."""
    if flavor == "dli":
        return dli_error(405, "DLI.0007", f"The operation {method} is not supported.")
    return livy_error(405, f"Method {method} is not supported.")


def bad_parameter(flavor: str, message: str) -> Response:
    """Answer a query parameter that does not parse."""
    if flavor == "dli":
        return dli_error(400, "DLI.0001", f"Parameter check error: {message}")
    return livy_error(400, message)


def log_unavailable(flavor: str, batch_id: str) -> Response:
    """Answer ``/log`` when it is switched off: DLI 400 DLI.0007, Livy 404."""
    if flavor == "dli":
        return dli_error(400, "DLI.0007", f"The operation is not supported: logs of batch {batch_id}.")
    return livy_error(404, f"Logs of session '{batch_id}' are not available.")


def server_error(flavor: str, status: int, code: str | None = None, message: str | None = None) -> Response:
    """Build a 5xx (or any status) with a body of the flavour's shape."""
    text = message or f"Simulated server error (HTTP {status})."
    if flavor == "livy":
        return livy_error(status, text)
    return dli_error(status, code or _STATUS_CODES.get(status, "DLI.0999"), text)


def throttled(retry_after: float | None, status: int = 429, message: str = THROTTLE_MSG) -> Response:
    """APIG.0308 throttling, with ``Retry-After`` when given."""
    headers = () if retry_after is None else (("Retry-After", f"{retry_after:g}"),)
    return apig_error(status, "APIG.0308", message, headers)


def unauthorized(detail: str) -> Response:
    """APIG.0301: missing or wrong credentials."""
    return apig_error(401, "APIG.0301", f"Incorrect IAM authentication information: {detail}")


def signature_expired() -> Response:
    """APIG.0303: ``X-Sdk-Date`` more than 15 minutes from server time."""
    return apig_error(401, "APIG.0303", "Incorrect app authentication information: signature expired")


def iam_error(status: int, message: str) -> Response:
    """Build an IAM (Keystone-style) error."""
    title = "Unauthorized" if status == 401 else "Bad Request"
    return json_response(status, {"error": {"code": status, "message": message, "title": title}})
