"""Redaction of secrets that could ride along in API data (``req_body`` conf values)."""

from __future__ import annotations

import json
import re
from typing import Any

SECRET_KEY_RE = re.compile(r"secret|password|passwd|token|key|credential", re.IGNORECASE)
REDACTED = "***"


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY_RE.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def redact_req_body(text: str) -> Any:
    """The original request as an object with secret-looking keys masked; unparseable text is dropped."""
    try:
        body = json.loads(text)
    except ValueError:
        return REDACTED
    return _redact(body)
