"""The one masking function for every secret the process holds, in every shape it takes in text.

A secret comes back from servers, proxies and gateways not only as itself: an echoing proxy quotes
``Proxy-Authorization: Basic base64(user:pass)``, a gateway puts a header in a JSON string (escaped),
an error page URL-encodes a query. ``SecretMask`` masks each secret of 8 characters or more in all of:

  - raw;
  - base64 (standard and URL-safe, at each of the three byte alignments it can have inside a longer
    encoded text, so ``base64(user:pass)`` is caught through the password as well as through the pair);
  - URL-encoded (``%XX`` and ``+`` for spaces, upper- and lower-case hex);
  - JSON-quoted (the escapes ``json.dumps`` writes, ASCII or not), once or twice (JSON in a JSON string).

A shorter secret would match inside ordinary words, so it is masked only as a whole value: a run of
text with no letter or digit on either side. Register ``user:pass`` pairs as secrets of their own.
Use ``mask_secrets(text, secrets)`` for one call, or a ``SecretMask`` kept while the secrets stand.
"""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from collections.abc import Iterable

MASK = "***"
MIN_ANYWHERE = 8  # secrets at least this long are masked wherever they appear; shorter ones as whole values
_B64_ALPHABET = str.maketrans("+/", "-_")


def _base64_forms(data: bytes) -> set[str]:
    """The base64 text that only ``data`` decides, at each alignment it can have in a longer encoding."""
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data + b"\0\0").decode()
        # character i carries bits 6i..6i+5 of the stream: keep those wholly inside data's bits
        first = -(-8 * offset // 6)
        last = (8 * (offset + len(data))) // 6  # exclusive
        core = encoded[first:last]
        if len(core) >= MIN_ANYWHERE:
            forms |= {core, core.translate(_B64_ALPHABET)}
    return forms


def secret_forms(secret: str) -> set[str]:
    """Every text a secret of at least ``MIN_ANYWHERE`` characters may appear as (empty for a shorter one)."""
    if len(secret) < MIN_ANYWHERE:
        return set()
    quoted = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    # and quoted twice: a JSON document carried in a JSON string (a gateway's message)
    twice = {json.dumps(q, ensure_ascii=plain)[1:-1] for q in quoted for plain in (True, False)}
    forms = {secret, *quoted, *twice}
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)):
        forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), encoded)}
    forms |= _base64_forms(secret.encode())
    return forms


class SecretMask:
    """Masks a fixed set of secrets in text, every shape of each, in one pass of one regular expression."""

    def __init__(self, secrets: Iterable[str]) -> None:
        held = {s for s in secrets if s}
        forms = set().union(*(secret_forms(s) for s in held)) if held else set()
        # the longest first: a form that contains another must win the alternation
        anywhere = [re.escape(f) for f in sorted(forms, key=len, reverse=True)]
        whole = [
            rf"(?<![^\W_]){re.escape(s)}(?![^\W_])"
            for s in sorted(held, key=len, reverse=True)
            if len(s) < MIN_ANYWHERE
        ]
        parts = anywhere + whole
        self._pattern = re.compile("|".join(parts)) if parts else None

    def __call__(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``MASK``."""
        return text if self._pattern is None else self._pattern.sub(MASK, text)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret in ``secrets`` masked in every shape (see the module's docstring)."""
    return SecretMask(secrets)(text)
