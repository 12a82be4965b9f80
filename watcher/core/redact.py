"""Redaction of secrets that could ride along in API data (``req_body``: Spark conf, args, Java options, URLs).

Secrets hide in these shapes, and each is masked wherever it appears:
  - a value under a secret-looking key: ``{"spark.hadoop.fs.s3a.secret.key": "..."}``, ``fs.obs.sk``;
  - a ``name=value`` pair inside a string with a secret-looking name: ``-Ddb.Password=...``,
    ``--conf spark.x.token=...``, ``--password=...``, URL-encoded ``password%3D...``;
  - the element after a secret-looking flag in a list: ``["--db-password", "..."]``, ``["-p", "..."]``,
    and the word after one inside a string: ``"--password ..."``;
  - an HTTP credential inside a string: ``Bearer ...``, ``Basic <base64>``;
  - credentials in a URL: ``jdbc:postgresql://user:...@host/db`` (the password may hold ``@``);
  - JSON inside a string (a conf value holding a JSON document): parsed and redacted as above.
Every name Spark's own default ``spark.redaction.regex`` (``(?i)secret|password|token|access[.]key``)
matches is a secret-looking name here too.
"""

from __future__ import annotations

import json
import re
from typing import Any

# names that hold secrets: spark.*.secret.key, db.password, *.pwd, passwd, api token, credentials...
_SECRETISH = (
    r"secret|passw(?:or)?d|pwd|passphrase|token|credential|private|api[._-]?key|access[._-]?key|key"
    r"|(?<![^\W_])[as]k(?![^\W_])"  # OBS's fs.obs.ak / fs.obs.sk
)
SECRET_KEY_RE = re.compile(_SECRETISH, re.IGNORECASE)
REDACTED = "***"

# Each pattern starts only where a run of its characters starts and never backtracks into a run
# (possessive quantifiers): a 64 KiB base64 argument costs one pass, not a quadratic search that would
# hold the event loop for minutes. Whether a name is secret is decided afterwards, on the name alone.

# name=value inside a string; the name may carry -D, --, dots and dashes; the value runs to whitespace
# (or to a closing quote when quoted)
_PAIR_RE = re.compile(
    r"(?<![\w.\-])(?P<name>[\w.\-]++)(?P<sep>\s*+(?:[=:]|%3[dD])\s*+)(?!//)"
    r"(?P<value>\"[^\"]*+\"|'[^']*+'|[^\s,;&\"']++)"
)
# scheme://user:password@host: the password part, never the user or host; the part before the last @
# of the run is the password (one may hold @), which the replacement finds without backtracking
_URL_AUTH_RE = re.compile(
    r"(?<![a-z0-9+.\-])(?P<head>[a-z][a-z0-9+.\-]*+://[^\s/:@]*+:)(?P<rest>[^\s/]++)", re.IGNORECASE
)
# a secret-looking flag and the word after it, inside a string: "--password hunter2", "-p hunter2"
_FLAG_WORD_RE = re.compile(r"(?<!\S)(?P<flag>-{1,2}[\w.\-]++)(?P<sep>[ \t]++)(?P<value>[^\s\-][^\s]*+)")
# an HTTP credential inside a string
_HTTP_AUTH_RE = re.compile(r"(?i)(?<![\w])(?P<scheme>bearer|basic)(?P<sep>[ \t]++)(?P<value>[\w.~+/=\-]++)")
# short flags that announce a password (mysql, beeline, sqlcmd -p)
_SECRET_SHORT_FLAGS = frozenset({"-p"})
# a command-line flag (a secret-looking one announces a secret as the next argument)
_FLAG_RE = re.compile(r"-{1,2}[\w.\-]++")


def _inner_pair(match: re.Match[str]) -> str:
    if not SECRET_KEY_RE.search(match["name"]):
        return match[0]
    return match["name"] + match["sep"] + REDACTED


def _pair(match: re.Match[str]) -> str:
    if SECRET_KEY_RE.search(match["name"]):
        return match["name"] + match["sep"] + REDACTED
    # a plain name's value may hold a pair of its own (url=https://h/?password=...): one more level,
    # not a recursion, so a run of "a=a=a=..." stays two linear passes
    return match["name"] + match["sep"] + _PAIR_RE.sub(_inner_pair, match["value"])


def _url_auth(match: re.Match[str]) -> str:
    _, at, after = match["rest"].rpartition("@")
    return match["head"] + REDACTED + at + after if at else match[0]


def _flag_word(match: re.Match[str]) -> str:
    return match["flag"] + match["sep"] + REDACTED if _announces_secret(match["flag"]) else match[0]


def redact_text(text: str) -> str:
    """A string with secret ``name=value`` values, flagged words, HTTP credentials, URL passwords and JSON masked."""
    inner = _json_inside(text)
    if inner is not None:
        return inner
    text = _URL_AUTH_RE.sub(_url_auth, text)
    text = _HTTP_AUTH_RE.sub(lambda m: m["scheme"] + m["sep"] + REDACTED, text)
    text = _FLAG_WORD_RE.sub(_flag_word, text)
    return _PAIR_RE.sub(_pair, text)


def _json_inside(text: str) -> str | None:
    """A string that is itself a JSON object or list, redacted as one and written back; None for any other."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return json.dumps(redact(parsed)) if isinstance(parsed, dict | list) else None


def _announces_secret(item: str) -> bool:
    if item in _SECRET_SHORT_FLAGS:
        return True
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
