"""What looks like a secret in text a user is about to attach: known key shapes, tokens, pairs, long base64.

Findings name the kind and show only the first characters, so the report does not leak what it found.
UUIDs, hexadecimal IDs (project IDs, hashes) and masked values (``***``) are not findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("AWS access key", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("IAM token", re.compile(r"MII[A-Za-z0-9+/=_-]{60,}")),
    ("JWT", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    ("AK/SK signature", re.compile(r"SDK-HMAC-SHA256\s+Access=[^\s,\"]+")),
    ("authorization", re.compile(r"(?i)\b(?:bearer|basic)\s+(?!\*\*\*)[A-Za-z0-9+/=._~-]{8,}")),
    ("URL password", re.compile(r"://[^/\s:@\"]+:(?!\*\*\*@)[^/\s@\"]+@")),
    (
        "password-like pair",
        re.compile(
            r"(?i)(?<![A-Za-z0-9])(?:password|passwd|pwd|pass|secret|secret[._-]?key|access[._-]?key|sk|ak|token"
            r"|api[._-]?key|apikey|credentials?|auth[._-]?token|security[._-]?token)"
            r"(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?(?!\*\*\*)([^\s\"'\\&,;}{\]]{4,})"
        ),
    ),
    (
        "Huawei Cloud access key",
        re.compile(r"(?<![A-Za-z0-9])(?=[A-Z0-9]*[0-9])(?=[A-Z0-9]*[A-Z])[A-Z0-9]{20}(?![A-Za-z0-9])"),
    ),
)
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MIN_BASE64 = 32
PATH_SLASHES = 16
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that looks like a secret: where, what kind, and its first characters."""

    line: int
    kind: str
    start: str


def scan(text: str, line: int) -> list[Finding]:
    """Everything in one line of text that looks like a secret."""
    found = [Finding(line, kind, _start(m[0])) for kind, shape in _SHAPES for m in shape.finditer(text)]
    for m in _BASE64.finditer(text):
        value = m[0].rstrip("=")
        if _looks_random(value) and not any(f.start == _start(m[0]) for f in found):
            found.append(Finding(line, "base64 of 32+ characters", _start(value)))
    return found


def _looks_random(value: str) -> bool:
    """Base64 of random bytes mixes cases and digits; IDs, hex and words of a path do not."""
    if value.count("/") * PATH_SLASHES > len(value):
        return False  # a path: random base64 has a "/" in 64 characters, a path one in a segment's length
    stripped = _UUID.sub("", value)
    if len(stripped) < MIN_BASE64 or _HEX.fullmatch(stripped) or "***" in value:
        return False
    return any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)


def _start(value: str) -> str:
    return value[:6] + "..."
