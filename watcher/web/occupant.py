"""Who holds a busy metrics address: another dli-watcher, some other HTTP server, or a program that is neither.

Asked once, when binding failed, so the one line the process exits with tells the operator what to stop.
"""

from __future__ import annotations

import http.client
import ssl
from contextlib import closing

from watcher.web.httpwire import SERVER

TIMEOUT_SECONDS = 2.0


def _ask(scheme: str, host: str, port: int, path: str) -> tuple[int, str, bytes] | None:
    """(status, Server header, start of body) of a GET, or None when no HTTP answer came."""
    conn: http.client.HTTPConnection
    if scheme == "https":
        # only to recognise the program: nothing secret is sent, so its certificate does not matter
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    try:
        with closing(conn):
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Server") or "", resp.read(4096)
    except (OSError, http.client.HTTPException):
        return None


def _is_watcher(answer: tuple[int, str, bytes]) -> bool:
    # this version names itself in every answer; older ones only on the landing page
    return answer[1].startswith(SERVER) or b"<title>dli-watcher" in answer[2]


def describe(host: str, port: int) -> str:
    """What seems to listen on ``host:port``, as the end of a sentence."""
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104 - a name, not a bind
    for scheme in ("http", "https"):
        health = _ask(scheme, target, port, "/healthz")
        if health is None:
            continue
        landing = _ask(scheme, target, port, "/")
        if _is_watcher(health) or (landing is not None and _is_watcher(landing)):
            return "another dli-watcher seems to listen there (stop it, or give this one another metrics.listen)"
        return f"another program listens there (GET /healthz over {scheme} answered {health[0]})"
    return "another program holds it (it does not answer HTTP)"
