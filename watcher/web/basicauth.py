"""HTTP basic auth against bcrypt hashes, as Prometheus exporters do it, without paying bcrypt on every scrape.

A bcrypt check costs ~70 ms at cost 10, by design. A password that passed is remembered per user
(as an HMAC under a key of this process, compared in constant time), so a scraper's repeated
scrapes pay it once. A wrong password is never remembered: every guess pays the full bcrypt,
one at a time, so the cache gives brute force nothing.

Every check costs the same bcrypt work, 2**M for the highest cost M in the file, whoever the user:
an unknown user is checked against a decoy hash of cost M, a user whose hash costs c < M against
that hash and then decoys of costs c, c+1, ..., M-1 (2**c + 2**c + ... + 2**(M-1) = 2**M), so
timing tells neither which users exist nor whose hash is cheap. The decoys are made once per process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
from typing import TYPE_CHECKING

import bcrypt

if TYPE_CHECKING:
    from collections.abc import Mapping

# $2a$, $2b$ or $2y$ (htpasswd -B), a two-digit cost, 22 characters of salt and 31 of hash
BCRYPT_HASH = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
CHALLENGE = ("WWW-Authenticate", 'Basic realm="dli-watcher", charset="UTF-8"')
# 2**15 rounds take over 2 s a check: a wrong password would hold the check queue for that long
MAX_COST = 14
_DECOYS: dict[int, bytes] = {}  # cost -> a hash of a random password, made once per process
_DECOYS_LOCK = threading.Lock()


def hash_cost(hashed: str) -> int | None:
    """The cost of a bcrypt hash, or None when it is not one."""
    match = BCRYPT_HASH.match(hashed)
    return int(match.group(1)) if match and 4 <= int(match.group(1)) <= 31 else None


def credentials(authorization: str) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic ...`` header; None when absent or malformed."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def decoy(cost: int) -> bytes:
    """A bcrypt hash of a random password at ``cost``, the same one for the life of the process."""
    with _DECOYS_LOCK:
        if cost not in _DECOYS:
            _DECOYS[cost] = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(cost))
        return _DECOYS[cost]


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # longer than bcrypt's 72 bytes: no hash of ours can match it
        return False


class BasicAuth:
    """The users of a web config file and their bcrypt hashes; ``verify`` is slow, ``remembered`` is not."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = {name: hashed.encode() for name, hashed in users.items()}
        self._key = secrets.token_bytes(32)
        self._passed: dict[str, bytes] = {}
        self._one_at_a_time = threading.Lock()  # bcrypt is CPU by design: never several at once
        self._top = max((hash_cost(h) or 10 for h in users.values()), default=10)
        # the padding each user's check gets, so that every check costs 2**top; made here, not on a request
        self._padding = {
            name: [decoy(c) for c in range(hash_cost(h) or self._top, self._top)] for name, h in users.items()
        }
        self._decoy = decoy(self._top)

    def _mark(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode(), hashlib.sha256).digest()

    def remembered(self, user: str, password: str) -> bool:
        """Whether this exact password already passed for this user (cheap: for the event loop)."""
        passed = self._passed.get(user)
        return passed is not None and hmac.compare_digest(passed, self._mark(password))

    def verify(self, user: str, password: str) -> bool:
        """Whether the password is the user's, by bcrypt unless it passed before (slow: for a worker thread)."""
        if self.remembered(user, password):
            return True
        hashed = self._users.get(user, self._decoy)
        given = password.encode()
        with self._one_at_a_time:
            ok = _checkpw(given, hashed)
            for padding in self._padding.get(user, ()):
                _checkpw(given, padding)
        if ok and user in self._users:
            self._passed[user] = self._mark(password)
            return True
        return False
