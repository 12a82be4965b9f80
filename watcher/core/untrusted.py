"""Text from the network made safe to keep and print: valid Unicode, bounded, with our secrets masked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from watcher.core.secrets import SecretMask

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MAX_MESSAGE = 200
MASK = "***"
# json.loads turns a lone "\ud83d" escape into a lone surrogate, which no UTF-8 writer (stdout, SQLite) accepts
_SURROGATE = re.compile("[\ud800-\udfff]")
# a gateway that echoes request headers echoes our credentials with them
_SECRET_HEADER = re.compile(
    r"""(?i)\b(x-auth-token|x-subject-token|x-security-token|proxy-authorization|authorization|cookie)"""
    r"""(["']?\s*[:=]\s*\[?\s*["']?)[^\s"',;\[\]]+(?:[ \t]+[^\s"',;\[\]]+)?"""
)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def valid_unicode(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the same string when there is none)."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


class Scrubber:
    """Masks the client's own secrets in server-supplied text and bounds its length.

    ``secrets`` are fixed (config credentials, proxy ``user:pass``); ``dynamic`` yields ones obtained
    while running (IAM tokens). Each is masked in every shape ``secrets.SecretMask`` knows (raw, base64,
    URL-encoded, JSON-quoted); one under 8 characters only as a whole value. ``mask`` alone does that
    without bounding the length, for text that is not one line (a page, a report).
    """

    def __init__(self, secrets: Iterable[str] = (), dynamic: Callable[[], Iterable[str]] | None = None) -> None:
        self._secrets = tuple(s for s in secrets if s)
        self._dynamic = dynamic
        self._mask = SecretMask(self._secrets)
        self._for: tuple[str, ...] = ()  # the dynamic secrets ``_mask`` was built with

    def _all(self) -> list[str]:
        extra = self._dynamic() if self._dynamic is not None else ()
        return [*self._secrets, *(s for s in extra if s)]

    def mask(self, text: str) -> str:
        """``text`` with every shape of every secret held now masked (a new IAM token included)."""
        current = tuple(self._all())
        if current[len(self._secrets) :] != self._for:
            self._mask, self._for = SecretMask(current), current[len(self._secrets) :]
        return self._mask(text)

    def __call__(self, text: str, limit: int = MAX_MESSAGE) -> str:
        """One line of at most ``limit`` characters with secrets and secret-bearing headers masked."""
        secrets = self._all()
        # mask before cutting, and keep enough that a secret straddling the limit is still masked whole
        text = text[: limit + max((len(s) for s in secrets), default=0) + 64]
        text = _SECRET_HEADER.sub(lambda m: m.group(1) + m.group(2) + MASK, valid_unicode(text))
        text = self.mask(text)
        text = _CONTROLS.sub(" ", text).strip()
        return text if len(text) <= limit else text[: limit - 1] + "\u2026"


NO_SECRETS = Scrubber()
