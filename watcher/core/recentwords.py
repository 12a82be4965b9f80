"""The preset dictionary the status page's ring compresses each batch's entries with: what entries repeat.

Raw deflate finds a run of an entry in this dictionary as it would in an earlier entry, so what every
batch repeats (event names and levels, field names in the tracker's order, states, failure reasons,
common error codes and words) costs a few bytes, not its length, even in a batch's only entry. The
ring lives in one process's memory only (never persisted, sent or compared across runs), so changing
these words changes nothing but the bytes a batch takes. Deflate writes a nearer match in fewer bits:
the most common text comes last.
"""

from __future__ import annotations

from typing import Final

RS, US = "\x1e", "\x1f"


def _entry(name: str, level: str, fields: str) -> str:
    """How an entry starts in the ring's text: its name, level and the JSON of its fields up to the first value."""
    return f"{RS}{name}{US}{level}{US}{fields}"


# the servers' words (DLI, APIG, IAM, HTTP reason phrases) and the watcher's own for a failed poll
_FAILURES = (
    "Internal Server Error",
    "Bad Gateway",
    "Gateway Timeout",
    "Too Many Requests",
    "Unauthorized",
    "Forbidden",
    "Not Found",
    "malformed or broken HTTP response from ",
    "transport error (",
    "proxy answered ",
    " to CONNECT",
    "TLS handshake failed: ",
    "certificate verify failed: ",
    "name not resolved",
    "Connection refused",
    "connection failed (",
    "cannot connect to ",
    " via proxy ",
    "Incorrect IAM authentication information: ",
    "Incorrect app authentication information: signature expired",
    "The throttling threshold has been reached: policy user over ratelimit, limit:",
    ", time:1 minute",
    "There is no queue named ",
    "No related resources were found: ",
    "Parameter check error: ",
    "The batch ",
    " does not exist.",
    "request to ",
    ".myhuaweicloud.com",
    " timed out (ReadTimeout)",
    " timed out (ConnectTimeout)",
    "API request error.",
    "Request entity too large.",
    "HTTP 50",
    "Service Unavailable",
    "APIG.0203",
    "Backend timeout.",
    "APIG.0202",
    "Backend unavailable.",
)

# each kept batch event as the tracker writes its fields, the rarer first
_ENTRIES = (
    _entry("batch.log_unavailable", "warning", '{"failed_reads":'),
    _entry("batch.field_repaired", "warning", '{"field":"update_time","problem":"'),
    _entry("batch.unknown_state", "warning", '{"state":"'),
    _entry("batch.gone", "warning", '{"last_state":"running"}'),
    _entry("batch.not_found", "warning", '{"status_code":400,"error_code":"DLI.0002","error_message":"'),
    _entry("batch.changed", "info", '{"changes":{"spark_version":{"old":'),
    _entry("batch.changed", "info", '{"changes":{"appId":{"old":null,"new":"application_'),
    _entry("batch.outcome", "warning", '{"state":"dead","outcome":"failed","duration_seconds":'),
    ',"recovered":false}',
    _entry("batch.outcome", "info", '{"state":"success","outcome":"succeeded","duration_seconds":'),
    ',"recovered":true}',
    _entry("batch.log_gap", "warning", '{"stream":"stderr","missed_lines":'),
    _entry("batch.log_gap", "warning", '{"stream":"stdout","missed_lines":null}'),
    _entry("batch.poll_failed", "warning", '{"reason":"throttled","status_code":429,"error_code":"APIG.0308"'),
    _entry("batch.poll_failed", "warning", '{"reason":"connect","status_code":null,"error_code":null'),
    _entry("batch.poll_failed", "warning", '{"reason":"timeout","status_code":null,"error_code":null'),
    _entry("batch.poll_failed", "warning", '{"reason":"http","status_code":50'),
    ',"error_code":"APIG.020',
    ',"error_message":"',
    '","attempts":3}',
    _entry("batch.poll_recovered", "info", '{"failed_seconds":'),
    _entry("batch.finished", "warning", '{"state":"dead","outcome":"failed","duration_seconds":'),
    ',"final":false}',
    _entry("batch.finished", "info", '{"state":"success","outcome":"succeeded","duration_seconds":'),
    ',"final":true}',
    _entry("batch.discovered", "info", '{"state":"running","owner":null,"create_time":"20'),
    _entry("batch.discovered", "info", '{"state":"starting","owner":"'),
    '","create_time":"20',
    '","update_time":"20',
    _entry("batch.state_changed", "info", '{"from_state":"running","to_state":"dead","update_time":"20'),
    _entry("batch.state_changed", "info", '{"from_state":"running","to_state":"success","update_time":"20'),
    _entry("batch.state_changed", "info", '{"from_state":"starting","to_state":"running","update_time":"20'),
    'Z","previous_state_seconds":',
)

WORDS: Final = "".join((*_FAILURES, *_ENTRIES)).encode()
