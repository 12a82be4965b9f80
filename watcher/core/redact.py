"""Redaction of secrets that could ride along in API data (``req_body``: Spark conf, args, Java options, URLs).

Secrets hide in four shapes, and each is masked wherever it appears:
  - a value under a secret-looking key: ``{"spark.hadoop.fs.s3a.secret.key": "..."}``;
  - a ``name=value`` pair inside a string with a secret-looking name: ``-Ddb.Password=...``,
    ``--conf spark.x.token=...``, ``--password=...``;
  - the element after a secret-looking flag in a list: ``["--db-password", "..."]``;
  - credentials in a URL: ``jdbc:postgresql://user:...@host/db``, ``s3a://AK:SK@bucket``.
"""

from __future__ import annotations

import json
import re
from typing import Any

# names that hold secrets: spark.*.secret.key, db.password, *.pwd, passwd, api token, credentials...
_SECRETISH = r"secret|passw(?:or)?d|pwd|passphrase|token|credential|private|api[._-]?key|access[._-]?key|key"
SECRET_KEY_RE = re.compile(_SECRETISH, re.IGNORECASE)
REDACTED = "***"

# Each pattern starts only where a run of its characters starts and never backtracks into a run
# (possessive quantifiers): a 64 KiB base64 argument costs one pass, not a quadratic search that would
# hold the event loop for minutes. Whether a name is secret is decided afterwards, on the name alone.

# name=value inside a string; the name may carry -D, --, dots and dashes; the value runs to whitespace
# (or to a closing quote when quoted)
_PAIR_RE = re.compile(
    r"(?<![\w.\-])(?P<name>[\w.\-]++)(?P<sep>\s*+[=:]\s*+)(?P<value>\"[^\"]*+\"|'[^']*+'|[^\s,;&\"']++)"
)
# scheme://user:password@host: the password part, never the user or host
_URL_AUTH_RE = re.compile(
    r"(?<![a-z0-9+.\-])(?P<head>[a-z][a-z0-9+.\-]*+://[^\s/:@]*+:)(?P<password>[^\s/@]++)(?P<at>@)", re.IGNORECASE
)
# a command-line flag (a secret-looking one announces a secret as the next argument)
_FLAG_RE = re.compile(r"-{1,2}[\w.\-]++")


def _pair(match: re.Match[str]) -> str:
    if not SECRET_KEY_RE.search(match["name"]):
        return match[0]
    return match["name"] + match["sep"] + REDACTED


def redact_text(text: str) -> str:
    """A string with secret ``name=value`` values and URL passwords masked."""
    text = _URL_AUTH_RE.sub(lambda m: m["head"] + REDACTED + m["at"], text)
    return _PAIR_RE.sub(_pair, text)


def _announces_secret(item: str) -> bool:
    return bool(_FLAG_RE.fullmatch(item)) and bool(SECRET_KEY_RE.search(item))


def _redact_list(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    hide_next = False
    for item in items:
        if hide_next and isinstance(item, str):
            out.append(REDACTED)
        else:
            out.append(redact(item))
        hide_next = isinstance(item, str) and _announces_secret(item)
    return out


def redact(value: Any) -> Any:
    """``value`` (parsed JSON) with every secret masked, by key, by flag, inside strings and in URLs."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY_RE.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return _redact_list(value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_req_body(text: str) -> Any:
    """The original request as an object with its secrets masked; unparseable text is dropped."""
    try:
        body = json.loads(text)
    except ValueError:
        return REDACTED
    return redact(body)
